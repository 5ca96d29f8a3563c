/**
 * The API nodes' own PostgreSQL pool (cluster/metadata/api-db.ts) and the
 * audit shipper when PostgreSQL cannot be reached: a connection that is never
 * answered and a query whose answer never comes end with POSTGRES_UNAVAILABLE
 * (503) instead of hanging, and a node's shutdown does not wait on a shipper
 * stuck in a batch. "Unreachable" is a real TCP listener that accepts and
 * never answers (what a partition looks like to a client that already has a
 * route: no RST), and a real PostgreSQL 15 held in pg_sleep. No timing is
 * asserted; the test's own timeout is what would catch a hang.
 */
import { createServer, type Server, type Socket } from 'node:net'
import Database from 'better-sqlite3'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AuditLog } from '../../api/auth/audit.ts'
import { openApiNodesDb } from '../../cluster/metadata/api-db.ts'
import { PostgresAuditLog } from '../../cluster/metadata/audit-postgres.ts'
import { AuditShipper } from '../../cluster/metadata/audit-shipper.ts'
import { PostgresSessions, PostgresStaffAccounts } from '../../cluster/metadata/console-postgres.ts'
import { asPostgresUnavailable } from '../../cluster/metadata/open.ts'
import { freshDatabase, startLocalPostgres, type LocalPostgres } from '../helpers/postgres.ts'

let silent: Server
const held: Socket[] = []
let silentUrl: string
let server: LocalPostgres
let url: string

beforeAll(async () => {
  silent = createServer((s) => void held.push(s))
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  silentUrl = `postgres://tidewatch@127.0.0.1:${(silent.address() as { port: number }).port}/tidewatch`
  server = await startLocalPostgres()
  url = await freshDatabase(server)
}, 60_000)
afterAll(async () => {
  for (const s of held) s.destroy()
  await new Promise((resolve) => silent?.close(resolve))
  await server?.stop()
})

const codeOf = (err: unknown): unknown => (asPostgresUnavailable(err) as { code?: unknown }).code

describe('API nodes database: PostgreSQL unreachable', () => {
  it('a server that never answers the connection: POSTGRES_UNAVAILABLE, not a hang', async () => {
    const err = await openApiNodesDb({ url: silentUrl, connectTimeoutMs: 300 }).then(() => undefined, (e: unknown) => e)
    expect(codeOf(err)).toBe('POSTGRES_UNAVAILABLE')
  })

  it('a query whose answer never comes: POSTGRES_UNAVAILABLE from the console stores', async () => {
    const pool = await openApiNodesDb({ url, queryTimeoutMs: 300 })
    try {
      const accounts = new PostgresStaffAccounts(pool)
      await accounts.add('tram-truong', 'staff', 'mật khẩu đủ dài 2024')
      // Every connection of the pool is held in a lock wait, as by a server gone silent mid-query.
      const locker = new pg.Client({ connectionString: url })
      await locker.connect()
      try {
        await locker.query('BEGIN')
        await locker.query('LOCK TABLE staff_accounts, console_sessions IN ACCESS EXCLUSIVE MODE')
        const sessions = new PostgresSessions(pool, { idleMs: 60_000, absoluteMs: 600_000, max: 10, clock: Date.now, onEnd: () => undefined })
        for (const step of [() => accounts.isActive('tram-truong'), () => accounts.list(), () => sessions.get('some-cookie'), () => sessions.size()]) {
          const err = await step().then(() => undefined, (e: unknown) => e)
          expect((err as { code?: unknown })?.code).toBe('POSTGRES_UNAVAILABLE')
        }
      } finally {
        await locker.query('ROLLBACK')
        await locker.end()
      }
    } finally {
      await pool.end()
    }
  })

  it('stopping the audit shipper while its batch is unanswered returns; the record stays in the local log', async () => {
    // A pool with no timeouts of its own, so only the shipper's stop deadline can end the wait.
    const pool = new pg.Pool({ connectionString: silentUrl, max: 1 })
    pool.on('error', () => undefined)
    const db = new Database(':memory:')
    const local = new AuditLog(db)
    local.record({ actor: 'ops', role: 'admin', action: 'devices add', target: 'station:blackhole' })
    const shipper = new AuditShipper({ local, db, shared: new PostgresAuditLog(pool), stopDeadlineMs: 200 })
    await shipper.stop()
    expect(local.after(0, 10).map((r) => r.target)).toEqual(['station:blackhole'])
    expect(shipper.counters.shipped).toBe(0)
    db.close()
    void pool.end().catch(() => undefined)
  })
})
