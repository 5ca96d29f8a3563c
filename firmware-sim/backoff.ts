/**
 * Station reconnect delays. MQTT.js on its own retries every
 * `reconnectPeriod` (1 s) with no backoff and no jitter; after a tower or
 * broker outage thousands of stations would then reconnect in lockstep. Full
 * jitter (core/backoff.ts) spreads them out.
 */
import { backoffWindow, fullJitter } from '../core/backoff.ts'
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
  const window = backoffWindow(attempt, { ...BACKOFF_DEFAULTS, ...options })
  // The station's own seeded draw, so a simulated fleet is reproducible.
  return Math.max(Math.min(MIN_DELAY_MS, window), fullJitter(window, () => rng.next()))
}
