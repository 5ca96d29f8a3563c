import type { Logger } from '../core/log.ts'

/**
 * Hands alert_event and notification lines to InfluxDB off the alerting
 * path: one write in flight, the rest buffered. The buffer is bounded and
 * drops its oldest lines first (they are history; the SQLite tables keep the
 * record); every line dropped or refused is counted.
 */
export type WritePoints = (lines: string[]) => Promise<void>

/** A memory bound, about 10 MB at 200 bytes a line; the SQLite tables keep the full record anyway. */
const POINTS_MAX = 50_000

export class PointsWriter {
  private readonly buffer: string[] = []
  private inFlight = false
  /** Lines lost to the bound or to a failed write. */
  dropped = 0

  /** Without `write` (no InfluxDB configured) lines are discarded and not counted. */
  constructor(
    private readonly write: WritePoints | undefined,
    private readonly log: Logger,
    private readonly max = POINTS_MAX,
  ) {}

  push(lines: string[]): void {
    if (!this.write) return
    this.buffer.push(...lines)
    if (this.buffer.length > this.max) this.dropped += this.buffer.splice(0, this.buffer.length - this.max).length
    if (this.inFlight) return
    this.inFlight = true
    setImmediate(() => this.writeBuffered(this.write!))
  }

  private writeBuffered(write: WritePoints): void {
    const batch = this.buffer.splice(0, this.buffer.length)
    write(batch)
      .catch((err: Error) => {
        this.dropped += batch.length
        this.log.warn({ err: err.message, lines: batch.length }, 'alert points not written')
      })
      .finally(() => {
        this.inFlight = false
        if (this.buffer.length) this.push([])
      })
  }
}
