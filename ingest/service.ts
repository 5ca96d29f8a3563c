import { join } from 'node:path'
import type { Config } from '../core/config.ts'
import type { Logger } from '../core/log.ts'
import { openDatabase } from '../core/sqlite.ts'
import type { Registry } from '../devices/registry.ts'
import { FeedbackPublisher } from './feedback.ts'
import { Ingest } from './ingest.ts'
import type { AcceptedReading } from '../core/reading.ts'
import { QuarantineStore } from './quarantine.ts'
import { createWriteTransport, type WriteTransport } from '../influx/write-transport.ts'
import { applyRetention, RAW_RP } from '../influx/retention.ts'
import { createQueryClient } from '../influx/query.ts'
import { TargetWriter, type TargetStats } from './sink/target-writer.ts'
import { Spool, SpoolCapacity, type SpoolStats } from './spool/spool.ts'

/**
 * The ingest as a running service: spool, quarantine, one writer per
 * InfluxDB target, periodic bookkeeping. The MQTT side (embedded gate or
 * external-broker source) is attached by the caller.
 */
export interface IngestService {
  ingest: Ingest
  /** The backlog lane: batches and late readings. */
  spool: Spool
  /** The live lane: single readings on time, alert points, self-monitoring. */
  liveSpool: Spool
  quarantine: QuarantineStore
  /**
   * Tells stations what was refused. The MQTT side attaches its transport:
   * the embedded broker (broker/server.ts) or the external-broker source.
   */
  feedback: FeedbackPublisher
  /** Two per target: one per lane. */
  writers: TargetWriter[]
  /** Both lanes together (they share `spoolMaxBytes`). */
  spoolStats(): LanesStats
  /** Readings spooled for a target and not yet written, both lanes. */
  lag(target: string): number
  targetStats(): Promise<Array<TargetStats & { lagSeconds: number }>>
  /** Writes last-seen and clock offsets to the registry now (a timer does it every 5 s). */
  flushSightings(): void
  /** Waits until every target has written everything spooled so far. */
  drained(timeoutMs?: number): Promise<boolean>
  stop(opts?: { drainMs?: number }): Promise<void>
}

/** Both spool lanes together; a sequence number means nothing across lanes, so there is none. */
export type LanesStats = Omit<SpoolStats, 'headSeq'>

export interface IngestServiceDeps {
  config: Readonly<Config>
  registry: Registry
  log: Logger
  onAccepted?: (readings: AcceptedReading[]) => void
  /** For tests: replace the InfluxDB transports. */
  transports?: WriteTransport[]
  clock?: () => number
  /** See IngestDeps.contextTtlMs; default 1000 ms. */
  contextTtlMs?: number
}

export async function startIngestService(deps: IngestServiceDeps): Promise<IngestService> {
  const { config, log } = deps
  const clock = deps.clock ?? Date.now
  // Two lanes, one byte limit: a replayed backlog must not delay the live
  // reading stored behind it (docs/DURABILITY.md, docs/PERFORMANCE.md).
  const capacity = new SpoolCapacity(config.ingest.spoolMaxBytes)
  const openLane = (dirName: string, lane: string): Promise<Spool> =>
    Spool.open({
      dir: join(config.dataDir, dirName),
      maxBytes: config.ingest.spoolMaxBytes,
      capacity,
      segmentBytes: config.ingest.spoolSegmentBytes,
      log: log.child({ component: 'spool', lane }),
    })
  const spool = await openLane('spool', 'backlog')
  const liveSpool = await openLane('spool-live', 'live')
  const lanes = [liveSpool, spool]
  const quarantine = new QuarantineStore(openDatabase(join(config.dataDir, 'quarantine.db')), config.ingest.quarantineMaxRows, log.child({ component: 'quarantine' }))
  const feedback = new FeedbackPublisher({ log: log.child({ component: 'feedback' }), clock })
  const ingest = new Ingest({
    config,
    stations: deps.registry,
    spool,
    liveSpool,
    quarantine,
    log: log.child({ component: 'ingest' }),
    clock,
    onAccepted: deps.onAccepted,
    feedback,
    // One second: 1,000 stations cost 1,000 lookups/s instead of one per message.
    contextTtlMs: deps.contextTtlMs ?? 1000,
  })
  const transports =
    deps.transports ??
    config.influx.targets.map((t) => {
      const managed = t.mode === 'v1' && config.influx.applyRetention
      return createWriteTransport(
        t,
        managed
          ? {
              defaultRetentionPolicy: RAW_RP,
              prepare: () =>
                applyRetention(createQueryClient({ url: t.url, database: t.database, username: t.username, password: t.password }), {
                  database: t.database,
                  rawRetention: config.influx.rawRetention,
                }),
            }
          : {},
      )
    })
  const writerOptions = { batchPoints: config.influx.batchPoints, flushIntervalMs: config.influx.flushIntervalMs, writesInFlight: config.influx.writesInFlight }
  const writers = transports.flatMap((t) =>
    lanes.map((lane) => new TargetWriter(lane, t, writerOptions, log.child({ component: 'writer', target: t.name, lane: lane === spool ? 'backlog' : 'live' }))),
  )
  if (writers.length === 0) log.warn('no InfluxDB target configured: readings are validated and spooled but not written anywhere')
  for (const t of transports) {
    await t.ensureDatabase().catch((err: Error) => log.warn({ target: t.name, err: err.message }, 'cannot create database yet; will retry on write'))
  }
  for (const w of writers) w.start()

  // One row per target, both lanes summed; lag in seconds is the older lane's.
  const targetStats = async (): Promise<Array<TargetStats & { lagSeconds: number }>> =>
    Promise.all(
      transports.map(async (t) => {
        const parts = writers.filter((w) => w.name === t.name).map((w) => w.stats())
        const oldest = (await Promise.all(lanes.map((l) => l.oldestPending(t.name)))).filter((x): x is number => x !== undefined)
        const sum = (f: (s: TargetStats) => number): number => parts.reduce((a, p) => a + f(p), 0)
        const lastWrites = parts.map((p) => p.lastWriteAt).filter((x): x is number => x !== undefined)
        return {
          target: t.name,
          up: parts.every((p) => p.up),
          writtenPoints: sum((p) => p.writtenPoints),
          writeBatches: sum((p) => p.writeBatches),
          writeErrors: sum((p) => p.writeErrors),
          rejectedLines: sum((p) => p.rejectedLines),
          lagReadings: sum((p) => p.lagReadings),
          lastError: parts.find((p) => !p.up)?.lastError ?? parts.find((p) => p.lastError)?.lastError,
          lastWriteAt: lastWrites.length ? Math.max(...lastWrites) : undefined,
          // The slower lane's figures: a tail anywhere is a tail.
          writeMs: {
            p50: Math.max(...parts.map((p) => p.writeMs.p50)),
            p99: Math.max(...parts.map((p) => p.writeMs.p99)),
            max: Math.max(...parts.map((p) => p.writeMs.max)),
          },
          lagSeconds: oldest.length ? Math.max(0, (clock() - Math.min(...oldest)) / 1000) : 0,
        }
      }),
    )

  const spoolStats = (): LanesStats => {
    const [a, b] = lanes.map((l) => l.stats()) as [SpoolStats, SpoolStats]
    return {
      bytes: a.bytes + b.bytes,
      segments: a.segments + b.segments,
      appendedRecords: a.appendedRecords + b.appendedRecords,
      fsyncs: a.fsyncs + b.fsyncs,
      backpressureWaits: a.backpressureWaits + b.backpressureWaits,
      full: capacity.full,
    }
  }

  // Last-seen is bookkeeping, not data: batch it to keep SQLite writes off the hot path.
  const flushSightings = (): void => {
    const seen = ingest.takeLastSeen()
    if (seen.size) deps.registry.touchMany(seen)
  }
  const touchTimer = setInterval(flushSightings, 5000)
  touchTimer.unref()

  // Self-monitoring for the data-quality dashboard (docs/DATA.md, ingest_stats).
  const statsTimer = setInterval(() => {
    void targetStats().then((stats) => {
      const c = ingest.counters
      const now = clock()
      const lines = stats.map(
        (s) =>
          `ingest_stats,target=${s.target} received=${c.payloads}i,accepted=${c.readingsAccepted}i,rejected=${ingest.rejectedTotal()}i,spool_bytes=${spoolStats().bytes}i,lag_readings=${s.lagReadings}i,lag_seconds=${s.lagSeconds} ${now}`,
      )
      if (lines.length) return liveSpool.append([{ receivedAt: now, lines }])
    }).catch((err: unknown) => log.warn({ err }, 'cannot record ingest stats'))
  }, 10_000)
  statsTimer.unref()

  return {
    ingest,
    spool,
    liveSpool,
    quarantine,
    feedback,
    writers,
    spoolStats,
    lag: (target) => lanes.reduce((a, l) => a + l.lag(target), 0),
    targetStats,
    flushSightings,
    async drained(timeoutMs = 30_000) {
      const results = await Promise.all(writers.map((w) => w.drained(timeoutMs)))
      return results.every(Boolean)
    },
    async stop({ drainMs = 5000 } = {}) {
      clearInterval(touchTimer)
      clearInterval(statsTimer)
      feedback.stop()
      flushSightings()
      // Give the writers a moment to empty the spool; whatever is left is
      // safe on disk and is written on the next start.
      if (drainMs > 0) await Promise.all(writers.map((w) => w.drained(drainMs)))
      await Promise.all(writers.map((w) => w.stop()))
      await Promise.all(lanes.map((l) => l.close()))
    },
  }
}
