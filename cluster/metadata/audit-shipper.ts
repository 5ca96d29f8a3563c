import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import type Database from 'better-sqlite3'
import type { AuditLog, AuditRecord } from '../../api/auth/audit.ts'
import { backoffWindow, equalJitter, type Backoff } from '../../core/backoff.ts'
import type { Logger } from '../../core/log.ts'
import { migrate } from '../../core/sqlite.ts'
import type { PostgresAuditLog } from './audit-postgres.ts'

/**
 * Ships a node's audit records to the cluster's PostgreSQL log (issue 16).
 *
 * Why record locally first: a change must be audited even when PostgreSQL is
 * briefly away (a restart, a failover), and a handler must not wait on the
 * network to audit. So every record is first written, synchronously, to the
 * node's own append-only SQLite log (api/auth/audit.ts, the same table the
 * single process uses), and this shipper copies it to PostgreSQL behind a
 * cursor. Each record's identity in the shared log is (node, local id):
 * shipping a batch again after a lost answer stores nothing twice, so the
 * cursor can simply be read back from PostgreSQL (the node's highest local id
 * there) whenever the shipper (re)starts, and no cursor is kept locally.
 *
 * Bounds: in memory, one batch of `batchSize` records at a time. On disk, the
 * unshipped records are the local log itself, which is never trimmed: an
 * audit record is never dropped. What is behind is counted (`backlog`), shown
 * on /health, and logged when it passes `warnBacklog`.
 */
export interface AuditShipperOptions {
  /** The node's local log (records are written here first). */
  local: AuditLog
  /** The database the local log lives in: the node's name in the shared log is kept there. */
  db: Database.Database
  shared: PostgresAuditLog
  log?: Logger
  /** Records per INSERT; 500 rows × 11 columns stays far below PostgreSQL's 65,535 bind parameters (unnest takes one per column anyway). */
  batchSize?: number
  /** A safety net for records written by another connection to the same file (the local log wakes the shipper itself). */
  pollMs?: number
  /** Retry delays while PostgreSQL is away: one client retrying one server (core/backoff.ts). */
  retry?: Backoff
  /** Backlog at which a warning is logged (again at each multiple); 10,000 is days of a province's staff changes. */
  warnBacklog?: number
  /**
   * How long stop() waits for the batch in flight before giving up on it: a node's shutdown must not hang
   * on a partitioned PostgreSQL. Nothing is lost (the records stay in the local log and ship at the next
   * start). 5 s: a healthy server answers a 500-row INSERT in milliseconds, and it is well inside a
   * supervisor's stop grace (systemd's TimeoutStopSec default is 90 s).
   */
  stopDeadlineMs?: number
}

export interface AuditShipperCounters {
  /** Records stored in PostgreSQL by this shipper. */
  shipped: number
  /** Records PostgreSQL already had (a batch shipped again after a lost answer). */
  duplicates: number
  /** Ship attempts that failed (PostgreSQL away); each is retried with backoff. */
  failures: number
  /** Records in the local log not yet in PostgreSQL, as of the last look. */
  backlog: number
}

const NODE_MIGRATIONS = [`CREATE TABLE audit_node (id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT NOT NULL);`]

/**
 * This node's name in the shared audit log, made once and kept with the local
 * log it names, so (node, local id) stays unique however many nodes run, and
 * a node restarted on the same data keeps its name.
 */
export function auditNodeName(db: Database.Database): string {
  migrate(db, 'audit_node', NODE_MIGRATIONS)
  db.prepare('INSERT OR IGNORE INTO audit_node (id, name) VALUES (1, ?)').run(`${hostname()}/${randomUUID()}`)
  return (db.prepare('SELECT name FROM audit_node WHERE id = 1').get() as { name: string }).name
}

export class AuditShipper {
  readonly node: string
  readonly counters: AuditShipperCounters = { shipped: 0, duplicates: 0, failures: 0, backlog: 0 }
  /** The highest local id PostgreSQL has; undefined until read from it. */
  private cursor: number | undefined
  private running = false
  private again = false
  private stopped = false
  private attempt = 0
  private retryTimer: NodeJS.Timeout | undefined
  private readonly pollTimer: NodeJS.Timeout
  private readonly unlisten: () => void
  private warnedAt = 0
  private idleWaiters: Array<() => void> = []
  lastError: string | undefined
  /** Set when another node ships under this node's name (a copied data dir): shipping stops, records stay local. */
  conflict: string | undefined

  constructor(private readonly opts: AuditShipperOptions) {
    this.node = auditNodeName(opts.db)
    this.unlisten = opts.local.onRecorded(() => this.kick())
    this.pollTimer = setInterval(() => this.kick(), opts.pollMs ?? 1_000)
    this.pollTimer.unref()
    this.kick()
  }

  /** Ships now (what is there and what arrives meanwhile); never throws. */
  kick(): void {
    if (this.stopped || this.conflict) return
    if (this.running || this.retryTimer) {
      this.again = true
      return
    }
    this.running = true
    void this.loop()
  }

  /** Resolves once nothing recorded so far is left to ship, or the shipper is waiting to retry. */
  idle(): Promise<void> {
    if (!this.running && (!this.again || this.conflict !== undefined)) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  /** Ships what it can now (within stopDeadlineMs), then stops (a node's shutdown); what is left ships at the node's next start. */
  async stop(): Promise<void> {
    if (!this.stopped && !this.retryTimer) {
      this.kick()
      let timer: NodeJS.Timeout | undefined
      const deadline = this.opts.stopDeadlineMs ?? 5_000
      const late = await Promise.race([
        this.idle().then(() => false),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), deadline))),
      ])
      clearTimeout(timer)
      if (late) this.opts.log?.warn({ deadlineMs: deadline, backlog: this.counters.backlog }, 'audit shipper stopped with a batch still unanswered (PostgreSQL unreachable?); its records stay in the local log and ship at the next start')
    }
    this.stopped = true
    this.unlisten()
    clearInterval(this.pollTimer)
    clearTimeout(this.retryTimer)
    for (const w of this.idleWaiters.splice(0)) w()
  }

  /**
   * True (and shipping stopped, logged, on /health) when PostgreSQL holds, under this node's name, records
   * this node's log does not have: the data dir was copied (its audit_node with it) and the copy shipped
   * too, or a backup was restored. (node, local id) would then silently drop one node's records as
   * "duplicates". Checked where the histories meet: at the cursor read from PostgreSQL (it must not be past
   * this log's end, and the record there must be this log's), and for every batch PostgreSQL did not take
   * whole. The records stay in the local log; docs/CLUSTER.md says how to give the copy its own name.
   */
  private async sharesName(cursor: number, batch?: readonly AuditRecord[]): Promise<boolean> {
    let problem: string | undefined
    const last = this.opts.local.lastId()
    if (!batch && cursor > last) problem = `PostgreSQL has records up to local id ${cursor} under this node's name, but this node's log ends at ${last}`
    else {
      const mine = batch ?? (cursor > 0 ? this.opts.local.after(cursor - 1, 1).filter((r) => r.id === cursor) : [])
      if (mine.length > 0) {
        const theirs = await this.opts.shared.shippedBetween(this.node, mine[0]!.id, mine[mine.length - 1]!.id)
        const other = mine.find((r) => {
          const t = theirs.get(r.id)
          return t !== undefined && (t.at !== r.at || t.action !== r.action || t.target !== r.target)
        })
        if (other) problem = `PostgreSQL's record ${other.id} under this node's name is not this node's (${theirs.get(other.id)!.action} ${theirs.get(other.id)!.target}, not ${other.action} ${other.target})`
      }
    }
    if (problem === undefined) return false
    this.conflict = problem
    this.lastError = `AUDIT_NODE_CONFLICT: ${problem}`
    this.counters.backlog = Math.max(0, last - (this.cursor ?? 0))
    this.opts.log?.error({ code: 'AUDIT_NODE_CONFLICT', node: this.node, detail: problem }, "another node ships audit records under this node's name (a copied data dir?); shipping stopped, records kept in the local log")
    return true
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false
        if (this.cursor === undefined) {
          const cursor = await this.opts.shared.cursorOf(this.node)
          if (await this.sharesName(cursor)) return
          this.cursor = cursor
        }
        for (;;) {
          if (this.stopped) return
          const batch = this.opts.local.after(this.cursor, this.opts.batchSize ?? 500)
          if (batch.length === 0) break
          const stored = await this.opts.shared.append(this.node, batch.map(({ id, ...e }) => ({ ...e, localId: id })))
          // Records PostgreSQL already had are a batch shipped again after a lost answer, or another node's.
          if (stored < batch.length && (await this.sharesName(this.cursor, batch))) return
          this.counters.shipped += stored
          this.counters.duplicates += batch.length - stored
          this.cursor = batch[batch.length - 1]!.id
        }
      } while (this.again && !this.stopped)
      this.counters.backlog = 0
      this.attempt = 0
      this.lastError = undefined
    } catch (err) {
      this.counters.failures++
      // Stopped past its deadline: the node may have closed the local log already; the next start ships it.
      if (this.stopped) return
      this.counters.backlog = Math.max(0, this.opts.local.lastId() - (this.cursor ?? 0))
      this.lastError = (err as Error).message
      // Read the cursor again after a failure: an INSERT that committed without its answer arriving moved it.
      this.cursor = undefined
      const delay = equalJitter(backoffWindow(this.attempt++, this.opts.retry ?? { baseMs: 250, capMs: 10_000 }))
      const warnEvery = this.opts.warnBacklog ?? 10_000
      if (this.attempt === 1 || this.counters.backlog >= this.warnedAt + warnEvery) {
        this.warnedAt = this.counters.backlog - (this.counters.backlog % warnEvery)
        this.opts.log?.warn({ err, backlog: this.counters.backlog, retryInMs: delay }, 'cannot ship audit records to PostgreSQL; they are kept in the local log and shipped when it is back')
      }
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined
        this.kick()
      }, delay)
      this.retryTimer.unref()
    } finally {
      this.running = false
      if (!this.retryTimer && this.again && !this.stopped && !this.conflict) this.kick()
      else for (const w of this.idleWaiters.splice(0)) w()
    }
  }
}
