import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'
import type pg from 'pg'
import { parseNewAccount, toAccount, type StaffAccount } from '../../api/console/accounts.ts'
import type { ConsoleAccount, ConsoleAccounts, SignInLimiter } from '../../api/console/routes.ts'
import type { ThrottleOptions } from '../../api/console/throttle.ts'
import { sessionIdOf, type Session, type SessionOptions, type SessionPrincipal, type SessionStore } from '../../api/console/sessions.ts'
import { TidewatchError } from '../../core/errors.ts'
import { asPostgresUnavailable } from './open.ts'
import { generatePassword, hashPassword, verifyPassword } from '../../core/password.ts'
import type { Role } from '../../core/tokens.ts'

/**
 * The staff console in cluster mode (issue 16): accounts and sessions in
 * PostgreSQL (api-db.ts), so a person signed in through one API node is
 * signed in on all of them.
 *
 * Why sessions in PostgreSQL and not HAProxy stickiness
 * (cluster/local/haproxy.ts): with stickiness a session still lives in one
 * process, so losing that node (a crash, a deploy, the DC side cut off)
 * signs everyone on it out, and signing out or disabling an account would
 * have to reach the one node holding the session. In PostgreSQL a session
 * outlives any node, and ending it is one DELETE every node sees. The cost is
 * one indexed round trip per console request, which staff-sized traffic
 * does not notice; the console cannot change anything without PostgreSQL
 * in cluster mode anyway.
 *
 * A session row holds the API token it acts with, sealed (AES-256-GCM) under
 * a key derived from the cookie, which only the browser has: a dump of the
 * table hands out neither cookies (their SHA-256 is the key) nor tokens. The
 * sealed token is bound to its row's id, name, role, kind and minted token
 * (GCM's additional data), so a writer of the table cannot change who a
 * session is.
 */

/**
 * Runs one PostgreSQL step of the console, a failure to reach PostgreSQL
 * reported as POSTGRES_UNAVAILABLE (503, core/errors.ts), as
 * api-tokens.ts does: "try again", not 500 INTERNAL.
 */
async function reach<T>(step: () => Promise<T>): Promise<T> {
  try {
    return await step()
  } catch (err) {
    throw asPostgresUnavailable(err)
  }
}

// ---- accounts ----

/** api/console/accounts.ts StaffAccounts over PostgreSQL, with the same checks and error codes. */
export class PostgresStaffAccounts implements ConsoleAccounts {
  private dummy: Promise<string> | undefined

  constructor(private readonly pool: pg.Pool) {}

  async add(username: string, role: string, password: string, now = Date.now()): Promise<StaffAccount> {
    return reach(async () => {
      const u = parseNewAccount(username, role, password)
      const hash = await hashPassword(password)
      const row = (await this.pool.query('INSERT INTO staff_accounts (username, role, hash, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (username) DO NOTHING RETURNING *', [u.username, u.role, hash, now])).rows[0]
      if (!row) throw new TidewatchError('STAFF_ACCOUNT_EXISTS', { username: u.username })
      return toAccount(row)
    })
  }

  async get(username: string): Promise<StaffAccount | undefined> {
    return reach(async () => {
      const row = (await this.pool.query('SELECT * FROM staff_accounts WHERE username = lower(btrim($1))', [username])).rows[0]
      return row ? toAccount(row) : undefined
    })
  }

  async list(): Promise<StaffAccount[]> {
    return reach(async () => {
      return (await this.pool.query('SELECT * FROM staff_accounts ORDER BY id')).rows.map(toAccount)
    })
  }

  async verify(username: string, password: string, now = Date.now()): Promise<ConsoleAccount | undefined> {
    return reach(async () => {
      const row = (await this.pool.query('SELECT * FROM staff_accounts WHERE username = lower(btrim($1))', [username])).rows[0] as Record<string, unknown> | undefined
      // A wrong name costs the same scrypt as a wrong password.
      const stored = (row?.hash as string | undefined) ?? (await (this.dummy ??= hashPassword(generatePassword())))
      const ok = await verifyPassword(password, stored)
      if (!row || !ok || row.disabled_at !== null) return undefined
      await this.pool.query('UPDATE staff_accounts SET last_login_at = $1 WHERE id = $2', [now, row.id])
      return toAccount(row)
    })
  }

  async isActive(username: string): Promise<boolean> {
    return reach(async () => {
      // As the single process: an account that is not there (never was) does not end a session; a disabled one does.
      const row = (await this.pool.query<{ disabled_at: number | null }>('SELECT disabled_at FROM staff_accounts WHERE username = lower(btrim($1))', [username])).rows[0]
      return !row || row.disabled_at === null
    })
  }

  /**
   * Disables or enables an account. Disabling ends its console sessions on
   * every node in the same transaction; returns the API tokens minted for
   * them, which the caller revokes. False when there is no such account.
   */
  async setDisabled(username: string, disabled: boolean, now = Date.now()): Promise<{ found: boolean; mintedTokenIds: number[] }> {
    return reach(async () => {
      const c = await this.pool.connect()
      try {
        await c.query('BEGIN')
        const r = await c.query<{ username: string }>('UPDATE staff_accounts SET disabled_at = $1 WHERE username = lower(btrim($2)) RETURNING username', [disabled ? now : null, username])
        const name = r.rows[0]?.username
        const ended = name !== undefined && disabled ? (await c.query<{ minted_token_id: number | null }>("DELETE FROM console_sessions WHERE kind = 'account' AND name = $1 RETURNING minted_token_id", [name])).rows : []
        await c.query('COMMIT')
        return { found: name !== undefined, mintedTokenIds: ended.flatMap((s) => (s.minted_token_id === null ? [] : [s.minted_token_id])) }
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined)
        throw err
      } finally {
        c.release()
      }
    })
  }
}

// ---- sessions ----

const SEAL_INFO = 'tidewatch console session token v1'
/** AES-GCM's full 128-bit tag (NIST SP 800-38D §5.2.1.2); Node would otherwise accept a truncated one. */
const TAG_BYTES = 16
const IV_BYTES = 12
/** Sealed values bound to their row (below) start with this; older ones (no prefix) are read once and re-sealed. */
const BOUND = 'v2.'

function keyOf(cookie: string): Buffer {
  // Independent of the session id (the cookie's plain SHA-256): another input, so one does not give the other.
  return createHash('sha256').update(SEAL_INFO).update('\0').update(cookie).digest()
}

/** The columns of a session row its sealed token is bound to. */
export interface SealBinding {
  id: string
  name: string
  role: Role
  kind: 'account' | 'token'
  mintedTokenId: number | null
}

/**
 * The additional authenticated data of a sealed token: its row's identity and
 * principal. Someone who can write the table but has no cookie cannot then
 * give a session another name, role or kind, nor another minted token to
 * revoke when it ends: opening fails and the session is not served. Fields
 * are JSON-encoded, so no name can forge a separator.
 */
function aadOf(b: SealBinding): Buffer {
  return Buffer.from(JSON.stringify([b.id, b.name, b.role, b.kind, b.mintedTokenId]), 'utf8')
}

export function sealToken(cookie: string, token: string, binding: SealBinding): string {
  const iv = randomBytes(IV_BYTES)
  const cipher = createCipheriv('aes-256-gcm', keyOf(cookie), iv, { authTagLength: TAG_BYTES })
  cipher.setAAD(aadOf(binding))
  const body = Buffer.concat([cipher.update(token, 'utf8'), cipher.final()])
  return BOUND + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')
}

/**
 * The token, or undefined when the cookie or (for a bound value) the row's
 * columns do not match. `legacy` is true for a value sealed before rows were
 * bound (no AAD): the caller re-seals it bound.
 */
export function openToken(cookie: string, sealed: string, binding: SealBinding): { token: string; legacy: boolean } | undefined {
  const legacy = !sealed.startsWith(BOUND)
  try {
    const raw = Buffer.from(legacy ? sealed : sealed.slice(BOUND.length), 'base64url')
    const decipher = createDecipheriv('aes-256-gcm', keyOf(cookie), raw.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES })
    if (!legacy) decipher.setAAD(aadOf(binding))
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES))
    return { token: Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8'), legacy }
  } catch {
    return undefined
  }
}

interface SessionRow {
  id: string
  csrf: string
  name: string
  role: Role
  kind: 'account' | 'token'
  sealed_token: string
  minted_token_id: number | null
  created_at: number
  last_seen_at: number
}

/**
 * api/console/sessions.ts Sessions over PostgreSQL: the same lifetimes
 * (idle, absolute), the same bound (`max`, oldest ended first, counted), and
 * `onEnd` once for each session this node ends. Expired sessions are swept
 * at each sign-in by whichever node takes it, so a node that died leaves no
 * session (nor minted token) behind for long.
 */
export class PostgresSessions implements SessionStore {
  evicted = 0

  constructor(private readonly pool: pg.Pool, private readonly opts: SessionOptions) {}

  async create(principal: SessionPrincipal, apiToken: string, mintedTokenId: number | null): Promise<{ cookie: string; session: Session }> {
    return reach(async () => {
      const now = this.opts.clock()
      await this.sweep(now)
      const over = await this.pool.query<SessionRow>(
        `DELETE FROM console_sessions WHERE id IN (
           SELECT id FROM console_sessions ORDER BY created_at, id
            LIMIT GREATEST(0, (SELECT count(*) FROM console_sessions) - $1 + 1)) RETURNING *`,
        [this.opts.max],
      )
      this.evicted += over.rowCount ?? 0
      this.ended(over.rows)
      const cookie = randomBytes(32).toString('base64url')
      const session: Session = { id: sessionIdOf(cookie), csrf: randomBytes(32).toString('base64url'), principal, apiToken, mintedTokenId, createdAt: now, lastSeenAt: now }
      await this.pool.query(
        'INSERT INTO console_sessions (id, csrf, name, role, kind, sealed_token, minted_token_id, created_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)',
        [session.id, session.csrf, principal.name, principal.role, principal.kind, sealToken(cookie, apiToken, { id: session.id, ...principal, mintedTokenId }), mintedTokenId, now],
      )
      return { cookie, session }
    })
  }

  async get(cookie: string | undefined): Promise<Session | undefined> {
    return reach(async () => {
      if (!cookie) return undefined
      const id = sessionIdOf(cookie)
      const now = this.opts.clock()
      // Touched only while alive; one round trip for the common case.
      const row = (await this.pool.query<SessionRow>(
        'UPDATE console_sessions SET last_seen_at = GREATEST(last_seen_at, $2) WHERE id = $1 AND last_seen_at >= $3 AND created_at >= $4 RETURNING *',
        [id, now, now - this.opts.idleMs, now - this.opts.absoluteMs],
      )).rows[0]
      if (!row) {
        await this.end(id)
        return undefined
      }
      const binding: SealBinding = { id, name: row.name, role: row.role, kind: row.kind, mintedTokenId: row.minted_token_id }
      const opened = openToken(cookie, row.sealed_token, binding)
      if (opened === undefined) return undefined
      const apiToken = opened.token
      if (opened.legacy) {
        // Sealed before rows were bound (at most one absolute lifetime ago, 12 h): bound now, at its first use,
        // with the columns as they are. Only if the row changes between now and then does the change stick.
        await this.pool.query('UPDATE console_sessions SET sealed_token = $2 WHERE id = $1 AND sealed_token = $3', [id, sealToken(cookie, apiToken, binding), row.sealed_token])
      }
      return {
        id,
        csrf: row.csrf,
        principal: { name: row.name, role: row.role, kind: row.kind },
        apiToken,
        mintedTokenId: row.minted_token_id,
        createdAt: row.created_at,
        lastSeenAt: now,
      }
    })
  }

  async signOut(cookie: string | undefined): Promise<void> {
    return reach(async () => {
      if (cookie) await this.end(sessionIdOf(cookie))
    })
  }

  async endFor(name: string): Promise<void> {
    return reach(async () => {
      this.ended((await this.pool.query<SessionRow>('DELETE FROM console_sessions WHERE name = $1 RETURNING *', [name])).rows)
    })
  }

  async size(): Promise<number> {
    return reach(async () => {
      return Number((await this.pool.query<{ n: string }>('SELECT count(*) AS n FROM console_sessions')).rows[0]!.n)
    })
  }

  private async end(id: string): Promise<void> {
    this.ended((await this.pool.query<SessionRow>('DELETE FROM console_sessions WHERE id = $1 RETURNING *', [id])).rows)
  }

  private async sweep(now: number): Promise<void> {
    const r = await this.pool.query<SessionRow>('DELETE FROM console_sessions WHERE last_seen_at < $1 OR created_at < $2 RETURNING *', [now - this.opts.idleMs, now - this.opts.absoluteMs])
    this.ended(r.rows)
  }

  /** The DELETE … RETURNING decides who ends a session: exactly one node gets each row, so onEnd runs once. */
  private ended(rows: SessionRow[]): void {
    for (const r of rows) {
      this.opts.onEnd({
        id: r.id,
        csrf: r.csrf,
        principal: { name: r.name, role: r.role, kind: r.kind },
        // Sealed under a cookie this node does not have; onEnd needs only the minted token's id.
        apiToken: '',
        mintedTokenId: r.minted_token_id,
        createdAt: r.created_at,
        lastSeenAt: r.last_seen_at,
      })
    }
  }
}


// ---- sign-in throttle ----

/**
 * api/console/throttle.ts SignInThrottle over PostgreSQL: the same keys,
 * window and limits, counted across every API node, so a guesser spread over
 * N nodes by round robin gets the single process's 10 per username (and 50
 * per address) in 15 minutes, not N times that. Each failure is one INSERT
 * (and a sweep of rows older than the window); each sign-in one indexed
 * count. Bounded by the window: rows older than it are deleted at every
 * failure, and each failure costs the guesser a scrypt verification first.
 * maxKeys (the in-memory bound) does not apply: PostgreSQL holds them.
 * PostgreSQL away: POSTGRES_UNAVAILABLE (503), as for the accounts it guards.
 */
export class PostgresSignInThrottle implements SignInLimiter {
  constructor(private readonly pool: pg.Pool, private readonly o: ThrottleOptions) {}

  async blocked(username: string, address: string): Promise<boolean> {
    return reach(async () => {
      const user = username === '' ? null : `u:${username.toLowerCase()}`
      const r = await this.pool.query<{ key: string; n: string }>(
        'SELECT key, count(*) AS n FROM console_sign_in_failures WHERE key = ANY($1::text[]) AND at > $2 GROUP BY key',
        [[...(user ? [user] : []), `a:${address}`], this.o.clock() - this.o.windowMs],
      )
      const count = (key: string | null): number => Number(r.rows.find((row) => row.key === key)?.n ?? 0)
      return (user !== null && count(user) >= this.o.maxPerUser) || count(`a:${address}`) >= this.o.maxPerAddress
    })
  }

  async fail(username: string, address: string): Promise<void> {
    return reach(async () => {
      const now = this.o.clock()
      const keys = [...(username ? [`u:${username.toLowerCase()}`] : []), `a:${address}`]
      await this.pool.query('INSERT INTO console_sign_in_failures (key, at) SELECT unnest($1::text[]), $2', [keys, now])
      await this.pool.query('DELETE FROM console_sign_in_failures WHERE at <= $1', [now - this.o.windowMs])
    })
  }

  /** A good sign-in clears the username's count (not the address's: one good password must not reset a spray). */
  async succeed(username: string): Promise<void> {
    return reach(async () => {
      await this.pool.query('DELETE FROM console_sign_in_failures WHERE key = $1', [`u:${username.toLowerCase()}`])
    })
  }
}
