import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { Logger } from '../core/log.ts'
import { backfillStations, type BackfillStation } from '../firmware-sim/backfill.ts'

/**
 * On the first `tidewatch up --demo`, the demo stations send the last 7 days
 * of 15-minute readings as store-and-forward batches (firmware-sim/backfill.ts),
 * so the charts and daily summaries show a week, not a dot. It runs in the
 * background at a bounded rate and never delays the live demo or /health.
 * A marker file in the data dir, written only once every batch has its
 * PUBACK, makes it happen once; an interrupted backfill is redone on the
 * next start (writes are idempotent: a point's identity is station, sensor
 * and timestamp).
 */
export const BACKFILL_MARKER = 'demo-backfilled'

export interface DemoBackfillOptions {
  readonly dataDir: string
  readonly brokerUrl: string
  readonly stations: readonly BackfillStation[]
  /** The ingest's late threshold (config.ingest.lateAfterSec): history ends before it, so every backfilled reading is late and none can alert. */
  readonly lateAfterSec: number
  /** Default 7. */
  readonly days?: number
  /** Default 200 ms between batches. */
  readonly pauseMs?: number
  readonly now?: number
  readonly ca?: string | Buffer
  readonly log: Logger
}

export interface DemoBackfill {
  /** Resolves when the backfill has finished, failed or been stopped. */
  readonly done: Promise<void>
  stop(): Promise<void>
}

/** Starts the backfill in the background, or returns undefined when the marker says it was done. */
export function startDemoBackfill(options: DemoBackfillOptions): DemoBackfill | undefined {
  const marker = join(options.dataDir, BACKFILL_MARKER)
  const log = options.log.child({ component: 'demo-backfill' })
  if (existsSync(marker)) return undefined
  const now = options.now ?? Date.now()
  const days = options.days ?? 7
  // A minute of margin so the newest backfilled reading is already late when it arrives.
  const toMs = now - options.lateAfterSec * 1000 - 60_000
  const fromMs = now - days * 86_400_000
  const abort = new AbortController()
  log.info({ stations: options.stations.length, days }, 'backfilling demo history in the background')
  const done = backfillStations({
    brokerUrl: options.brokerUrl,
    stations: options.stations,
    fromMs,
    toMs,
    pauseMs: options.pauseMs,
    ca: options.ca,
    signal: abort.signal,
    log,
  })
    .then((result) => {
      if (!result.complete) {
        log.warn({ acked: result.acked }, 'demo backfill incomplete; it is redone on the next start')
        return
      }
      mkdirSync(dirname(marker), { recursive: true })
      writeFileSync(marker, `${JSON.stringify({ at: new Date(now).toISOString(), fromMs, toMs, acked: result.acked })}\n`)
      log.info({ acked: result.acked }, 'demo history backfilled')
    })
    .catch((err: unknown) => log.error({ err }, 'demo backfill failed'))
  return {
    done,
    async stop() {
      abort.abort()
      await done
    },
  }
}
