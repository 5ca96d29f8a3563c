/**
 * Retry delays: one rule for every place that retries (station reconnects,
 * InfluxDB writes, the SMSC session, the SMS outbox).
 *
 * The window doubles from `baseMs` per attempt up to `capMs`. Full jitter
 * draws the delay uniformly from [0, window]: many clients retrying after
 * one outage then spread out instead of arriving in lockstep, which gave the
 * lowest total work in "Exponential Backoff And Jitter" (AWS Architecture
 * Blog, 2015). Equal jitter keeps at least half the window, for one client
 * retrying one peer, where a near-zero delay would only hammer it.
 */
export interface Backoff {
  readonly baseMs: number
  readonly capMs: number
}

/** The retry window for attempt number `attempt` (0 = the first retry). */
export function backoffWindow(attempt: number, { baseMs, capMs }: Backoff): number {
  // 2^attempt overflows to Infinity for large attempts; min() handles that.
  return Math.min(capMs, baseMs * 2 ** Math.min(Math.max(0, attempt), 52))
}

/** Uniform in [0, window]: for many clients retrying the same peer. */
export function fullJitter(window: number, random: () => number = Math.random): number {
  return Math.round(random() * window)
}

/** Uniform in [window/2, window]: for one client retrying one peer. */
export function equalJitter(window: number, random: () => number = Math.random): number {
  return Math.round(window / 2 + random() * (window / 2))
}
