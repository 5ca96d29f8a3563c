import { backoffWindow, equalJitter, type Backoff } from '../../core/backoff.ts'
import type { Logger } from '../../core/log.ts'
import type { MetadataChange, MetadataRepository } from './repository.ts'

/**
 * Follows a repository's change feed for a node-local copy (replica.ts keeps
 * it in memory, mirror.ts in the node's SQLite registry), one rule for both:
 * - each change re-reads that one entity; changes for one key arriving while
 *   it is read are read again after, in order, so the last read wins;
 * - { kind: 'resync' } (the feed reconnected) or any failed read reloads
 *   everything, retried with backoff until it succeeds;
 * - the queue of entities to re-read is bounded (maxPending): past it, the
 *   queue is dropped and everything is reloaded instead, counted and logged;
 * - one read at a time, so a copy is never written by two reads at once.
 */
export interface FollowCounters {
  /** Changes applied one entity at a time. */
  changes: number
  /** Full reloads done (the first load included). */
  reloads: number
  /** Reads that failed (the database away); each leads to a reload with backoff. */
  failures: number
  /** Times the pending queue overflowed into a full reload. */
  overflows: number
}

export interface FollowOptions {
  /** Reads everything; the copy is swapped or rewritten whole. */
  reload(): Promise<void>
  /** Re-reads one entity. */
  apply(change: MetadataChange & { id: string }): Promise<void>
  /** The queue key of a change, so repeated changes of one entity are read once; undefined: not followed. */
  keyOf?(change: MetadataChange & { id: string }): string | undefined
  /** Entities waiting to be re-read before a full reload is cheaper; 10,000 is a province's stations ×10 (FIELD-NOTES: 10^2–10^3). */
  maxPending?: number
  /** Retry delays of a failed read (core/backoff.ts): one client retrying one server. */
  retry?: Backoff
  log?: Logger
  /** What is followed, for the log. */
  what: string
}

export class FeedFollower {
  readonly counters: FollowCounters = { changes: 0, reloads: 0, failures: 0, overflows: 0 }
  private readonly pending = new Map<string, MetadataChange & { id: string }>()
  /** Other work to run in the same loop (e.g. a poll), by name; runs after the queue. */
  private readonly tasks = new Map<string, () => Promise<void>>()
  private reloadWanted = false
  private running = false
  private stopped = false
  private attempt = 0
  private retryTimer: NodeJS.Timeout | undefined
  private idleWaiters: Array<() => void> = []
  private readonly unwatch: () => void

  /** Watches at once: a change committed during the first load is read again after it. */
  constructor(repo: MetadataRepository, private readonly opts: FollowOptions) {
    this.unwatch = repo.watch((change) => this.enqueue(change))
  }

  /** Loads everything once; rejects if the repository cannot be read now (nothing to serve yet). */
  async start(): Promise<void> {
    // Held as running, so changes arriving during the first load wait for it instead of racing it.
    this.running = true
    try {
      await this.opts.reload()
      this.counters.reloads++
    } catch (err) {
      this.stop()
      throw err
    } finally {
      this.running = false
    }
    this.kick()
  }

  stop(): void {
    this.stopped = true
    this.unwatch()
    clearTimeout(this.retryTimer)
    for (const w of this.idleWaiters.splice(0)) w()
  }

  /** Runs `task` in the loop (once, however often it is asked for before it runs). */
  request(name: string, task: () => Promise<void>): void {
    if (this.stopped) return
    this.tasks.set(name, task)
    this.kick()
  }

  /** Resolves when nothing is waiting to be read (tests, and a node's readiness probe). */
  idle(): Promise<void> {
    if (!this.running && !this.retryTimer && !this.busy()) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  private busy(): boolean {
    return this.reloadWanted || this.pending.size > 0 || this.tasks.size > 0
  }

  /** A change to read (from the feed, or one the owner knows of: a failed compare-and-set). */
  enqueue(change: MetadataChange): void {
    if (this.stopped) return
    if (change.kind === 'resync') {
      this.reloadWanted = true
    } else if (this.reloadWanted) {
      // A reload that has not started yet reads this change too.
    } else {
      const key = this.opts.keyOf ? this.opts.keyOf(change) : `${change.kind}|${change.id}`
      if (key === undefined) return
      if (this.pending.size >= (this.opts.maxPending ?? 10_000)) {
        this.counters.overflows++
        this.opts.log?.warn({ maxPending: this.opts.maxPending ?? 10_000 }, `${this.opts.what}: change queue full; dropping it and reloading everything`)
        this.pending.clear()
        this.reloadWanted = true
      } else {
        // Re-inserted at the end: a key changed again is read after the read in flight.
        this.pending.delete(key)
        this.pending.set(key, change)
      }
    }
    this.kick()
  }

  private kick(): void {
    if (this.running || this.stopped || this.retryTimer) return
    this.running = true
    void this.loop()
  }

  private async loop(): Promise<void> {
    try {
      while (!this.stopped && this.busy()) {
        if (this.reloadWanted) {
          this.reloadWanted = false
          // What is queued now is covered by the reload; what arrives during it is read after.
          this.pending.clear()
          await this.opts.reload()
          this.counters.reloads++
        } else if (this.pending.size > 0) {
          const [key, change] = this.pending.entries().next().value as [string, MetadataChange & { id: string }]
          this.pending.delete(key)
          await this.opts.apply(change)
          this.counters.changes++
        } else {
          const [name, task] = this.tasks.entries().next().value as [string, () => Promise<void>]
          this.tasks.delete(name)
          await task()
        }
      }
      this.attempt = 0
    } catch (err) {
      this.counters.failures++
      this.reloadWanted = true
      const delay = equalJitter(backoffWindow(this.attempt++, this.opts.retry ?? { baseMs: 200, capMs: 5_000 }))
      this.opts.log?.warn({ err, retryInMs: delay }, `${this.opts.what}: read failed; serving the last copy and reloading later`)
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined
        this.kick()
      }, delay)
      this.retryTimer.unref()
    } finally {
      this.running = false
      if (!this.retryTimer && this.busy() && !this.stopped) this.kick()
      else if (!this.retryTimer) for (const w of this.idleWaiters.splice(0)) w()
    }
  }
}
