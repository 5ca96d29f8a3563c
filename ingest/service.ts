import { join } from 'node:path'
import type { Config } from '../core/config.ts'
import type { Logger } from '../core/log.ts'
import { openDatabase, type Registry } from '../devices/registry.ts'
import { Ingest } from './ingest.ts'
import type { AcceptedReading } from './parse/validate.ts'
import { QuarantineStore } from './quarantine.ts'
import { createWriteTransport, type WriteTransport } from './sink/influx-transport.ts'
import { applyRetention, RAW_RP } from '../influx/retention.ts'
import { createQueryClient } from '../influx/query.ts'
import { TargetWriter, type TargetStats } from './sink/target-writer.ts'
import { Spool } from './spool/spool.ts'

/**
 * The ingest as a running service: spool, quarantine, one writer per
 * InfluxDB target, periodic bookkeeping. The MQTT side (embedded gate or
 * external-broker source) is attached by the caller.
 */
export interface IngestService {
  ingest: Ingest
  spool: Spool
  quarantine: QuarantineStore
  writers: TargetWriter[]
  targetStats(): Promise<Array<TargetStats & { lagSeconds: number }>>
  /** Writes last-seen and clock offsets to the registry now (a timer does it every 5 s). */
  flushSightings(): void
  /** Waits until every target has written everything spooled so far. */
  drained(timeoutMs?: number): Promise<boolean>
  stop(opts?: { drainMs?: number }): Promise<void>
}

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
  const spool = await Spool.open({
    dir: join(config.dataDir, 'spool'),
    maxBytes: config.ingest.spoolMaxBytes,
    segmentBytes: config.ingest.spoolSegmentBytes,
    log: log.child({ component: 'spool' }),
  })
  const quarantine = new QuarantineStore(openDatabase(join(config.dataDir, 'quarantine.db')), config.ingest.quarantineMaxRows, log.child({ component: 'quarantine' }))
  const ingest = new Ingest({
    config,
    stations: deps.registry,
    spool,
    quarantine,
    log: log.child({ component: 'ingest' }),
    clock,
    onAccepted: deps.onAccepted,
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
  const writers = transports.map(
    (t) =>
      new TargetWriter(spool, t, { batchPoints: config.influx.batchPoints, flushIntervalMs: config.influx.flushIntervalMs, writesInFlight: config.influx.writesInFlight }, log.child({ component: 'writer', target: t.name })),
  )
  if (writers.length === 0) log.warn('no InfluxDB target configured: readings are validated and spooled but not written anywhere')
  for (const t of transports) {
    await t.ensureDatabase().catch((err: Error) => log.warn({ target: t.name, err: err.message }, 'cannot create database yet; will retry on write'))
  }
  for (const w of writers) w.start()

  const targetStats = async (): Promise<Array<TargetStats & { lagSeconds: number }>> =>
    Promise.all(
      writers.map(async (w) => {
        const oldest = await spool.oldestPending(w.name)
        return { ...w.stats(), lagSeconds: oldest ? Math.max(0, (clock() - oldest) / 1000) : 0 }
      }),
    )

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
          `ingest_stats,target=${s.target} received=${c.payloads}i,accepted=${c.readingsAccepted}i,rejected=${ingest.rejectedTotal()}i,spool_bytes=${spool.stats().bytes}i,lag_readings=${s.lagReadings}i,lag_seconds=${s.lagSeconds} ${now}`,
      )
      if (lines.length) return spool.append([{ receivedAt: now, lines }])
    }).catch((err: unknown) => log.warn({ err }, 'cannot record ingest stats'))
  }, 10_000)
  statsTimer.unref()

  return {
    ingest,
    spool,
    quarantine,
    writers,
    targetStats,
    flushSightings,
    async drained(timeoutMs = 30_000) {
      const results = await Promise.all(writers.map((w) => w.drained(timeoutMs)))
      return results.every(Boolean)
    },
    async stop({ drainMs = 5000 } = {}) {
      clearInterval(touchTimer)
      clearInterval(statsTimer)
      flushSightings()
      // Give the writers a moment to empty the spool; whatever is left is
      // safe on disk and is written on the next start.
      if (drainMs > 0) await Promise.all(writers.map((w) => w.drained(drainMs)))
      await Promise.all(writers.map((w) => w.stop()))
      await spool.close()
    },
  }
}
