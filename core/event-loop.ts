import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'
import type { MetricFamily, MetricsSource } from './metrics.ts'

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
export class EventLoopDelayMonitor implements MetricsSource {
  private readonly histogram: IntervalHistogram
  private readonly timer: NodeJS.Timeout
  private last: LoopDelay = { p50Ms: 0, p99Ms: 0, maxMs: 0 }
  /** Over every completed window since start: how many delays were sampled, and their sum. */
  private totalCount = 0
  private totalDelayMs = 0

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
    // The histogram keeps no sum; count × mean is it. Subtracting the
    // interval from the mean, not from each sample, slightly undercounts a
    // window where some samples came in under it (timer jitter).
    this.totalCount += h.count
    this.totalDelayMs += h.count > 0 ? h.count * Math.max(0, h.mean / 1e6 - RESOLUTION_MS) : 0
    h.reset()
  }

  snapshot(): LoopDelay {
    return this.last
  }

  metrics(): MetricFamily[] {
    const d = this.last
    return [
      {
        name: 'tidewatch_event_loop_delay_seconds',
        help: 'Event-loop delay: quantiles over the last completed 10 s window (1 = max), count and sum over all completed windows; every PUBACK and answer waits behind it',
        type: 'summary',
        samples: [
          {
            quantiles: [
              [0.5, d.p50Ms / 1000],
              [0.99, d.p99Ms / 1000],
              [1, d.maxMs / 1000],
            ],
            sum: this.totalDelayMs / 1000,
            count: this.totalCount,
          },
        ],
      },
    ]
  }

  stop(): void {
    clearInterval(this.timer)
    this.histogram.disable()
  }
}
