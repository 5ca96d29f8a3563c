/**
 * A node's data dir copied to start another node (its audit_node name with
 * it), on a real PostgreSQL 15: the copy's records must not be silently
 * counted as duplicates of the original's (cluster/metadata/audit-shipper.ts).
 * Both local logs are real SQLite files; nothing is faked.
 */
import { copyFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AuditLog } from '../../api/auth/audit.ts'
import { openApiNodesDb } from '../../cluster/metadata/api-db.ts'
import { PostgresAuditLog } from '../../cluster/metadata/audit-postgres.ts'
import { AuditShipper } from '../../cluster/metadata/audit-shipper.ts'
import { tempDir } from '../helpers/platform.ts'
import { freshDatabase, startLocalPostgres, type LocalPostgres } from '../helpers/postgres.ts'

let server: LocalPostgres
let pool: pg.Pool
const tmp = tempDir('tidewatch-audit-clone-')

beforeAll(async () => {
  server = await startLocalPostgres()
  pool = await openApiNodesDb({ url: await freshDatabase(server) })
}, 60_000)
afterAll(async () => {
  await pool?.end()
  await server?.stop()
  tmp.cleanup()
})

const entry = (target: string) => ({ actor: 'ops', role: 'admin' as const, action: 'devices add', target })

async function shipped(shipper: AuditShipper): Promise<void> {
  shipper.kick()
  await shipper.idle()
}

describe('audit shipping from a copied data dir', () => {
  it('the copy is detected (AUDIT_NODE_CONFLICT on its shipper), its records stay local, the original ships on', async () => {
    const shared = new PostgresAuditLog(pool)
    const fileA = join(tmp.dir, 'a.sqlite')
    let dbA = new Database(fileA)
    let shipperA = new AuditShipper({ local: new AuditLog(dbA), db: dbA, shared })
    const logA0 = new AuditLog(dbA)
    for (const t of ['station:one', 'station:two']) logA0.record(entry(t))
    await shipped(shipperA)
    await shipperA.stop()
    dbA.close()

    // The data dir copied for a second node.
    const fileC = join(tmp.dir, 'c.sqlite')
    copyFileSync(fileA, fileC)
    dbA = new Database(fileA)
    const dbC = new Database(fileC)
    const logA = new AuditLog(dbA)
    const logC = new AuditLog(dbC)
    shipperA = new AuditShipper({ local: logA, db: dbA, shared })
    await shipperA.idle()
    logA.record(entry('station:made-on-a'))
    await shipped(shipperA)

    // The copy records its own change under the same local id, and starts shipping.
    logC.record(entry('station:made-on-the-copy'))
    const shipperC = new AuditShipper({ local: logC, db: dbC, shared })
    expect(shipperC.node).toBe(shipperA.node)
    await shipped(shipperC)
    expect(shipperC.conflict).toBeDefined()
    expect(shipperC.lastError).toMatch(/^AUDIT_NODE_CONFLICT: /)
    expect(logC.after(0, 10).map((r) => r.target)).toContain('station:made-on-the-copy')

    // The original is not affected: its next record ships.
    logA.record(entry('station:made-on-a-later'))
    await shipped(shipperA)
    expect(shipperA.conflict).toBeUndefined()
    const targets = (await shared.query({ limit: 100 })).map((r) => r.target)
    expect(targets).toEqual(expect.arrayContaining(['station:one', 'station:two', 'station:made-on-a', 'station:made-on-a-later']))
    expect(targets).not.toContain('station:made-on-the-copy')
    await shipperA.stop()
    await shipperC.stop()
    dbA.close()
    dbC.close()
  })
})
