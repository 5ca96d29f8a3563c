import type { AcceptedReading } from '../core/reading.ts'
import type { Logger } from '../core/log.ts'

/**
 * Accepted readings waiting for evaluation. `push` only enqueues and
 * schedules one drain on the next turn of the event loop, so the ingest is
 * never blocked by the alerter. Bounded by `alerts.queueMax`; on overflow the
 * oldest readings are dropped, counted and logged: the newest reading
 * describes the water now.
 */
export class ReadingQueue {
  private readonly queue: AcceptedReading[] = []
  private scheduled = false
  dropped = 0

  constructor(
    private readonly max: number,
    private readonly log: Logger,
    private readonly onReady: () => void,
  ) {}

  get depth(): number {
    return this.queue.length
  }

  push(readings: readonly AcceptedReading[]): void {
    for (const r of readings) this.queue.push(r)
    if (this.queue.length > this.max) {
      const n = this.queue.length - this.max
      this.queue.splice(0, n)
      this.dropped += n
      this.log.warn({ dropped: n, total: this.dropped }, 'alert queue overflow, oldest readings dropped')
    }
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(() => {
        this.scheduled = false
        this.onReady()
      })
    }
  }

  /** Removes and returns up to `n` of the oldest readings. */
  take(n: number): AcceptedReading[] {
    return this.queue.splice(0, n)
  }
}
