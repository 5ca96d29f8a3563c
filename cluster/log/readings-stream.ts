import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { setTimeout as delay } from 'node:timers/promises'
import { connect, headers, nanos, type NatsConnection } from '@nats-io/transport-node'
import { AckPolicy, DeliverPolicy, jetstreamManager, JetStreamApiCodes, JetStreamApiError, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream'
import { backoffWindow, equalJitter } from '../../core/backoff.ts'
import type { Config } from '../../core/config.ts'
import { TidewatchError } from '../../core/errors.ts'
import type { Logger } from '../../core/log.ts'
import type { SpoolRecord } from '../../ingest/spool/spool.ts'

/**
 * The replicated log of acknowledged readings: one JetStream stream that
 * edges publish to and writers drain, one durable consumer per InfluxDB
 * target (docs/CLUSTER.md).
 *
 * A message is a run of InfluxDB line-protocol lines joined by "\n", exactly
 * the body a writer POSTs to /write, so a writer concatenates bodies and
 * parses nothing. Header `Tw-Received-At` carries the arrival time (ms) of
 * the oldest record in it, for lag figures.
 *
 * Subjects are `<prefix>.<lane>`: `live` (single on-time readings), `backlog`
 * (batches, late readings) and `spooled` (what an edge forwards from its
 * fallback spool). Writers read all three today; the lane is in the subject
 * so a target can get a consumer per lane later (as the single-process spool
 * has) without changing any publisher.
 */

export type LogLane = 'live' | 'backlog' | 'spooled'

export const RECEIVED_AT_HEADER = 'Tw-Received-At'

/**
 * Retention: `limits` with max_age (cluster.nats.maxAgeHours), not
 * `interest`. With interest retention a message published while a target's
 * consumer does not exist (a target added later, a consumer deleted by an
 * operator and re-created, a writer that starts after the first edge) is
 * dropped at once: a silent loss for that target. With limits every target
 * can read whatever is younger than max_age, whenever its consumer appears,
 * and an InfluxDB rebuilt from an empty disk can be re-filled by moving its
 * consumer back in time. The cost is storage: every reading stays max_age
 * (rate × bytes × max_age × replicas, worked out in docs/CLUSTER.md), not
 * just until both targets have it. A target down for longer than max_age
 * loses the oldest readings; /health and stats() show its pending count long
 * before that. When the servers' JetStream store is full a publish fails and
 * edges fall back to their local spools, whose own limit then holds PUBACKs
 * back (backpressure): nothing acknowledged is dropped.
 */
const RETENTION = RetentionPolicy.Limits

/**
 * Window in which a re-sent message id is stored once: NATS's default of
 * 2 min (JetStream stream config, `duplicate_window`). It only saves
 * storage: a duplicate outside it is a second copy of the same points,
 * which overwrite themselves in InfluxDB (docs/DURABILITY.md).
 */
const DUPLICATE_WINDOW_MS = 2 * 60_000

/**
 * How long a writer may hold a delivered message before JetStream gives it
 * to another writer of the same target. A writer that dies (kill -9) delays
 * its unacknowledged messages this long; a live writer sends "working"
 * during a long write, so a slow InfluxDB does not cause re-deliveries.
 */
export const DEFAULT_ACK_WAIT_MS = 10_000

/**
 * Messages delivered and not yet acknowledged, per target, across all of its
 * writers: bounds what a stuck target's writers hold in memory.
 */
const MAX_ACK_PENDING = 20_000

/** Room for subject and headers inside the server's max_payload. */
const HEADER_ROOM_BYTES = 4096

/** The durable consumer of one InfluxDB target, shared by all its writers. */
export function consumerName(target: string): string {
  return `influx-${target}`
}

export function laneSubject(prefix: string, lane: LogLane): string {
  return `${prefix}.${lane}`
}

/** Throws CLUSTER_NOT_CONFIGURED when no NATS server is configured. */
export function requireLogConfig(config: Readonly<Config>): void {
  if (config.cluster.nats.servers.length === 0) {
    throw new TidewatchError('CLUSTER_NOT_CONFIGURED', {}, 'no NATS servers configured: set cluster.nats.servers or TIDEWATCH_NATS_SERVERS')
  }
}

/** This process's name in message ids and NATS client names. */
export function nodeIdOf(config: Readonly<Config>): string {
  return config.cluster.nodeId ?? hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64)
}

export interface ConnectLogOptions {
  /** Client name shown in the servers' monitoring (e.g. `edge:dc-edge-1`). */
  name: string
  log: Logger
  /** Keep trying the first connect instead of failing (an edge starts while NATS is down). */
  waitOnFirstConnect?: boolean
}

/** A NATS connection that reconnects forever: a log server coming back must be found again. */
export async function connectLog(config: Readonly<Config>, opts: ConnectLogOptions): Promise<NatsConnection> {
  requireLogConfig(config)
  const n = config.cluster.nats
  const nc = await connect({
    servers: [...n.servers],
    name: opts.name,
    ...(n.user ? { user: n.user, pass: n.password ?? '' } : {}),
    maxReconnectAttempts: -1,
    // Retry a lost server soon: a restarted node is back within a second or two here.
    reconnectTimeWait: 500,
    waitOnFirstConnect: opts.waitOnFirstConnect ?? false,
    // A half-open connection (a cut link, not a killed process) is noticed in ~30 s.
    pingInterval: 10_000,
    maxPingOut: 3,
  })
  opts.log.info({ server: nc.getServer(), name: opts.name }, 'connected to NATS')
  return nc
}

export interface EnsureLogOptions {
  /** Targets that get a durable consumer; defaults to every configured InfluxDB target. */
  targets?: readonly string[]
  ackWaitMs?: number
  /**
   * Stream sequence a consumer created here starts at (DeliverPolicy.StartSequence);
   * without it, at the stream's first message (DeliverPolicy.All). A writer
   * re-creating its deleted consumer passes the last ack floor it saw + 1, so
   * it does not replay the whole stream (max_age of readings) before fresh ones.
   */
  startSeq?: number
  log: Logger
}

/**
 * Creates the stream and one durable consumer per target, or leaves them as
 * they are. Idempotent and safe to race: every edge and writer calls it on
 * start. Consumers are made together with the stream so the first readings
 * are there for every target (with limits retention they would be anyway).
 */
export async function ensureReadingsLog(nc: NatsConnection, config: Readonly<Config>, opts: EnsureLogOptions): Promise<JetStreamManager> {
  const n = config.cluster.nats
  const jsm = await jetstreamManager(nc)
  const want = {
    name: n.stream,
    subjects: [`${n.subjectPrefix}.>`],
    retention: RETENTION,
    storage: StorageType.File,
    num_replicas: n.replicas,
    max_age: nanos(n.maxAgeHours * 3_600_000),
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
  }
  const existing = await jsm.streams.info(n.stream).catch((err: unknown) => {
    if (notFound(err)) return undefined
    throw err
  })
  if (!existing) {
    await jsm.streams.add(want).catch(async (err: unknown) => {
      // Another process created it first; fine if it is there now.
      if (!(await jsm.streams.info(n.stream).then(() => true, () => false))) throw err
    })
    opts.log.info({ stream: n.stream, replicas: n.replicas, maxAgeHours: n.maxAgeHours }, 'created the readings stream')
  } else if (existing.config.num_replicas !== n.replicas || existing.config.max_age !== want.max_age) {
    await jsm.streams.update(n.stream, { num_replicas: n.replicas, max_age: want.max_age })
    opts.log.warn({ stream: n.stream, replicas: { was: existing.config.num_replicas, now: n.replicas } }, 'updated the readings stream to the configured replicas and max age')
  }
  const targets = opts.targets ?? config.influx.targets.map((t) => t.name)
  for (const target of targets) {
    const name = consumerName(target)
    const have = await jsm.consumers.info(n.stream, name).catch((err: unknown) => {
      if (notFound(err)) return undefined
      throw err
    })
    if (have) continue
    const start = opts.startSeq !== undefined && opts.startSeq > 1 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: opts.startSeq } : { deliver_policy: DeliverPolicy.All }
    await jsm.consumers
      .add(n.stream, {
        durable_name: name,
        ack_policy: AckPolicy.Explicit,
        ...start,
        ack_wait: nanos(opts.ackWaitMs ?? DEFAULT_ACK_WAIT_MS),
        // Never give up on a message: the data is safe in the log and giving up would lose it.
        max_deliver: -1,
        max_ack_pending: MAX_ACK_PENDING,
      })
      .catch(async (err: unknown) => {
        if (!(await jsm.consumers.info(n.stream, name).then(() => true, () => false))) throw err
      })
    opts.log.info({ stream: n.stream, consumer: name, startSeq: start.opt_start_seq ?? 'first' }, 'created a target consumer')
  }
  return jsm
}

/**
 * ensureReadingsLog until it succeeds or `stopped()` says to give up: right
 * after start-up, or a restart of the servers, JetStream may still be
 * electing leaders and its API requests time out. Equal jitter, 250 ms to 5 s.
 */
export async function ensureReadingsLogRetrying(nc: NatsConnection, config: Readonly<Config>, opts: EnsureLogOptions & { stopped?: () => boolean; signal?: AbortSignal }): Promise<JetStreamManager | undefined> {
  for (let attempt = 0; !opts.stopped?.() && !opts.signal?.aborted; attempt++) {
    try {
      return await ensureReadingsLog(nc, config, opts)
    } catch (err) {
      opts.log.warn({ err: (err as Error).message, attempt }, 'cannot ensure the readings stream yet; retrying')
      // Aborting ends the wait at once, so no timer outlives the caller's stop().
      await delay(equalJitter(backoffWindow(attempt, { baseMs: 250, capMs: 5000 })), undefined, { signal: opts.signal }).catch(() => undefined)
    }
  }
  return undefined
}

export function notFound(err: unknown): boolean {
  return err instanceof JetStreamApiError && (err.code === JetStreamApiCodes.StreamNotFound || err.code === JetStreamApiCodes.ConsumerNotFound)
}

export interface LogPublisherOptions {
  subjectPrefix: string
  nodeId: string
  /** How long to wait for the PubAck; then the publish counts as failed. */
  timeoutMs: number
  /** The server's max_payload (nc.info.max_payload). */
  maxPayloadBytes: number
}

/**
 * Publishes records to the log and resolves on the PubAck, which JetStream
 * sends only after the stream's quorum stored the message (2 of 3 servers
 * with R3). Records larger than one message are split; every part has its own
 * id `<nodeId>:<boot id>:<seq>`, so a publish retried by the client is
 * stored once.
 */
export class LogPublisher {
  private readonly bootId = randomBytes(6).toString('base64url')
  private seq = 0
  private readonly maxBodyBytes: number

  constructor(
    private readonly js: JetStreamClient,
    private readonly opts: LogPublisherOptions,
  ) {
    this.maxBodyBytes = Math.max(64 * 1024, opts.maxPayloadBytes - HEADER_ROOM_BYTES)
  }

  /** Publishes records; resolves with the number of messages once every part has its PubAck. */
  async publish(lane: LogLane, records: readonly SpoolRecord[]): Promise<number> {
    if (records.length === 0) return 0
    let oldest = Infinity
    const lines: string[] = []
    for (const r of records) {
      if (r.receivedAt < oldest) oldest = r.receivedAt
      for (const l of r.lines) lines.push(l)
    }
    return this.publishLines(lane, lines, oldest)
  }

  /** Publishes lines (split to fit a message); resolves with the number of messages. */
  async publishLines(lane: LogLane, lines: readonly string[], receivedAt: number): Promise<number> {
    const bodies = splitBodies(lines, this.maxBodyBytes)
    await Promise.all(bodies.map((body) => this.publishBody(lane, body, receivedAt)))
    return bodies.length
  }

  private async publishBody(lane: LogLane, body: string, receivedAt: number): Promise<void> {
    const h = headers()
    h.set(RECEIVED_AT_HEADER, String(receivedAt))
    await this.js.publish(laneSubject(this.opts.subjectPrefix, lane), body, {
      msgID: `${this.opts.nodeId}:${this.bootId}:${++this.seq}`,
      timeout: this.opts.timeoutMs,
      headers: h,
    })
  }
}

/** Joins lines into bodies of at most `maxBytes` (a longer single line is a body of its own). */
export function splitBodies(lines: readonly string[], maxBytes: number): string[] {
  const bodies: string[] = []
  let current: string[] = []
  let bytes = 0
  for (const line of lines) {
    const size = Buffer.byteLength(line) + 1
    if (current.length > 0 && bytes + size > maxBytes) {
      bodies.push(current.join('\n'))
      current = []
      bytes = 0
    }
    current.push(line)
    bytes += size
  }
  if (current.length) bodies.push(current.join('\n'))
  return bodies
}
