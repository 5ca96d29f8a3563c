/**
 * Console sessions in a real PostgreSQL 15 (cluster/metadata/console-postgres.ts):
 * the API token a session row holds is sealed under the cookie and bound to
 * the row, so someone who can write the table (but has no cookie) cannot make
 * a session someone else, raise its role, or point it at another token. Rows
 * sealed before the binding are still read, and bound at their first use.
 */
import { createCipheriv, createHash, randomBytes } from 'node:crypto'
import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sessionIdOf } from '../../api/console/sessions.ts'
import { openApiNodesDb } from '../../cluster/metadata/api-db.ts'
import { PostgresSessions } from '../../cluster/metadata/console-postgres.ts'
import { freshDatabase, startLocalPostgres, type LocalPostgres } from '../helpers/postgres.ts'

let server: LocalPostgres
let pool: pg.Pool
let sessions: PostgresSessions

beforeAll(async () => {
  server = await startLocalPostgres()
  pool = await openApiNodesDb({ url: await freshDatabase(server) })
  sessions = new PostgresSessions(pool, { idleMs: 30 * 60_000, absoluteMs: 12 * 3_600_000, max: 100, clock: Date.now, onEnd: () => undefined })
}, 60_000)
afterAll(async () => {
  await pool?.end()
  await server?.stop()
})

describe('console session rows: the sealed token is bound to its row', () => {
  it('a session read back as made; a changed role, name, kind or minted token makes it unusable', async () => {
    for (const [column, value] of [['role', 'admin'], ['name', 'someone-else'], ['kind', 'token'], ['minted_token_id', 999]] as const) {
      const { cookie, session } = await sessions.create({ name: 'lan-anh', role: 'read', kind: 'account' }, 'tw_the_token_it_acts_with', 41)
      expect((await sessions.get(cookie))?.apiToken).toBe('tw_the_token_it_acts_with')
      await pool.query(`UPDATE console_sessions SET ${column} = $2 WHERE id = $1`, [session.id, value])
      expect(await sessions.get(cookie), column).toBeUndefined()
    }
  })

  it('a row sealed before the binding (no additional data) is read, then bound at its first use', async () => {
    const cookie = randomBytes(32).toString('base64url')
    const id = sessionIdOf(cookie)
    // The format of 4b50d56: iv | tag | body, base64url, under the cookie's key, no AAD.
    const key = createHash('sha256').update('tidewatch console session token v1').update('\0').update(cookie).digest()
    const iv = randomBytes(12)
    const c = createCipheriv('aes-256-gcm', key, iv)
    const body = Buffer.concat([c.update('tw_from_before_the_upgrade', 'utf8'), c.final()])
    const legacy = Buffer.concat([iv, c.getAuthTag(), body]).toString('base64url')
    const now = Date.now()
    await pool.query(
      "INSERT INTO console_sessions (id, csrf, name, role, kind, sealed_token, minted_token_id, created_at, last_seen_at) VALUES ($1, 'csrf', 'van-hai', 'staff', 'account', $2, 7, $3, $3)",
      [id, legacy, now],
    )
    expect((await sessions.get(cookie))?.apiToken).toBe('tw_from_before_the_upgrade')
    const sealed = (await pool.query<{ sealed_token: string }>('SELECT sealed_token FROM console_sessions WHERE id = $1', [id])).rows[0]!.sealed_token
    expect(sealed.startsWith('v2.')).toBe(true)
    expect((await sessions.get(cookie))?.apiToken).toBe('tw_from_before_the_upgrade')
    await pool.query("UPDATE console_sessions SET role = 'admin' WHERE id = $1", [id])
    expect(await sessions.get(cookie)).toBeUndefined()
  })
})
