import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'

const RESOLUTION_MS = 10

export interface LoopDelay {
  p50Ms: number
  p99Ms: number
  maxMs: number
}

/**
 * Event-loop delay over the last completed window (default 10 s). Every
 * PUBACK, spool commit and API answer waits behind a blocked loop, so this
 * is the first number to look at when latency has a tail.
 */
export class EventLoopDelayMonitor {
  private readonly histogram: IntervalHistogram
  private readonly timer: NodeJS.Timeout
  private last: LoopDelay = { p50Ms: 0, p99Ms: 0, maxMs: 0 }

  constructor(windowMs = 10_000) {
    this.histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS })
    this.histogram.enable()
    this.timer = setInterval(() => this.rotate(), windowMs)
    this.timer.unref()
  }

  private rotate(): void {
    const h = this.histogram
    // The histogram records each sampling interval whole; the delay is what exceeds it.
    const delay = (ns: number): number => Math.max(0, Math.round((ns / 1e6 - RESOLUTION_MS) * 10) / 10)
    this.last = h.count > 0 ? { p50Ms: delay(h.percentile(50)), p99Ms: delay(h.percentile(99)), maxMs: delay(h.max) } : { p50Ms: 0, p99Ms: 0, maxMs: 0 }
    h.reset()
  }

  snapshot(): LoopDelay {
    return this.last
  }

  stop(): void {
    clearInterval(this.timer)
    this.histogram.disable()
  }
}
