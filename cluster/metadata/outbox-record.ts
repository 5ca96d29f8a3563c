import type pg from 'pg'
import { backoffWindow, equalJitter } from '../../core/backoff.ts'
import type { Logger } from '../../core/log.ts'
import type { OutboxRow } from '../../alerts/store.ts'

/**
 * The cluster's SMS outbox as a record in PostgreSQL (issue 16: PostgreSQL
 * holds "the registry, tokens, rules, subscribers, outbox and audit log").
 *
 * Not the fence: whether a message may be sent is decided by the claim in
 * JetStream KV, next to the lease (cluster/alerter/claiming-channel.ts,
 * docs/CLUSTER.md "Alerter", scenario 16). The leading alerter writes every
 * outbox row it creates and every status it reaches here AFTER KV, through
 * an OutboxRecorder that never holds up evaluating or sending; API nodes
 * copy it into their own SQLite (cluster/metadata/mirror.ts, copyOutbox),
 * where the console's outbox page and GET /alerts/messages read it.
 *
 * Writes are idempotent upserts by the notification's deterministic dedupe
 * key. (term, change) orders them: a leader's later change wins, and a
 * deposed leader still flushing never overwrites its successor's record.
 */
export type OutboxRecordRow = Omit<OutboxRow, 'id'>

/** The columns of alerts/store.ts alert_outbox, without its local id. */
const COLUMNS = [
  'dedupe_key', 'subscriber_id', 'channel', 'address', 'kind', 'station', 'sensor', 'incident', 'level', 'severity', 'text', 'encoding', 'segments',
  'status', 'reason', 'attempts', 'next_attempt_at', 'created_at', 'submitted_at', 'final_at', 'provider_id',
] as const satisfies ReadonlyArray<keyof OutboxRecordRow>

/** What a later change may move: the row's fate, never what it was (text, address, key). */
const CHANGING = ['status', 'reason', 'attempts', 'next_attempt_at', 'submitted_at', 'final_at', 'provider_id', 'segments', 'encoding'] as const

/** Statuses a new leader's reload may still correct: a killed leader may have moved on without recording it. */
const NOT_YET_SENT = `('queued', 'sending')`

/** Rows per INSERT: 500 × 24 parameters, well under PostgreSQL's 65,535 per statement. */
const BATCH_ROWS = 500

export interface RecordedChange {
  row: OutboxRecordRow
  node: string
  term: number
  /** Order of the changes of one leader (0: a reload at the start of its term). */
  change: number
}

export class PostgresOutboxLog {
  constructor(private readonly pool: pg.Pool) {}

  /**
   * Upserts changes (one per dedupe key). A reload (change 0) only adds
   * rows PostgreSQL lacks and corrects rows it still has as not yet sent:
   * KV does not keep receipts, so a reload must not turn 'delivered' back.
   */
  async record(changes: readonly RecordedChange[]): Promise<void> {
    for (let i = 0; i < changes.length; i += BATCH_ROWS) {
      const batch = changes.slice(i, i + BATCH_ROWS)
      const width = COLUMNS.length + 3
      const params: unknown[] = []
      const tuples = batch.map((c, r) => {
        for (const col of COLUMNS) params.push(c.row[col] ?? null)
        params.push(c.node, c.term, c.change)
        return `(${Array.from({ length: width }, (_, k) => `$${r * width + k + 1}`).join(', ')})`
      })
      await this.pool.query(
        `INSERT INTO alert_outbox (${COLUMNS.join(', ')}, node, term, change) VALUES ${tuples.join(', ')}
         ON CONFLICT (dedupe_key) DO UPDATE SET ${CHANGING.map((c) => `${c} = excluded.${c}`).join(', ')},
           node = excluded.node, term = excluded.term, change = excluded.change, changed = nextval('alert_outbox_changes')
         WHERE CASE WHEN excluded.change = 0 THEN alert_outbox.term < excluded.term AND alert_outbox.status IN ${NOT_YET_SENT}
                    ELSE (alert_outbox.term, alert_outbox.change) < (excluded.term, excluded.change) END`,
        params,
      )
    }
  }

  /** Rows created since `createdFrom` and changed after `cursor`, in the order of their changes, with PostgreSQL's id. */
  async changesSince(cursor: number, createdFrom: number, limit: number): Promise<Array<OutboxRow & { changed: number }>> {
    const res = await this.pool.query<OutboxRow & { changed: number }>(
      `SELECT id, ${COLUMNS.join(', ')}, changed FROM alert_outbox WHERE changed > $1 AND created_at >= $2 ORDER BY changed LIMIT $3`,
      [cursor, createdFrom, limit],
    )
    return res.rows
  }
}

export interface OutboxRecorderOptions {
  node: string
  log: Logger
  /**
   * Changes waiting for PostgreSQL, one per dedupe key. 20,000: a
   * province-wide incident reaching every farmer (10^2–10^3 stations,
   * docs/FIELD-NOTES "Domain", a few dozen farmers each) with a few statuses
   * per SMS, through a PostgreSQL outage of several minutes (judgment).
   * Beyond it the oldest waiting change is dropped, counted and logged: the
   * record lags, sending does not (KV fences it).
   */
  maxPending?: number
  /** How often waiting changes are written: staff see a status within about this long. */
  everyMs?: number
}

export interface OutboxRecorderCounters {
  recorded: number
  dropped: number
  failures: number
  pending: number
}

/**
 * The leader's side: collects outbox changes after they are in KV and
 * writes them to PostgreSQL in the background, with backoff while it is out
 * of reach. push() never blocks or throws.
 */
export class OutboxRecorder {
  private readonly pending = new Map<string, RecordedChange>()
  private readonly maxPending: number
  private readonly log: Logger
  private change = 0
  private attempt = 0
  private nextAt = 0
  private flushing: Promise<void> | null = null
  private readonly timer: NodeJS.Timeout
  private readonly stats = { recorded: 0, dropped: 0, failures: 0 }

  constructor(private readonly sink: Pick<PostgresOutboxLog, 'record'>, private readonly opts: OutboxRecorderOptions) {
    this.maxPending = opts.maxPending ?? 20_000
    this.log = opts.log.child({ component: 'outbox-record' })
    this.timer = setInterval(() => void this.flush(), opts.everyMs ?? 1000)
    this.timer.unref()
  }

  get counters(): OutboxRecorderCounters {
    return { ...this.stats, pending: this.pending.size }
  }

  /** Rows as this leader's term changed them, in order. */
  push(rows: readonly OutboxRecordRow[], term: number): void {
    for (const row of rows) this.put({ row, node: this.opts.node, term, change: ++this.change })
  }

  /** The outbox a new leader loaded from KV: recorded where PostgreSQL lacks it or has it as not yet sent. */
  reload(rows: readonly OutboxRecordRow[], term: number): void {
    for (const row of rows) if (!this.pending.has(row.dedupe_key)) this.put({ row, node: this.opts.node, term, change: 0 })
  }

  private put(c: RecordedChange): void {
    this.pending.delete(c.row.dedupe_key)
    this.pending.set(c.row.dedupe_key, c)
    if (this.pending.size <= this.maxPending) return
    const oldest = this.pending.keys().next().value!
    this.pending.delete(oldest)
    if (this.stats.dropped++ % 1000 === 0) this.log.warn({ dropped: this.stats.dropped, maxPending: this.maxPending }, 'outbox record backlog full: dropped the oldest change (sending is unaffected)')
  }

  /** Writes what waits now (one flush at a time); failures back off and are retried by the timer. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing
    if (this.pending.size === 0 || Date.now() < this.nextAt) return Promise.resolve()
    this.flushing = (async () => {
      const batch = [...this.pending.values()]
      try {
        await this.sink.record(batch)
        // Only what was written: a key changed again meanwhile waits with its newer change.
        for (const c of batch) if (this.pending.get(c.row.dedupe_key) === c) this.pending.delete(c.row.dedupe_key)
        this.stats.recorded += batch.length
        this.attempt = 0
        this.nextAt = 0
      } catch (err) {
        this.stats.failures++
        this.nextAt = Date.now() + equalJitter(backoffWindow(this.attempt++, { baseMs: 500, capMs: 30_000 }))
        this.log.warn({ err: (err as Error).message, pending: this.pending.size }, 'cannot record the outbox in PostgreSQL yet; retrying')
      } finally {
        this.flushing = null
      }
    })()
    return this.flushing
  }

  /** One last write of what waits (bounded by the pool's own timeouts), then stops. */
  async stop(): Promise<void> {
    clearInterval(this.timer)
    await this.flushing
    this.nextAt = 0
    await this.flush()
  }
}
