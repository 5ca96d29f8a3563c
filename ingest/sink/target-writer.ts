import { backoffWindow, fullJitter, type Backoff } from '../../core/backoff.ts'
import type { Logger } from '../../core/log.ts'
import type { Spool, SpoolBatch } from '../spool/spool.ts'
import { classifyWriteError, type WriteTransport } from '../../influx/write-transport.ts'

/**
 * Drains one target's spool cursor into InfluxDB, in order. A batch is
 * committed (cursor advanced) only after InfluxDB answered 2xx for it and
 * for every batch before it, so a crash between write and commit re-sends
 * batches, which overwrite themselves (a point's identity is stable). With
 * `writesInFlight` > 1 the next batches are sent while one is pending; when
 * the oldest fails, the ones after it are awaited and re-sent from the cursor.
 *
 * Retry policy: network errors, 5xx, 429, 401/403 are retried forever with
 * exponential backoff and full jitter (the data is safe on disk, so giving up
 * would only lose it). A 400 "partial write" stored the good lines; the bad
 * ones are counted and logged and the cursor moves on.
 */
export interface TargetWriterOptions {
  batchPoints: number
  flushIntervalMs: number
  /** Batches in flight at once (default 1); they commit in spool order. */
  writesInFlight?: number
  minBackoffMs?: number
  maxBackoffMs?: number
  random?: () => number
}

export interface TargetStats {
  target: string
  up: boolean
  writtenPoints: number
  writeBatches: number
  writeErrors: number
  rejectedLines: number
  lagReadings: number
  lastError?: string
  lastWriteAt?: number
  /** Successful write durations: percentiles over the last WRITE_SAMPLES writes; count and sum since start (a Prometheus summary). */
  writeMs: { p50: number; p99: number; max: number; count: number; sumMs: number }
}

/** Write durations kept for the percentiles in stats(). */
const WRITE_SAMPLES = 1024

interface InFlightWrite {
  batch: SpoolBatch
  /** undefined when InfluxDB stored the batch; otherwise the error. */
  outcome: Promise<unknown>
}

export class TargetWriter {
  private running = false
  private loop: Promise<void> | undefined
  private wake: (() => void) | undefined
  private up = true
  private readonly counters = { writtenPoints: 0, writeBatches: 0, writeErrors: 0, rejectedLines: 0 }
  private lastError: string | undefined
  private lastWriteAt: number | undefined
  /** 0: never wake on append; 1: on any append; n: once n records are waiting. */
  private wakeAtLag = 0
  private readonly onAppend = (): void => {
    if (this.wakeAtLag > 0 && this.spool.lag(this.name) >= this.wakeAtLag) this.wake?.()
  }

  constructor(
    private readonly spool: Spool,
    private readonly transport: WriteTransport,
    private readonly opts: TargetWriterOptions,
    private readonly log: Logger,
  ) {
    spool.addCursor(transport.name)
  }

  get name(): string {
    return this.transport.name
  }

  start(): void {
    if (this.running) return
    this.running = true
    this.spool.on('append', this.onAppend)
    this.loop = this.run()
  }

  /** Stops after the in-flight batch; what is left stays in the spool for the next start. */
  async stop(): Promise<void> {
    this.running = false
    this.spool.off('append', this.onAppend)
    this.wake?.()
    await this.loop
  }

  /** Resolves when everything spooled so far has been written (or the writer stops). */
  async drained(timeoutMs = 30_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      if (this.spool.lag(this.name) === 0) return true
      await sleep(20)
    }
    return this.spool.lag(this.name) === 0
  }

  /** Sleeps; stop() always wakes it, new spool data only when `onAppend` is set. */
  private async sleepOrWake(ms: number, wakeAtLag = 1): Promise<void> {
    this.wakeAtLag = wakeAtLag
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms)
      function done(): void {
        clearTimeout(timer)
        resolve()
      }
      this.wake = done
    })
    this.wake = undefined
  }

  private async run(): Promise<void> {
    // A 5 s cap keeps recovery prompt after an outage; one retry per 5 s is no load on a down InfluxDB.
    const retry: Backoff = { baseMs: this.opts.minBackoffMs ?? 100, capMs: this.opts.maxBackoffMs ?? 5_000 }
    let failures = 0
    // Full jitter: the DC and DR writers of many processes spread their retries.
    const pause = (): Promise<void> => this.sleepOrWake(fullJitter(backoffWindow(failures++, retry), random), 0)
    const random = this.opts.random ?? Math.random
    const maxInFlight = Math.max(1, this.opts.writesInFlight ?? 1)
    // Let small live batches gather for a moment instead of one HTTP request
    // per reading, but not once a worthwhile batch (~1/40 of a full one, ~500
    // points) is waiting: at 5k readings/s that is 25 ms, not a full flush
    // interval of added latency (docs/PERFORMANCE.md).
    const worthwhile = Math.max(1, Math.floor(this.opts.batchPoints / 40))
    const inFlight: InFlightWrite[] = []
    const send = async (after?: InFlightWrite): Promise<boolean> => {
      const batch = await this.spool.read(this.name, this.opts.batchPoints, after?.batch.end)
      if (!batch) return false
      const startedAt = performance.now()
      const outcome = this.transport.writeBody(batch.body).then(
        () => {
          this.recordWriteMs(performance.now() - startedAt)
          return undefined
        },
        (err: unknown) => err ?? new Error('write failed'),
      )
      inFlight.push({ batch, outcome })
      return true
    }
    while (this.running) {
      if (inFlight.length === 0 && !(await send())) {
        await this.sleepOrWake(this.opts.flushIntervalMs * 5)
        continue
      }
      // Pipeline: while the oldest write is pending, send the next batch if a
      // worthwhile one is waiting behind everything in flight.
      while (inFlight.length < maxInFlight && this.running) {
        const last = inFlight[inFlight.length - 1]!
        if (this.spool.headSeq - last.batch.lastSeq < worthwhile) break
        if (!(await send(last))) break
      }
      const head = inFlight[0]!
      const err = await head.outcome
      if (err === undefined) {
        inFlight.shift()
        this.commit(head.batch, head.batch.count)
        failures = 0
        if (inFlight.length === 0 && head.batch.count < this.opts.batchPoints) await this.sleepOrWake(this.opts.flushIntervalMs, worthwhile)
        continue
      }
      const kind = classifyWriteError(err)
      this.counters.writeErrors++
      this.lastError = (err as Error).message
      if (kind === 'partial') {
        inFlight.shift()
        const dropped = Number(/dropped=(\d+)/.exec((err as { body?: string }).body ?? '')?.[1] ?? 0)
        this.counters.rejectedLines += dropped
        this.log.error({ target: this.name, err: this.lastError, dropped }, 'InfluxDB rejected some lines (type conflict); the rest were stored')
        this.commit(head.batch, head.batch.count - dropped)
        continue
      }
      // The oldest batch failed: nothing after it may commit. Let the later
      // writes finish (their points are stored or not; both are fine) and
      // re-send everything from the cursor after the backoff.
      await Promise.all(inFlight.map((w) => w.outcome))
      inFlight.length = 0
      if (kind === 'missing_db') {
        this.log.warn({ target: this.name }, 'database missing; creating it')
        await this.transport.ensureDatabase().catch((e: Error) => this.log.warn({ target: this.name, err: e.message }, 'cannot prepare the database yet'))
        // Back off as for any failure, so a target that refuses CREATE is not hammered.
        await pause()
        continue
      }
      if (this.up) this.log.warn({ target: this.name, err: this.lastError, lag: this.spool.lag(this.name) }, 'InfluxDB write failed; spooling and retrying')
      this.up = false
      await pause()
    }
    // Stopping: wait for what was sent and commit what succeeded, in order.
    for (const w of inFlight) {
      if ((await w.outcome) !== undefined) break
      this.commit(w.batch, w.batch.count)
    }
  }

  private commit(batch: SpoolBatch, written: number): void {
    this.spool.commit(this.name, batch.end)
    if (!this.up) this.log.info({ target: this.name }, 'InfluxDB writes recovered; draining spool')
    this.up = true
    this.counters.writtenPoints += written
    this.counters.writeBatches++
    this.lastWriteAt = Date.now()
  }

  private readonly writeMs = new Float64Array(WRITE_SAMPLES)
  private writeMsCount = 0
  private writeMsSum = 0

  private recordWriteMs(ms: number): void {
    this.writeMs[this.writeMsCount++ % WRITE_SAMPLES] = ms
    this.writeMsSum += ms
  }

  private writePercentiles(): TargetStats['writeMs'] {
    const n = Math.min(this.writeMsCount, WRITE_SAMPLES)
    if (n === 0) return { p50: 0, p99: 0, max: 0, count: 0, sumMs: 0 }
    const sorted = this.writeMs.slice(0, n).sort()
    const at = (q: number): number => Math.round(sorted[Math.min(n - 1, Math.floor(q * n))]! * 10) / 10
    return { p50: at(0.5), p99: at(0.99), max: Math.round(sorted[n - 1]! * 10) / 10, count: this.writeMsCount, sumMs: this.writeMsSum }
  }

  stats(): TargetStats {
    return {
      writeMs: this.writePercentiles(),
      target: this.name,
      up: this.up,
      ...this.counters,
      lagReadings: this.spool.lag(this.name),
      lastError: this.lastError,
      lastWriteAt: this.lastWriteAt,
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}
