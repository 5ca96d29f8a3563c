import type pg from 'pg'
import { recordOf, redact, type AuditEntry, type AuditQuery, type AuditReader, type AuditRecord } from '../../api/auth/audit.ts'
import { whereAll } from '../../core/sqlite.ts'

/**
 * The cluster's audit log in PostgreSQL (api-db.ts, table audit_log,
 * append-only by trigger): every node's records, each stored once under its
 * identity (node, local id) however often it is shipped.
 */

/** A record as its node holds it: the local id is half of its identity in the shared log. */
export interface LocalAuditRecord extends AuditEntry {
  localId: number
  at: number
}

export class PostgresAuditLog implements AuditReader {
  constructor(private readonly pool: pg.Pool) {}

  /**
   * Stores records of one node in one statement; one already there (a batch
   * shipped again after a lost answer) is skipped. Returns how many were new.
   */
  async append(node: string, records: readonly LocalAuditRecord[], now = Date.now()): Promise<number> {
    if (records.length === 0) return 0
    const col = <K extends keyof LocalAuditRecord>(k: K) => records.map((r) => r[k])
    const json = (v: unknown) => (v === undefined ? null : JSON.stringify(redact(v)))
    const r = await this.pool.query(
      `INSERT INTO audit_log (node, local_id, at, actor, role, action, target, before, after, ip, received_at)
       SELECT $1, u.local_id, u.at, u.actor, u.role, u.action, u.target, u.before::jsonb, u.after::jsonb, u.ip, $2
         FROM unnest($3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])
              AS u(local_id, at, actor, role, action, target, before, after, ip)
       ON CONFLICT (node, local_id) DO NOTHING`,
      [node, now, col('localId'), col('at'), col('actor'), col('role'), col('action'), col('target'), records.map((r) => json(r.before)), records.map((r) => json(r.after)), records.map((r) => r.ip ?? null)],
    )
    return r.rowCount ?? 0
  }

  /** The highest local id of `node` stored here: where its shipper goes on from (0: none yet). */
  async cursorOf(node: string): Promise<number> {
    return (await this.pool.query<{ id: number }>('SELECT COALESCE(MAX(local_id), 0) AS id FROM audit_log WHERE node = $1', [node])).rows[0]!.id
  }

  /** What `node` shipped with local ids from..to (when, what, on what): to tell its own history from another's. */
  async shippedBetween(node: string, from: number, to: number): Promise<Map<number, { at: number; action: string; target: string }>> {
    const rows = await this.pool.query<{ local_id: number; at: number; action: string; target: string }>(
      'SELECT local_id, at, action, target FROM audit_log WHERE node = $1 AND local_id BETWEEN $2 AND $3',
      [node, from, to],
    )
    return new Map(rows.rows.map((r) => [r.local_id, { at: r.at, action: r.action, target: r.target }]))
  }

  /** Newest first by when the change was made (a record shipped late still sorts where it happened). */
  async query(q: AuditQuery = {}): Promise<AuditRecord[]> {
    let n = 0
    const w = whereAll([q.target && ['target = $?', q.target], q.actor && ['actor = $?', q.actor], q.since && ['at >= $?', q.since]])
    const sql = w.sql.replace(/\$\?/g, () => `$${++n}`)
    const rows = await this.pool.query<Record<string, unknown>>(
      `SELECT id, at, actor, role, action, target, before::text AS before, after::text AS after, ip, node FROM audit_log ${sql} ORDER BY at DESC, id DESC LIMIT $${n + 1}`,
      [...w.params, Math.min(q.limit ?? 100, 1000)],
    )
    return rows.rows.map((r) => ({ ...recordOf(r), node: r.node as string }))
  }

  async actors(): Promise<string[]> {
    return (await this.pool.query<{ actor: string }>('SELECT DISTINCT actor FROM audit_log ORDER BY actor')).rows.map((r) => r.actor)
  }
}
