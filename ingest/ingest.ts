import type { Config } from '../core/config.ts'
import type { ErrorCode } from '../core/errors.ts'
import type { Logger } from '../core/log.ts'
import { parseStationTopic } from '../core/protocol.ts'
import { ByteBudget } from './byte-budget.ts'
import type { FeedbackOffer } from './feedback.ts'
import { UniqueMsClock } from '../influx/line-protocol.ts'
import { quarantineLine, readingLines } from './points.ts'
import type { QuarantineStore } from './quarantine.ts'
import type { Sighting } from '../devices/registry.ts'
import type { AcceptedReading, Rejection, StationContext } from '../core/reading.ts'
import { validatePayload, type ValidationLimits, type ValidationResult } from './parse/validate.ts'
import type { SpoolRecord } from './spool/spool.ts'

/**
 * Where accepted records go before the PUBACK: the fsync'd Spool here, the
 * replicated log on an edge node (cluster/edge.ts). append() resolves only
 * once the records are durable, and rejects when they are not.
 */
export interface RecordSink {
  append(records: readonly SpoolRecord[]): Promise<void>
}

/**
 * The ingest pipeline for one payload: validate -> spool (fsync) and
 * quarantine -> resolve. The caller acknowledges the MQTT message only after
 * handle() resolves, so a PUBACK always means "on disk". handle() never
 * throws for bad input; it rejects only when the spool itself cannot write,
 * and then the message must not be acknowledged.
 */
export interface IngestDeps {
  config: Readonly<Config>
  stations: {
    context(id: string): StationContext | undefined
    /** Changes whenever some context may have changed (devices/registry.ts); without it each context expires after `contextTtlMs`. */
    contextVersion?(): string
  }
  /** The backlog lane (batches, late readings); everything, when there is no live lane. */
  spool: RecordSink
  /** The live lane: single readings on time. */
  liveSpool?: RecordSink
  quarantine: QuarantineStore
  log: Logger
  clock?: () => number
  /**
   * How stale a station's registry context (enabled flag, calibration) may
   * be. Reading it costs two SQLite queries, the largest ingest cost in the
   * profile (docs/PERFORMANCE.md). With `contextVersion`, the registry is
   * asked once per this interval whether anything changed, and contexts are
   * kept until it did; without, each context is re-read after this long.
   * 0 reads it every time.
   */
  contextTtlMs?: number
  /** Called after readings are durable: the alerter and the latest-value cache. */
  onAccepted?: (readings: AcceptedReading[]) => void
  /** Told, after the spool holds it, of every payload with a refusal (ingest/feedback.ts); must not block. */
  feedback?: { offer(o: FeedbackOffer): void }
}

export interface IngestOutcome {
  accepted: number
  rejected: Rejection[]
}

/**
 * Raw payload bytes validated and awaiting the spool at once; more wait
 * unparsed. Bytes, not messages: 16 MiB is ~270 backlog batches of 500
 * readings (their parsed form is what costs memory) — a count bound of 256
 * capped live throughput at 256 messages per fsync cycle. Single readings
 * (up to LIVE_PAYLOAD_BYTES) have a budget of their own, so a live reading
 * never queues behind a replayed backlog (docs/PERFORMANCE.md).
 */
const BULK_IN_FLIGHT_BYTES = 16 * 1024 * 1024
const LIVE_IN_FLIGHT_BYTES = 4 * 1024 * 1024
const LIVE_PAYLOAD_BYTES = 4 * 1024

export interface IngestCounters {
  /** Payloads that waited, unparsed, for room in the in-flight byte budget. */
  slotWaits: number
  payloads: number
  readingsAccepted: number
  valuesAccepted: number
  late: number
  rejectedByReason: Partial<Record<ErrorCode, number>>
  inFlight: number
}

export class Ingest {
  private readonly limits: ValidationLimits
  private readonly clock: () => number
  private readonly uniqueMs = new UniqueMsClock()
  private lastSeen = new Map<string, Sighting>()
  private readonly contexts = new Map<string, { at: number; ctx: StationContext | undefined }>()
  private contextsVersion: string | undefined
  private contextsCheckedAt = Number.NEGATIVE_INFINITY
  private static readonly MAX_CONTEXTS = 100_000
  readonly counters: IngestCounters = { slotWaits: 0, payloads: 0, readingsAccepted: 0, valuesAccepted: 0, late: 0, rejectedByReason: {}, inFlight: 0 }

  constructor(private readonly deps: IngestDeps) {
    const c = deps.config
    this.limits = {
      maxPayloadBytes: c.mqtt.maxPayloadBytes,
      maxBatchReadings: c.ingest.maxBatchReadings,
      lateAfterMs: c.ingest.lateAfterSec * 1000,
      maxAgeMs: c.ingest.maxAgeSec * 1000,
      maxFutureMs: c.ingest.maxFutureSec * 1000,
    }
    this.clock = deps.clock ?? Date.now
  }

  /** Handles a message from any topic the ingest subscribes to. */
  async handleMessage(topic: string, payload: Buffer): Promise<IngestOutcome | undefined> {
    const parsed = parseStationTopic(topic)
    if (!parsed) {
      const stationId = topic.split('/')[1] ?? '?'
      return this.quarantineOnly([{ stationId: stationId.slice(0, 64), reason: 'TOPIC_INVALID', detail: `topic "${topic.slice(0, 200)}"`, excerpt: payload.subarray(0, 200).toString('utf8') }])
    }
    if (parsed.kind !== 'readings') return undefined
    return this.handle(parsed.stationId, payload)
  }

  /**
   * Bounds what is parsed and waiting for the spool at once: after a cell
   * outage a thousand stations replay 500-reading batches together, and
   * parsing them all up front took GBs. Waiting payloads stay raw; aedes reads
   * a client's socket again only once its packets are handled, so the wait
   * list is bounded by clients.
   */
  private readonly liveBudget = new ByteBudget(LIVE_IN_FLIGHT_BYTES)
  private readonly bulkBudget = new ByteBudget(BULK_IN_FLIGHT_BYTES)

  /**
   * Not async itself: under load every message in flight waits a whole group
   * commit, and each async layer it waits in is a suspended frame and a
   * promise the collector copies (docs/PERFORMANCE.md, "Night round").
   */
  handle(stationId: string, payload: Buffer): Promise<IngestOutcome> {
    const budget = payload.length <= LIVE_PAYLOAD_BYTES ? this.liveBudget : this.bulkBudget
    const wait = budget.acquire(payload.length)
    if (!wait) return this.handleHolding(stationId, payload, budget)
    this.counters.slotWaits++
    return wait.then(() => this.handleHolding(stationId, payload, budget))
  }

  /**
   * Validates and spools one payload whose bytes `budget` already holds;
   * releases them when the spool has answered. Not async either: the
   * message waits for the group commit in one `then`, not in a suspended
   * frame holding every local.
   */
  private handleHolding(stationId: string, payload: Buffer, budget: ByteBudget): Promise<IngestOutcome> {
    this.counters.inFlight++
    this.counters.payloads++
    let receivedAt: number
    let station: StationContext | undefined
    let result: ValidationResult
    let durable: Promise<void>
    // Everything that can throw is in here: the broker gate chains .then on
    // the result, so a throw must become a rejection, never escape into aedes.
    try {
      receivedAt = this.clock()
      station = this.stationContext(stationId, receivedAt)
      result = validatePayload(station, stationId, payload, receivedAt, this.limits)
      // Quarantine first (synchronous SQLite), then the fsync'd spool: both
      // must hold before the caller acknowledges.
      this.deps.quarantine.add(result.rejected, receivedAt)
      durable = this.laneFor(result).append(this.spoolRecords(result, receivedAt))
    } catch (err) {
      this.released(payload, budget)
      return Promise.reject(err as Error)
    }
    return durable.then(
      () => this.reportDurable(stationId, payload, budget, receivedAt, station, result),
      (err: unknown) => {
        this.released(payload, budget)
        throw err
      },
    )
  }

  private released(payload: Buffer, budget: ByteBudget): void {
    this.counters.inFlight--
    budget.release(payload.length)
  }

  /** After the spool holds a payload's records: counters, last seen, the alerter, feedback. */
  private reportDurable(stationId: string, payload: Buffer, budget: ByteBudget, receivedAt: number, station: StationContext | undefined, result: ValidationResult): IngestOutcome {
    this.released(payload, budget)
    for (const q of result.rejected) this.counters.rejectedByReason[q.reason] = (this.counters.rejectedByReason[q.reason] ?? 0) + 1
    if (station) this.observe(stationId, receivedAt, result)
    if (result.accepted.length) {
      this.counters.readingsAccepted += result.accepted.length
      for (const r of result.accepted) {
        this.counters.valuesAccepted += r.values.length
        if (r.late) this.counters.late++
      }
      try {
        this.deps.onAccepted?.(result.accepted)
      } catch (err) {
        this.deps.log.error({ err }, 'onAccepted listener failed')
      }
    }
    if (result.rejected.length) {
      this.deps.log.debug({ station: stationId, reasons: result.rejected.map((r) => r.reason) }, 'readings quarantined')
      // Only to a registered station: on a broker without per-station ACLs
      // (mosquitto) the topic names anyone, and an unknown id has no reader.
      if (station) this.deps.feedback?.offer({ stationId, receivedAt, readingCount: result.readingCount, stored: result.accepted.length, rejected: result.rejected, payload })
    }
    return { accepted: result.accepted.length, rejected: result.rejected }
  }

  /** What one payload puts in the spool: a record per accepted reading, and one for all its refusals. */
  private spoolRecords(result: { accepted: readonly AcceptedReading[]; rejected: readonly Rejection[] }, receivedAt: number): SpoolRecord[] {
    const records: SpoolRecord[] = result.accepted.map((r) => ({ receivedAt, lines: readingLines(r) }))
    if (result.rejected.length) {
      records.push({
        receivedAt,
        lines: result.rejected.map((q) => quarantineLine(q, this.uniqueMs.next(`${q.stationId}|${q.reason}`, receivedAt))),
      })
    }
    return records
  }

  /** The registry's view of a station, reused while the registry says nothing changed (or for `contextTtlMs`). */
  private stationContext(stationId: string, now: number): StationContext | undefined {
    const ttl = this.deps.contextTtlMs ?? 0
    if (ttl <= 0) return this.deps.stations.context(stationId)
    const versioned = this.deps.stations.contextVersion !== undefined
    if (versioned && (now - this.contextsCheckedAt >= ttl || now < this.contextsCheckedAt)) {
      this.contextsCheckedAt = now
      const version = this.deps.stations.contextVersion!()
      if (version !== this.contextsVersion) {
        this.contextsVersion = version
        this.contexts.clear()
      }
    }
    const hit = this.contexts.get(stationId)
    if (hit && (versioned || (now - hit.at < ttl && now >= hit.at))) return hit.ctx
    const ctx = this.deps.stations.context(stationId)
    if (this.contexts.size >= Ingest.MAX_CONTEXTS && !hit) this.contexts.clear()
    this.contexts.set(stationId, { at: now, ctx })
    return ctx
  }

  /**
   * Last seen, and the station's clock offset. Only a single live reading
   * says something about the clock: a batch is backlog by design. A reading
   * refused as TS_IN_FUTURE / TS_TOO_OLD counts too — that is exactly the
   * reset RTC we want to show in the station's health.
   */
  private observe(stationId: string, receivedAt: number, result: { accepted: Array<{ ts: number }>; rejected: Rejection[]; readingCount: number }): void {
    let clockOffsetMs: number | undefined
    if (result.readingCount === 1) {
      const ts = result.accepted[0]?.ts ?? result.rejected.find((r) => r.ts !== undefined && r.reason.startsWith('TS_'))?.ts
      if (ts !== undefined) clockOffsetMs = ts - receivedAt
    }
    // Updated in place while it waits for the next touchMany (takeLastSeen
    // hands the map over and starts a new one): no object per message.
    const seen = this.lastSeen.get(stationId)
    if (!seen) {
      this.lastSeen.set(stationId, clockOffsetMs === undefined ? { lastSeenAt: receivedAt } : { lastSeenAt: receivedAt, clockOffsetMs })
      return
    }
    seen.lastSeenAt = receivedAt
    if (clockOffsetMs !== undefined) seen.clockOffsetMs = clockOffsetMs
  }

  /**
   * A single reading on time goes to the live lane; batches (a station's
   * replayed backlog) and late readings go to the backlog lane, so after an
   * outage the current water level is stored within milliseconds instead of
   * behind a million replayed readings. Points are idempotent, so the order
   * between lanes does not matter.
   */
  private laneFor(result: { readingCount: number; accepted: ReadonlyArray<{ late: boolean }> }): RecordSink {
    const live = this.deps.liveSpool
    if (!live || result.readingCount !== 1) return this.deps.spool
    return result.accepted[0]?.late ? this.deps.spool : live
  }

  /** Refusals decided outside validation (oversized payload at the broker, spoofed topic). */
  async quarantineOnly(rejections: Rejection[]): Promise<IngestOutcome> {
    const receivedAt = this.clock()
    this.deps.quarantine.add(rejections, receivedAt)
    for (const q of rejections) this.counters.rejectedByReason[q.reason] = (this.counters.rejectedByReason[q.reason] ?? 0) + 1
    await this.deps.spool.append([
      { receivedAt, lines: rejections.map((q) => quarantineLine(q, this.uniqueMs.next(`${q.stationId}|${q.reason}`, receivedAt))) },
    ])
    // The broker refused these before validation: the station behind an
    // oversized payload is authenticated, so it is told. A TOPIC_INVALID
    // names a station that may not be the sender, so nobody is.
    for (const q of rejections) {
      if (q.reason !== 'TOPIC_INVALID') this.deps.feedback?.offer({ stationId: q.stationId, receivedAt, readingCount: 1, stored: 0, rejected: [q] })
    }
    return { accepted: 0, rejected: rejections }
  }

  /** Returns and clears the stations heard from since the last call (for registry.touchMany). */
  takeLastSeen(): Map<string, Sighting> {
    const taken = this.lastSeen
    this.lastSeen = new Map()
    return taken
  }

  rejectedTotal(): number {
    return Object.values(this.counters.rejectedByReason).reduce((a, b) => a + (b ?? 0), 0)
  }
}
