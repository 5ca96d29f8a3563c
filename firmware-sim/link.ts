/**
 * The station's MQTT link: one MQTT.js client at a time with the station's
 * own credentials and a retained "offline" will. Reconnects are ours, not
 * MQTT.js's (`reconnectPeriod: 0`), with full-jitter exponential backoff
 * (backoff.ts). Broker errors (refused connection, bad password, keepalive
 * timeout) are logged and counted, never thrown.
 */
import { connect as mqttConnect, type IClientOptions, type IClientPublishOptions, type MqttClient } from 'mqtt'
import type { Logger } from '../core/log.ts'
import { STATUS_OFFLINE } from '../core/protocol.ts'
import { fullJitterDelay, type BackoffOptions } from './backoff.ts'
import type { Clock, TimerHandle } from './clock.ts'
import type { Rng } from './prng.ts'

/** CONNACK return codes 4 and 5 (MQTT 3.1.1 §3.2.2.3): bad credentials / not authorized. */
const AUTH_REFUSED = new Set([4, 5])
const STOP_TIMEOUT_MS = 5_000

/** One MQTT.js client, from connect to close; never reused. */
export class Connection {
  closed = false
  up = false
  /** Retained "online" sent on this connection. */
  announced = false
  /** The outbox pump running on this connection, if any. */
  pumping: Promise<void> | undefined
  /** Rejects when the connection closes, so an await on a publish never outlives it. */
  private readonly whenClosed: Promise<never>
  private rejectClosed: (err: Error) => void = () => {}

  constructor(readonly client: MqttClient) {
    this.whenClosed = new Promise<never>((_, reject) => {
      this.rejectClosed = reject
    })
    this.whenClosed.catch(() => {}) // observed by races only
  }

  /** A QoS publish that resolves on its PUBACK and rejects if the connection closes first. */
  publish(topic: string, payload: string | Buffer, opts: IClientPublishOptions): Promise<unknown> {
    return Promise.race([this.client.publishAsync(topic, payload, opts), this.whenClosed])
  }

  markClosed(): void {
    this.rejectClosed(new Error('connection closed'))
  }
}

export interface LinkOptions {
  readonly id: string
  readonly secret: string
  /** mqtt://host:port or mqtts://host:port. */
  readonly brokerUrl: string
  readonly statusTopic: string
  /** Subscribed after every connect (clean session). */
  readonly feedbackTopic: string
  readonly ca?: string | Buffer
  readonly servername?: string
  readonly connectTimeoutMs?: number
  readonly keepaliveSec?: number
  readonly backoff?: BackoffOptions
  /** The station's own draw for backoff jitter, so a simulated fleet is reproducible. */
  readonly backoffRng: Rng
  readonly clock: Clock
  readonly log: Logger
  /** Readings waiting, for the log lines. */
  readonly backlog: () => number
  /** The connection is up and subscribed: start sending. */
  readonly onUp: (conn: Connection) => void
  readonly onMessage: (topic: string, payload: Buffer) => void
}

export class StationLink {
  current: Connection | undefined
  stopping = false
  private reconnectTimer: TimerHandle | undefined
  private attempt = 0
  readonly counters = { connects: 0, connectFailures: 0, authFailures: 0 }

  constructor(private readonly options: LinkOptions) {}

  connected(): boolean {
    return this.current?.up ?? false
  }

  connect(): void {
    this.reconnectTimer = undefined
    if (this.stopping) return
    const { options } = this
    const { log } = options
    const mqttOptions: IClientOptions = {
      clientId: `station-${options.id}`,
      username: options.id,
      password: options.secret,
      protocolVersion: 4, // Aedes speaks MQTT 3.1.1 only
      clean: true,
      reconnectPeriod: 0, // we reconnect ourselves, with backoff and jitter
      connectTimeout: options.connectTimeoutMs ?? 30_000,
      keepalive: options.keepaliveSec ?? 60,
      will: { topic: options.statusTopic, payload: Buffer.from(STATUS_OFFLINE), qos: 1, retain: true },
      ...(options.ca !== undefined ? { ca: options.ca } : {}),
      ...(options.servername !== undefined ? { servername: options.servername } : {}),
    }
    const client = mqttConnect(options.brokerUrl, mqttOptions)
    const conn = new Connection(client)
    this.current = conn

    client.on('connect', () => {
      if (conn.closed) return
      conn.up = true
      this.attempt = 0
      this.counters.connects++
      log.info({ backlog: options.backlog() }, 'connected')
      // Clean session: the subscription is gone after every reconnect. The
      // SUBSCRIBE goes out before the first PUBLISH, and the pump does not
      // wait for its SUBACK: feedback is advice, never a reason to hold data.
      client.subscribe(options.feedbackTopic, { qos: 1 }, (err, granted) => {
        if (err || granted?.some((g) => g.qos === 128)) log.warn({ err, granted }, 'feedback subscription refused')
      })
      options.onUp(conn)
    })
    client.on('message', (topic, payload) => options.onMessage(topic, payload))
    client.on('error', (err: Error & { code?: unknown }) => {
      if (typeof err.code === 'number' && AUTH_REFUSED.has(err.code)) {
        this.counters.authFailures++
        log.error({ err, code: err.code }, 'broker refused credentials')
      } else {
        log.warn({ err }, 'mqtt error')
      }
    })
    client.on('close', () => this.onClose(conn))
  }

  /** A publish failed on a connection that still looks open: drop it and let the reconnect path start clean. */
  fail(conn: Connection): void {
    conn.client.end(true)
    this.onClose(conn)
  }

  /** No more reconnects. */
  halt(): void {
    this.stopping = true
    if (this.reconnectTimer !== undefined) this.options.clock.clearTimeout(this.reconnectTimer)
  }

  /** Says "offline" and disconnects cleanly; returns the last connection, closed. */
  async stop(): Promise<Connection | undefined> {
    this.halt()
    const conn = this.current
    if (!conn) return undefined
    if (conn.up) {
      try {
        // A clean DISCONNECT suppresses the will, so say "offline" ourselves.
        await withTimeout(conn.publish(this.options.statusTopic, STATUS_OFFLINE, { qos: 1, retain: true }), STOP_TIMEOUT_MS)
        await withTimeout(conn.client.endAsync(), STOP_TIMEOUT_MS)
      } catch (err) {
        this.options.log.warn({ err }, 'unclean stop')
      }
    }
    if (!conn.closed) this.fail(conn)
    return conn
  }

  private onClose(conn: Connection): void {
    if (conn.closed) return
    const { log } = this.options
    conn.closed = true
    conn.markClosed()
    if (this.current === conn) this.current = undefined
    // An intentional stop is routine; a dropped link is worth a warning.
    if (conn.up) log[this.stopping ? 'info' : 'warn']({ backlog: this.options.backlog() }, 'disconnected')
    else this.counters.connectFailures++
    conn.up = false
    // Force-end: with clean session and reconnectPeriod 0 this fails every
    // pending publish callback instead of leaving it hanging (MQTT.js _cleanUp).
    conn.client.end(true)
    if (this.stopping) return
    const delay = fullJitterDelay(this.attempt++, this.options.backoffRng, this.options.backoff)
    log.debug({ attempt: this.attempt, delayMs: delay }, 'reconnect scheduled')
    this.reconnectTimer = this.options.clock.setTimeout(() => this.connect(), delay)
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
