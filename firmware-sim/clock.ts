/**
 * Time as an injected dependency, so tests can drive the station's sampling
 * and reconnect timers, and so "wall clock" and "simulated time" stay two
 * explicit things instead of Date.now() calls scattered around.
 */
export type TimerHandle = { readonly __timer: unique symbol }

export interface Clock {
  /** Wall-clock epoch milliseconds: what a station's RTC would say. */
  now(): number
  setTimeout(fn: () => void, ms: number): TimerHandle
  clearTimeout(handle: TimerHandle): void
}

export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms) as unknown as TimerHandle,
  clearTimeout: (handle: TimerHandle) => clearTimeout(handle as unknown as NodeJS.Timeout),
})
