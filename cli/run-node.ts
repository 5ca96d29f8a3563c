import type { Io } from './args.ts'

/** How often a cluster node (edge, writer) logs its figures while running: often enough to follow a backlog, rarely enough to read. */
export const STATS_LOG_EVERY_MS = 60_000

/**
 * Keeps a started cluster node running until `until` resolves (Ctrl-C, or a
 * SIGTERM), logging its figures every STATS_LOG_EVERY_MS, then stops it.
 */
export async function runUntilStopped(node: { stop(): Promise<void> }, opts: { until: Promise<void>; io: Io; logStats: () => void }): Promise<void> {
  const timer = setInterval(opts.logStats, STATS_LOG_EVERY_MS)
  timer.unref()
  try {
    await opts.until
  } finally {
    clearInterval(timer)
    opts.io.stdout('Stopping…')
    await node.stop()
  }
}
