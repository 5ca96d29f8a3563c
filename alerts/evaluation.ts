import type Database from 'better-sqlite3'
import type { Logger } from '../core/log.ts'
import type { AcceptedReading } from '../core/reading.ts'
import type { Registry } from '../devices/registry.ts'
import type { RuleBook } from '../levels/book.ts'
import type { TransitionDispatch } from './dispatch.ts'
import type { Engine, Transition } from './engine.ts'
import type { PointsWriter } from './points-writer.ts'
import type { ReadingQueue } from './reading-queue.ts'

/**
 * The hand-off from the readings to the engine: queued readings are
 * evaluated in transactions of DRAIN_BATCH, and silent stations are checked
 * against their interval. Each state change is dispatched inside the same
 * transaction, so an outbox row exists exactly when its state change does;
 * the points and the outbox pump follow after the commit.
 */
export interface EvaluationDeps {
  db: Database.Database
  registry: Registry
  rules: RuleBook
  engine: Engine
  dispatch: TransitionDispatch
  points: PointsWriter
  outbox: { kick(): void }
  /** A station is silent after noDataFactor × its reporting interval. */
  noDataFactor: number
  clock: () => number
  log: Logger
}

/** Readings per transaction: long enough to amortise the commit, short enough not to hold the event loop. */
const DRAIN_BATCH = 500

export class Evaluation {
  /** Stations never heard from count as heard when the alerter started, not at the epoch. */
  private readonly startedAt: number
  private readonly evaluateBatch: (batch: AcceptedReading[], now: number, lines: string[]) => number

  constructor(private readonly deps: EvaluationDeps) {
    this.startedAt = deps.clock()
    this.evaluateBatch = deps.db.transaction((batch: AcceptedReading[], now: number, lines: string[]) => {
      deps.rules.sync()
      let queued = 0
      for (const r of batch) queued += deps.dispatch.apply(deps.engine.evaluate(r, now), now, lines)
      return queued
    })
  }

  /** Evaluates everything in the queue now. */
  drain(queue: ReadingQueue): void {
    this.deps.dispatch.forgetStations()
    for (let batch = queue.take(DRAIN_BATCH); batch.length; batch = queue.take(DRAIN_BATCH)) {
      const lines: string[] = []
      let queued = 0
      try {
        queued = this.evaluateBatch(batch, this.deps.clock(), lines)
      } catch (err) {
        // A failed transaction leaves no trace; the next reading re-evaluates.
        this.deps.log.error({ err: (err as Error).message, readings: batch.length }, 'alert evaluation failed')
      }
      this.settle(lines, queued > 0)
    }
  }

  /** Opens or keeps a no-data alert for every enabled station silent too long. */
  checkNoData(): Transition[] {
    const { db, registry, engine, dispatch, noDataFactor } = this.deps
    const now = this.deps.clock()
    const lines: string[] = []
    const all: Transition[] = []
    db.transaction(() => {
      for (const s of registry.list()) {
        if (!s.enabled) continue
        const heard = Math.max(engine.lastHeard.get(s.id) ?? 0, s.lastSeenAt ?? 0) || this.startedAt
        if (now - heard > noDataFactor * s.intervalSec * 1000) {
          const ts = engine.noData(s.id, heard, now)
          dispatch.knowStation(s)
          dispatch.apply(ts, now, lines)
          all.push(...ts)
        }
      }
    })()
    this.settle(lines, all.length > 0)
    return all
  }

  /** After the commit: the points to InfluxDB, and the outbox pump woken when there may be rows to send. */
  private settle(lines: string[], wakeOutbox: boolean): void {
    if (lines.length) this.deps.points.push(lines)
    if (wakeOutbox) this.deps.outbox.kick()
  }
}
