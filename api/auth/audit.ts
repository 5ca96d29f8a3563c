import type Database from 'better-sqlite3'
import type { Logger } from '../../core/log.ts'
import { migrate, whereAll } from '../../core/sqlite.ts'

/**
 * The append-only audit log of every change: who, what, when, before and
 * after. SQLite triggers refuse UPDATE and DELETE, and every record also goes
 * to the structured log (component "audit") so it can be shipped to the
 * province's central log store.
 */
export interface AuditEntry {
  actor: string
  role: string
  action: string
  target: string
  before?: unknown
  after?: unknown
  ip?: string
}

export interface AuditRecord extends AuditEntry {
  id: number
  at: number
  /** Cluster mode: the node whose local log recorded it first (cluster/metadata/audit-shipper.ts). */
  node?: string
}

export interface AuditQuery {
  target?: string
  actor?: string
  since?: number
  limit?: number
}

/** Where changes are recorded: synchronous, so no handler waits on a network round trip to audit. */
export interface AuditRecorder {
  record(e: AuditEntry, now?: number): void
}

/** Where the log is read: this node's SQLite, or in cluster mode the shared PostgreSQL log (newest first). */
export interface AuditReader {
  query(q?: AuditQuery): AuditRecord[] | Promise<AuditRecord[]>
  /** Everyone who has a record, for the console's filter. */
  actors(): string[] | Promise<string[]>
}

export type AuditTrail = AuditRecorder & AuditReader

const MIGRATIONS = [
  `CREATE TABLE audit_log (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     at INTEGER NOT NULL,
     actor TEXT NOT NULL,
     role TEXT NOT NULL,
     action TEXT NOT NULL,
     target TEXT NOT NULL,
     before TEXT,
     after TEXT,
     ip TEXT
   );
   CREATE INDEX audit_log_target ON audit_log (target, id);
   CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
   CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;`,
]

/** Keys whose values never go into the audit log. */
const SECRET_KEYS = /pass(word)?|secret|token|hash|authorization/i

export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact)
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_KEYS.test(k) ? '[redacted]' : redact(v)]))
  }
  return value
}

export class AuditLog implements AuditTrail {
  private readonly insert
  private readonly db: Database.Database
  private readonly listeners = new Set<(id: number) => void>()

  constructor(db: Database.Database, private readonly log?: Logger) {
    this.db = db
    migrate(db, 'audit', MIGRATIONS)
    this.insert = db.prepare('INSERT INTO audit_log (at, actor, role, action, target, before, after, ip) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
  }

  record(e: AuditEntry, now = Date.now()): void {
    const before = e.before === undefined ? null : JSON.stringify(redact(e.before))
    const after = e.after === undefined ? null : JSON.stringify(redact(e.after))
    const id = Number(this.insert.run(now, e.actor, e.role, e.action, e.target, before, after, e.ip ?? null).lastInsertRowid)
    this.log?.info({ audit: { actor: e.actor, role: e.role, action: e.action, target: e.target } }, 'audit')
    for (const l of this.listeners) l(id)
  }

  /** Called with the local id of every record made through this instance (cluster mode: wakes the shipper). */
  onRecorded(listener: (id: number) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  query(q: AuditQuery = {}): AuditRecord[] {
    const w = whereAll([q.target && ['target = ?', q.target], q.actor && ['actor = ?', q.actor], q.since && ['at >= ?', q.since]])
    const rows = this.db
      .prepare(`SELECT * FROM audit_log ${w.sql} ORDER BY id DESC LIMIT ?`)
      .all(...w.params, Math.min(q.limit ?? 100, 1000)) as Array<Record<string, unknown>>
    return rows.map(recordOf)
  }

  /** Records after local id `afterId`, oldest first, at most `limit` (the cluster shipper's cursor). */
  after(afterId: number, limit: number): AuditRecord[] {
    return (this.db.prepare('SELECT * FROM audit_log WHERE id > ? ORDER BY id LIMIT ?').all(afterId, limit) as Array<Record<string, unknown>>).map(recordOf)
  }

  /** The newest local id (0 when empty). */
  lastId(): number {
    return (this.db.prepare('SELECT COALESCE(MAX(id), 0) AS id FROM audit_log').get() as { id: number }).id
  }

  actors(): string[] {
    return (this.db.prepare('SELECT DISTINCT actor FROM audit_log ORDER BY actor').all() as Array<{ actor: string }>).map((r) => r.actor)
  }

  count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM audit_log').get() as { n: number }).n
  }
}

/** A stored row as a record: before/after are JSON text (SQLite's TEXT, PostgreSQL's jsonb read as ::text). */
export function recordOf(r: Record<string, unknown>): AuditRecord {
  return {
    id: r.id as number,
    at: r.at as number,
    actor: r.actor as string,
    role: r.role as string,
    action: r.action as string,
    target: r.target as string,
    before: r.before ? JSON.parse(r.before as string) : undefined,
    after: r.after ? JSON.parse(r.after as string) : undefined,
    ip: (r.ip as string | null) ?? undefined,
  }
}
