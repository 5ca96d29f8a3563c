import { join } from 'node:path'
import type { Config } from '../core/config.ts'
import type { Logger } from '../core/log.ts'
import type { MetricFamily, MetricsSource } from '../core/metrics.ts'
import { openDatabase } from '../core/sqlite.ts'
import type { AcceptedReading } from '../core/reading.ts'
import type { Registry } from '../devices/registry.ts'
import type { WriteTransport } from '../influx/write-transport.ts'
import { IngestBookkeeping } from './bookkeeping.ts'
import { FeedbackPublisher } from './feedback.ts'
import { Ingest } from './ingest.ts'
import { IngestLanes, type LanesStats } from './lanes.ts'
import { feedbackFamilies, ingestFamilies, quarantineFamilies } from './metrics.ts'
import { QuarantineStore } from './quarantine.ts'
import type { TargetWriter } from './sink/target-writer.ts'
import type { Spool } from './spool/spool.ts'
import { TargetWriters, targetTransports, type TargetRow } from './writers.ts'

export type { LanesStats } from './lanes.ts'

/**
 * The ingest as a running service, assembled from its parts: the two spool
 * lanes (lanes.ts), the quarantine, the validating Ingest (ingest.ts), the
 * writers per InfluxDB target (writers.ts) and the periodic bookkeeping
 * (bookkeeping.ts). The MQTT side (embedded gate or external-broker source)
 * is attached by the caller.
 */
export interface IngestService extends MetricsSource {
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
  targetStats(): Promise<TargetRow[]>
  /** Writes last-seen and clock offsets to the registry now (a timer does it every 5 s). */
  flushSightings(): void
  /** Waits until every target has written everything spooled so far. */
  drained(timeoutMs?: number): Promise<boolean>
  stop(opts?: { drainMs?: number }): Promise<void>
  /** The ingest's, the spool lanes', the quarantine's, the feedback's and the writers' families. */
  metrics(): Promise<MetricFamily[]>
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
  const lanes = await IngestLanes.open(config, log)
  const quarantine = new QuarantineStore(openDatabase(join(config.dataDir, 'quarantine.db')), config.ingest.quarantineMaxRows, log.child({ component: 'quarantine' }))
  const feedback = new FeedbackPublisher({ log: log.child({ component: 'feedback' }), clock })
  const ingest = new Ingest({
    config,
    stations: deps.registry,
    spool: lanes.backlog,
    liveSpool: lanes.live,
    quarantine,
    log: log.child({ component: 'ingest' }),
    clock,
    onAccepted: deps.onAccepted,
    feedback,
    // The registry is asked once a second whether any station changed (a
    // disable or recalibration applies within that time); contexts are
    // re-read only then, not 1,000 stations × 2 queries every second.
    contextTtlMs: deps.contextTtlMs ?? 1000,
  })
  const writers = new TargetWriters(deps.transports ?? targetTransports(config), lanes, config, log)
  await writers.start(log)
  const targetStats = (): Promise<TargetRow[]> => writers.stats(clock)
  const bookkeeping = new IngestBookkeeping({ ingest, registry: deps.registry, lanes, targetRows: targetStats, clock, log })

  return {
    ingest,
    spool: lanes.backlog,
    liveSpool: lanes.live,
    quarantine,
    feedback,
    writers: writers.all,
    spoolStats: () => lanes.stats(),
    lag: (target) => lanes.lag(target),
    targetStats,
    flushSightings: () => bookkeeping.flushSightings(),
    drained: (timeoutMs = 30_000) => writers.drained(timeoutMs),
    metrics: async () => [
      ...ingestFamilies(ingest.counters),
      ...lanes.metrics(),
      ...quarantineFamilies(quarantine),
      ...feedbackFamilies(feedback.counters),
      ...(await writers.metrics(clock)),
    ],
    async stop({ drainMs = 5000 } = {}) {
      bookkeeping.stop()
      feedback.stop()
      // Give the writers a moment to empty the spool; whatever is left is
      // safe on disk and is written on the next start.
      if (drainMs > 0) await writers.drained(drainMs)
      await writers.stop()
      await lanes.close()
    },
  }
}
