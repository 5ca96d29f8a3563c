import type Database from 'better-sqlite3'
import type { ErrorCode } from '../core/errors.ts'
import type { Logger } from '../core/log.ts'
import { migrate, whereAll } from '../core/sqlite.ts'
import type { Rejection } from '../core/reading.ts'

/**
 * Where rejected readings go so staff can see exactly what a station sent and
 * why it was refused. Stored in SQLite before the PUBACK, like accepted
 * readings. Bounded: past `maxRows` the oldest rows are deleted, and that is
 * counted and logged (the per-reason counters and the InfluxDB `quarantine`
 * measurement keep the totals).
 */
export interface QuarantineEntry extends Rejection {
  id: number
  receivedAt: number
}

export interface QuarantineQuery {
  stationId?: string
  reason?: string
  limit?: number
  before?: number
}

const MIGRATIONS = [
  `CREATE TABLE quarantine (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     received_at INTEGER NOT NULL,
     station_id TEXT NOT NULL,
     reason TEXT NOT NULL,
     detail TEXT NOT NULL,
     batch_index INTEGER,
     sensor TEXT,
     ts INTEGER,
     excerpt TEXT NOT NULL
   );
   CREATE INDEX quarantine_station ON quarantine (station_id, id);
   CREATE INDEX quarantine_reason ON quarantine (reason, id);`,
]

/**
 * The longest text kept per column. Validation already bounds what it builds
 * (512-character excerpts and details, ingest/parse/validate.ts); this is the
 * last guard for every other producer of refusals, since whatever is stored
 * here is served as-is by GET /api/v1/quarantine.
 */
const MAX_TEXT = 1024
/** The longest station id (STATION_ID_PATTERN, core/protocol.ts); sensor keys get the same. */
const MAX_ID = 64

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text
}

export class QuarantineStore {
  private readonly insert
  private readonly prune
  private readonly count
  private rows: number
  evicted = 0

  constructor(
    private readonly db: Database.Database,
    private readonly maxRows: number,
    private readonly log: Logger,
  ) {
    migrate(db, 'quarantine', MIGRATIONS)
    this.insert = db.prepare(
      'INSERT INTO quarantine (received_at, station_id, reason, detail, batch_index, sensor, ts, excerpt) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    )
    this.prune = db.prepare('DELETE FROM quarantine WHERE id IN (SELECT id FROM quarantine ORDER BY id LIMIT ?)')
    this.count = db.prepare('SELECT COUNT(*) AS n FROM quarantine')
    this.rows = (this.count.get() as { n: number }).n
  }

  add(entries: readonly Rejection[], receivedAt: number): void {
    if (entries.length === 0) return
    this.db.transaction(() => {
      for (const e of entries) {
        const sensor = e.sensor === undefined ? null : clip(e.sensor, MAX_ID)
        this.insert.run(receivedAt, clip(e.stationId, MAX_ID), e.reason, clip(e.detail, MAX_TEXT), e.index ?? null, sensor, e.ts ?? null, clip(e.excerpt, MAX_TEXT))
      }
    })()
    this.rows += entries.length
    if (this.rows > this.maxRows) {
      // Prune in chunks so the delete cost is amortised.
      const excess = this.rows - this.maxRows + Math.ceil(this.maxRows / 100)
      this.prune.run(excess)
      this.evicted += excess
      this.rows = (this.count.get() as { n: number }).n
      this.log.warn({ evicted: excess, maxRows: this.maxRows }, 'quarantine store full: oldest entries evicted (counts kept in metrics and InfluxDB)')
    }
  }

  list(q: QuarantineQuery = {}): QuarantineEntry[] {
    const w = whereAll([q.stationId && ['station_id = ?', q.stationId], q.reason && ['reason = ?', q.reason], q.before && ['id < ?', q.before]])
    const sql = `SELECT * FROM quarantine ${w.sql} ORDER BY id DESC LIMIT ?`
    return (this.db.prepare(sql).all(...w.params, Math.min(q.limit ?? 100, 1000)) as Array<Record<string, unknown>>).map((r) => ({
      id: r.id as number,
      receivedAt: r.received_at as number,
      stationId: r.station_id as string,
      reason: r.reason as ErrorCode,
      detail: r.detail as string,
      index: (r.batch_index as number | null) ?? undefined,
      sensor: (r.sensor as string | null) ?? undefined,
      ts: (r.ts as number | null) ?? undefined,
      excerpt: r.excerpt as string,
    }))
  }

  countsByReason(): Record<string, number> {
    const rows = this.db.prepare('SELECT reason, COUNT(*) AS n FROM quarantine GROUP BY reason').all() as Array<{ reason: string; n: number }>
    return Object.fromEntries(rows.map((r) => [r.reason, r.n]))
  }

  size(): number {
    return this.rows
  }
}
