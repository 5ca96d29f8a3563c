import type { ErrorCode } from '../core/errors.ts'
import type { Logger } from '../core/log.ts'
import { topics, type FeedbackItem, type FeedbackMessage } from '../core/protocol.ts'
export { FeedbackMessageSchema, type FeedbackItem, type FeedbackMessage } from '../core/protocol.ts'
import type { Rejection } from '../core/reading.ts'

/**
 * Tells a station what the ingest refused from one of its payloads, on
 * `stations/<id>/feedback` (docs/PROTOCOL.md, "Feedback: what was refused").
 * A PUBACK only says "durable, including in the quarantine"; without this a
 * firmware deletes refused readings without ever learning why.
 *
 * Feedback is advice, never part of the durable path: offer() is synchronous
 * and O(refusals); building (which re-reads the payload for `seq`) and
 * publishing happen later, a bounded number at a time. Every bound drops the
 * newest offer, counts it by reason and logs at most once per LOG_EVERY_MS.
 * Nothing here closes a connection or retries: the quarantine keeps every
 * refusal for staff either way.
 */

// The wire format is part of the station protocol: core/protocol.ts FeedbackMessageSchema.

/** Publishes one message at QoS 1, not retained; resolves when the broker has it. */
export type FeedbackTransport = (topic: string, payload: Buffer) => Promise<void>

export interface FeedbackLimits {
  /** Offers waiting to be published. */
  maxQueued: number
  /** Payload bytes held by waiting offers (kept to read each refused reading's `seq`). */
  maxQueuedBytes: number
  /** Publishes awaiting the broker's acknowledgement. */
  maxInFlight: number
  /** Per station: messages in a burst, then `stationPerSecond`. */
  stationBurst: number
  stationPerSecond: number
  /** Refusal items per message; the rest are counted in `omitted`. */
  maxItems: number
}

/**
 * 1,024 offers / 4 MiB held: a few seconds of a province-wide flood at the
 * measured ingest rates (docs/PERFORMANCE.md), and at most 16 payloads of
 * the 256 KiB maximum (core/config.ts). 32 in flight: the broker is local or
 * one hop away, so more buys nothing. Burst 20 then 1/s per station is a
 * judgment: a healthy station sends one payload per 5–15 min (FIELD-NOTES,
 * Mekong-HYCOS and CTU stations), and a full 20,000-reading outbox replays
 * as 40 batches of 500, which this covers in about 20 s. 32 items keep a
 * message near 2 KiB, which an MCU client with a raised buffer can take.
 */
export const DEFAULT_FEEDBACK_LIMITS: Readonly<FeedbackLimits> = Object.freeze({
  maxQueued: 1024,
  maxQueuedBytes: 4 * 1024 * 1024,
  maxInFlight: 32,
  stationBurst: 20,
  stationPerSecond: 1,
  maxItems: 32,
})

const LOG_EVERY_MS = 10_000
/**
 * Payload bytes re-parsed (for `seq`) per event-loop turn: V8 parses JSON at
 * a few hundred MB/s, so 512 KiB holds the loop ~2 ms at most, and PUBACKs
 * waiting behind it are not held longer than that.
 */
const PARSE_BYTES_PER_TURN = 512 * 1024
/** Station buckets remembered; past this they are forgotten (a fresh burst each). */
const MAX_BUCKETS = 100_000
/** Payload-wide refusals: there is no reading to take a `seq` from. */
const PAYLOAD_WIDE = new Set<ErrorCode>(['PAYLOAD_TOO_LARGE', 'PAYLOAD_NOT_UTF8', 'PAYLOAD_NOT_JSON', 'PAYLOAD_TOO_DEEP', 'PAYLOAD_SCHEMA', 'BATCH_EMPTY', 'BATCH_TOO_LARGE', 'STATION_UNKNOWN', 'STATION_DISABLED'])

export type FeedbackDropReason = 'queue_full' | 'rate_limited' | 'publish_failed'

export interface FeedbackCounters {
  offered: number
  published: number
  dropped: Record<FeedbackDropReason, number>
  queued: number
  inFlight: number
}

/** What the ingest knows of one payload once it is durable. */
export interface FeedbackOffer {
  stationId: string
  receivedAt: number
  readingCount: number
  stored: number
  rejected: readonly Rejection[]
  /** The raw payload, to read `seq` from; omit when there is none to read. */
  payload?: Buffer
}

interface Entry {
  stationId: string
  receivedAt: number
  readingCount: number
  stored: number
  refusals: Array<{ index?: number; code: ErrorCode; sensor?: string }>
  payload?: Buffer
  omitted?: number
}

export class FeedbackPublisher {
  readonly counters: FeedbackCounters = { offered: 0, published: 0, dropped: { queue_full: 0, rate_limited: 0, publish_failed: 0 }, queued: 0, inFlight: 0 }
  private readonly limits: FeedbackLimits
  private readonly queue: Entry[] = []
  private queuedBytes = 0
  private readonly buckets = new Map<string, { tokens: number; at: number }>()
  private transport: FeedbackTransport | undefined
  private scheduled = false
  private stopped = false
  private lastLogAt = -Infinity
  private droppedSinceLog = 0

  private readonly clock: () => number

  constructor(private readonly deps: { log: Logger; clock?: () => number; limits?: Partial<FeedbackLimits> }) {
    this.limits = { ...DEFAULT_FEEDBACK_LIMITS, ...deps.limits }
    this.clock = deps.clock ?? Date.now
  }

  /** The broker side: aedes.publish in-process, the MQTT client standalone. Returns a detach function. */
  attach(transport: FeedbackTransport): () => void {
    this.transport = transport
    this.schedule()
    return () => {
      if (this.transport === transport) this.transport = undefined
    }
  }

  /** Called once a payload with refusals is durable. Never throws, never waits. */
  offer(o: FeedbackOffer): void {
    if (this.stopped || o.rejected.length === 0) return
    this.counters.offered++
    const needsPayload = o.payload !== undefined && o.rejected.some((r) => !PAYLOAD_WIDE.has(r.reason))
    const bytes = needsPayload ? o.payload!.length : 0
    if (this.counters.queued >= this.limits.maxQueued || this.queuedBytes + bytes > this.limits.maxQueuedBytes) return this.drop('queue_full', o.stationId)
    if (!this.takeToken(o.stationId, this.clock())) return this.drop('rate_limited', o.stationId)
    const max = this.limits.maxItems
    // Keep only what the message can carry; the count of the rest is enough.
    const refusals = o.rejected.slice(0, max).map((r) => ({ index: r.index, code: r.reason, sensor: r.sensor }))
    const entry: Entry = { stationId: o.stationId, receivedAt: o.receivedAt, readingCount: o.readingCount, stored: o.stored, refusals }
    if (needsPayload) entry.payload = o.payload
    if (o.rejected.length > max) entry.omitted = o.rejected.length - max
    this.queue.push(entry)
    this.queuedBytes += bytes
    this.counters.queued++
    this.schedule()
  }

  /** Stops publishing and forgets what is queued (it is all in the quarantine). */
  stop(): void {
    this.stopped = true
    this.transport = undefined
    this.queue.length = 0
    this.queuedBytes = 0
    this.counters.queued = 0
  }

  private takeToken(stationId: string, now: number): boolean {
    let b = this.buckets.get(stationId)
    if (!b) {
      if (this.buckets.size >= MAX_BUCKETS) this.buckets.clear()
      b = { tokens: this.limits.stationBurst, at: now }
      this.buckets.set(stationId, b)
    }
    const refill = (Math.max(0, now - b.at) / 1000) * this.limits.stationPerSecond
    b.tokens = Math.min(this.limits.stationBurst, b.tokens + refill)
    b.at = now
    if (b.tokens < 1) return false
    b.tokens -= 1
    return true
  }

  private drop(reason: FeedbackDropReason, stationId: string): void {
    this.counters.dropped[reason]++
    this.droppedSinceLog++
    const now = this.clock()
    if (now - this.lastLogAt < LOG_EVERY_MS) return
    this.deps.log.warn({ reason, station: stationId, droppedSinceLastLog: this.droppedSinceLog, dropped: this.counters.dropped, queued: this.counters.queued }, 'feedback dropped')
    this.lastLogAt = now
    this.droppedSinceLog = 0
  }

  /** setImmediate, so building and publishing never run inside the caller's PUBACK path. */
  private schedule(): void {
    if (this.scheduled || this.stopped || !this.transport) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      this.pump()
    })
  }

  private pump(): void {
    const transport = this.transport
    if (!transport || this.stopped) return
    let parsed = 0
    while (this.counters.inFlight < this.limits.maxInFlight && this.queue.length > 0) {
      if (parsed >= PARSE_BYTES_PER_TURN) return this.schedule()
      // shift() is O(n), but n is at most maxQueued.
      const entry = this.queue.shift()!
      parsed += entry.payload?.length ?? 0
      this.counters.queued--
      this.queuedBytes -= entry.payload?.length ?? 0
      const message = Buffer.from(JSON.stringify(buildFeedback(entry)))
      this.counters.inFlight++
      let settled: Promise<void>
      try {
        settled = transport(topics.feedback(entry.stationId), message)
      } catch (err) {
        settled = Promise.reject(err)
      }
      settled.then(
        () => {
          this.counters.published++
        },
        (err: unknown) => {
          this.drop('publish_failed', entry.stationId)
          this.deps.log.debug({ err, station: entry.stationId }, 'feedback publish failed')
        },
      ).finally(() => {
        this.counters.inFlight--
        this.schedule()
      })
    }
  }
}

/** The message for one payload. Reads `seq` from the payload: it is not in a Rejection. */
function buildFeedback(entry: Entry): FeedbackMessage {
  const seqs = entry.payload ? readSeqs(entry.payload) : undefined
  const msg: FeedbackMessage = { v: 1, at: entry.receivedAt, readings: entry.readingCount, stored: entry.stored, refused: [] }
  if (seqs?.single !== undefined) msg.seq = seqs.single
  for (const r of entry.refusals) {
    const item: FeedbackItem = { code: r.code }
    if (r.index !== undefined) {
      item.i = r.index
      const seq = seqs?.batch?.[r.index]
      if (seq !== undefined) item.seq = seq
    }
    // The key came from the station; echo it back bounded.
    if (r.sensor !== undefined) item.sensor = r.sensor.slice(0, 64)
    msg.refused.push(item)
  }
  if (entry.omitted) msg.omitted = entry.omitted
  return msg
}

function validSeq(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined
}

function readSeqs(payload: Buffer): { single?: number; batch?: Array<number | undefined> } | undefined {
  let json: unknown
  try {
    json = JSON.parse(payload.toString('utf8'))
  } catch {
    return undefined
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return undefined
  const readings = (json as { readings?: unknown }).readings
  if (Array.isArray(readings)) {
    return { batch: readings.map((r) => (r !== null && typeof r === 'object' ? validSeq((r as { seq?: unknown }).seq) : undefined)) }
  }
  return { single: validSeq((json as { seq?: unknown }).seq) }
}
