/**
 * Reconnect delays. MQTT.js on its own retries every `reconnectPeriod` (1 s)
 * with no backoff and no jitter; after a tower or broker outage thousands of
 * stations would then reconnect in lockstep. "Full jitter" (AWS Architecture
 * Blog, "Exponential Backoff And Jitter", 2015) spreads them uniformly over
 * [0, min(cap, base·2^attempt)], which gave the lowest total work there.
 */
import type { Rng } from './prng.ts'

export interface BackoffOptions {
  /** First retry window, ms. Default 1,000. */
  readonly baseMs?: number
  /** Largest window, ms. Default 60,000. */
  readonly capMs?: number
}

export const BACKOFF_DEFAULTS = Object.freeze({ baseMs: 1_000, capMs: 60_000 })

/** A floor so a draw near 0 cannot turn a refused connect into a busy loop. */
const MIN_DELAY_MS = 50

/** Delay before retry number `attempt` (0 = first retry after a failure). */
export function fullJitterDelay(attempt: number, rng: Rng, options: BackoffOptions = {}): number {
  const { baseMs, capMs } = { ...BACKOFF_DEFAULTS, ...options }
  // 2^attempt overflows to Infinity for large attempts; min() handles that.
  const window = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 52))
  return Math.max(Math.min(MIN_DELAY_MS, window), Math.floor(rng.next() * window))
}
