/**
 * The chaos load generator: many real MQTT station clients that behave like
 * the firmware (QoS 1, a bounded window of unacknowledged publishes, resend
 * of everything unacknowledged after a reconnect with the ORIGINAL device
 * timestamp, full-jitter exponential reconnect backoff) and keep a ledger of
 * every reading they published and every one that got a PUBACK. The ledger
 * is what the scenario compares with what InfluxDB holds.
 */
import mqtt, { type MqttClient } from 'mqtt'
import type { StationCreds } from './stations.ts'

export interface LoadOptions {
  /** Broker URL; a function so a scenario can point stations elsewhere (e.g. a proxy). */
  url: string | (() => string)
  stations: readonly StationCreds[]
  /** Readings per second per station. */
  ratePerStation: number
  /** Unacknowledged publishes per station on the wire. Default 10. */
  window?: number
  /** Reconnect backoff, ms: full jitter in [0, min(max, min·2^attempt)]. */
  backoff?: { minMs: number; maxMs: number }
  keepaliveSec?: number
}

export interface StationLedger {
  /** Device timestamps generated (each published at least once, or still queued). */
  readonly published: number[]
  /** Device timestamps that got a PUBACK. */
  readonly acked: Set<number>
}

export interface LoadSnapshot {
  generated: number
  acked: number
  /** Generated but not yet acknowledged (queued at the station or in flight). */
  pending: number
  /** Publish attempts beyond the first for a reading (re-sends after a lost PUBACK). */
  resends: number
  connected: number
  connects: number
  disconnects: number
}

interface StationState {
  creds: StationCreds
  ledger: StationLedger
  lastTs: number
  /** Not yet on the current connection, oldest first. */
  queue: number[]
  /** Sent on the current connection, waiting for PUBACK. */
  inflight: Set<number>
  sendCount: Map<number, number>
  conn: { client: MqttClient; up: boolean; dead: boolean } | undefined
  attempt: number
  reconnectTimer: NodeJS.Timeout | undefined
  sampleTimer: NodeJS.Timeout | undefined
}

export class LoadGenerator {
  private readonly states: StationState[]
  private readonly window: number
  private running = false
  private generating = false
  private readonly counters = { connects: 0, disconnects: 0, resends: 0 }
  /** Largest number of pending readings seen at once (the backpressure gauge). */
  maxPending = 0

  constructor(private readonly opts: LoadOptions) {
    this.window = opts.window ?? 10
    this.states = opts.stations.map((creds) => ({
      creds,
      ledger: { published: [], acked: new Set() },
      lastTs: 0,
      queue: [],
      inflight: new Set(),
      sendCount: new Map(),
      conn: undefined,
      attempt: 0,
      reconnectTimer: undefined,
      sampleTimer: undefined,
    }))
  }

  /** Connects every station (spread over `spreadMs`) and starts sampling. */
  start(spreadMs = 2000): void {
    this.running = true
    this.generating = true
    const periodMs = 1000 / this.opts.ratePerStation
    for (const s of this.states) {
      s.reconnectTimer = setTimeout(() => this.connect(s), Math.random() * spreadMs)
      // Stations do not sample in lockstep.
      s.sampleTimer = setTimeout(() => {
        s.sampleTimer = setInterval(() => this.sample(s), periodMs)
      }, Math.random() * periodMs)
    }
  }

  /** Stops taking new readings; what is pending keeps being (re)sent. */
  stopGenerating(): void {
    this.generating = false
    for (const s of this.states) {
      clearTimeout(s.sampleTimer)
      clearInterval(s.sampleTimer)
    }
  }

  /** Waits until every generated reading is acknowledged. */
  async flush(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      if (this.snapshot().pending === 0) return true
      await new Promise((r) => setTimeout(r, 200))
    }
    return this.snapshot().pending === 0
  }

  async close(): Promise<void> {
    this.stopGenerating()
    this.running = false
    await Promise.all(
      this.states.map(async (s) => {
        clearTimeout(s.reconnectTimer)
        const c = s.conn
        s.conn = undefined
        if (c) {
          c.dead = true
          await new Promise<void>((r) => c.client.end(true, {}, () => r()))
        }
      }),
    )
  }

  ledgers(): Map<string, StationLedger> {
    return new Map(this.states.map((s) => [s.creds.id, s.ledger]))
  }

  snapshot(): LoadSnapshot {
    let generated = 0
    let acked = 0
    let connected = 0
    for (const s of this.states) {
      generated += s.ledger.published.length
      acked += s.ledger.acked.size
      if (s.conn?.up) connected++
    }
    const pending = generated - acked
    if (pending > this.maxPending) this.maxPending = pending
    return { generated, acked, pending, resends: this.counters.resends, connected, connects: this.counters.connects, disconnects: this.counters.disconnects }
  }

  private sample(s: StationState): void {
    if (!this.generating) return
    // Unique, increasing device time per station: the reading's identity.
    const ts = Math.max(Date.now(), s.lastTs + 1)
    s.lastTs = ts
    s.ledger.published.push(ts)
    s.queue.push(ts)
    this.pump(s)
  }

  private connect(s: StationState): void {
    s.reconnectTimer = undefined
    if (!this.running) return
    const url = typeof this.opts.url === 'function' ? this.opts.url() : this.opts.url
    const client = mqtt.connect(url, {
      clientId: `chaos-${s.creds.id}`,
      username: s.creds.id,
      password: s.creds.secret,
      clean: true,
      protocolVersion: 4,
      // Reconnects are ours, with backoff and jitter, as in the firmware.
      reconnectPeriod: 0,
      connectTimeout: 15_000,
      keepalive: this.opts.keepaliveSec ?? 30,
    })
    const conn = { client, up: false, dead: false }
    s.conn = conn
    client.on('connect', () => {
      if (conn.dead) return
      conn.up = true
      s.attempt = 0
      this.counters.connects++
      this.pump(s)
    })
    client.on('error', () => undefined)
    client.on('close', () => {
      if (conn.dead) return
      conn.dead = true
      if (conn.up) this.counters.disconnects++
      conn.up = false
      if (s.conn === conn) s.conn = undefined
      client.end(true)
      // Everything unacknowledged goes back to the front, oldest first, and
      // is re-sent with its original timestamp on the next connection.
      const back = [...s.inflight].sort((a, b) => a - b)
      s.inflight.clear()
      s.queue = [...back, ...s.queue.filter((ts) => !s.ledger.acked.has(ts))]
      if (!this.running) return
      const backoff = this.opts.backoff ?? { minMs: 200, maxMs: 5000 }
      const cap = Math.min(backoff.maxMs, backoff.minMs * 2 ** s.attempt++)
      s.reconnectTimer = setTimeout(() => this.connect(s), Math.random() * cap)
    })
  }

  private pump(s: StationState): void {
    const conn = s.conn
    if (!conn?.up || conn.dead) return
    while (s.inflight.size < this.window && s.queue.length > 0) {
      const ts = s.queue.shift()!
      if (s.ledger.acked.has(ts)) continue
      const n = (s.sendCount.get(ts) ?? 0) + 1
      s.sendCount.set(ts, n)
      if (n > 1) this.counters.resends++
      s.inflight.add(ts)
      const payload = JSON.stringify({ ts, seq: ts, values: { salinity: 2 + (ts % 1000) / 1000 } })
      conn.client.publish(`stations/${s.creds.id}/readings`, payload, { qos: 1 }, (err) => {
        if (err) return // connection lost: the close handler re-queues it
        // A PUBACK, even from a connection that has since died, is an acknowledgement.
        s.ledger.acked.add(ts)
        s.sendCount.delete(ts)
        if (s.conn === conn) {
          s.inflight.delete(ts)
          this.pump(s)
        }
      })
    }
  }
}
