import type { Logger } from '../core/log.ts'
import type { Registry } from '../devices/registry.ts'
import type { Ingest } from './ingest.ts'
import type { IngestLanes } from './lanes.ts'
import type { TargetRow } from './writers.ts'

/** Last-seen is bookkeeping, not data: batched this often to keep SQLite writes off the hot path. */
const SIGHTINGS_EVERY_MS = 5_000
/** One `ingest_stats` point per target this often, for the data-quality dashboard (docs/DATA.md). */
const STATS_EVERY_MS = 10_000

export interface BookkeepingDeps {
  ingest: Ingest
  registry: Registry
  lanes: IngestLanes
  targetRows(): Promise<TargetRow[]>
  clock: () => number
  log: Logger
}

/**
 * The ingest's periodic bookkeeping, off the hot path: station sightings to
 * the registry in one SQLite transaction per interval instead of a write per
 * message, and self-monitoring points (`ingest_stats`) through the live lane
 * for the data-quality dashboard.
 */
export class IngestBookkeeping {
  private readonly sightingsTimer: NodeJS.Timeout
  private readonly statsTimer: NodeJS.Timeout

  constructor(private readonly deps: BookkeepingDeps) {
    this.sightingsTimer = setInterval(() => this.flushSightings(), SIGHTINGS_EVERY_MS)
    this.sightingsTimer.unref()
    this.statsTimer = setInterval(() => void this.recordStats(), STATS_EVERY_MS)
    this.statsTimer.unref()
  }

  /** Writes last-seen and clock offsets to the registry now. */
  flushSightings(): void {
    const seen = this.deps.ingest.takeLastSeen()
    if (seen.size) this.deps.registry.touchMany(seen)
  }

  /** Appends one `ingest_stats` point per target to the live lane; a failure is logged and the next interval tries again. */
  async recordStats(): Promise<void> {
    const { ingest, lanes, clock, log } = this.deps
    try {
      const rows = await this.deps.targetRows()
      const c = ingest.counters
      const now = clock()
      const spoolBytes = lanes.stats().bytes
      const lines = rows.map(
        (s) =>
          `ingest_stats,target=${s.target} received=${c.payloads}i,accepted=${c.readingsAccepted}i,rejected=${ingest.rejectedTotal()}i,spool_bytes=${spoolBytes}i,lag_readings=${s.lagReadings}i,lag_seconds=${s.lagSeconds} ${now}`,
      )
      if (lines.length) await lanes.live.append([{ receivedAt: now, lines }])
    } catch (err) {
      log.warn({ err }, 'cannot record ingest stats')
    }
  }

  /** Stops the timers and records the last sightings. */
  stop(): void {
    clearInterval(this.sightingsTimer)
    clearInterval(this.statsTimer)
    this.flushSightings()
  }
}
