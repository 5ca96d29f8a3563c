import { createHash, timingSafeEqual } from 'node:crypto'
import type Database from 'better-sqlite3'
import { TidewatchError } from '../../core/errors.ts'
import { migrate } from '../../core/sqlite.ts'
import { mintToken, tokenHash, tokenInfoOf, type Principal, type Role, type TokenInfo, type TokenRow } from '../../core/tokens.ts'

/** The API's token table (SQLite); the token contract (roles, minting, hashing) is core/tokens.ts. */
const MIGRATIONS = [
  `CREATE TABLE api_tokens (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     name TEXT NOT NULL,
     role TEXT NOT NULL CHECK (role IN ('read', 'staff', 'admin')),
     hash TEXT NOT NULL UNIQUE,
     prefix TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     revoked_at INTEGER,
     last_used_at INTEGER
   );`,
]

/** A value, or a promise of it: the SQLite store answers at once, the cluster's after a round trip to PostgreSQL. */
export type MaybePromise<T> = T | Promise<T>

/**
 * API tokens as the API uses them (issue 16): `verify` runs on every request,
 * so it stays synchronous, answered from memory or a local table; the
 * changes may go to a shared database. Implemented by TokenStore (one node's
 * SQLite, the default) and, in cluster mode, cluster/metadata/api-tokens.ts
 * (a MetadataReplica for verify, PostgreSQL for the changes).
 */
export interface ApiTokens {
  /** Who a bearer token is, or undefined (unknown or revoked); the bootstrap admin token is accepted too. */
  verify(token: string, now?: number): Principal | undefined
  /**
   * As verify, where a false "no" would do harm (a console session's token,
   * api/console/routes.ts): a token this node has never seen is looked up in
   * the shared store before the answer (cluster mode: minted on another node,
   * its notification not here yet). Rejects rather than answer "no" when the
   * store cannot tell. TokenStore's own table is always current: verify.
   */
  verifyFresh(token: string, now?: number): MaybePromise<Principal | undefined>
  create(name: string, role: Role, now?: number): MaybePromise<{ token: string; info: TokenInfo }>
  list(): MaybePromise<TokenInfo[]>
  /** NOT_FOUND when no active token has this id. Applies at once on this node. */
  revoke(id: number, now?: number): MaybePromise<void>
}

export class TokenStore implements ApiTokens {
  private readonly stmts
  private readonly bootstrapHash: Buffer | undefined

  /** `bootstrap`: the admin token from config/secret file, for the first login and for operators. */
  constructor(db: Database.Database, bootstrap?: string) {
    migrate(db, 'api_tokens', MIGRATIONS)
    this.bootstrapHash = bootstrap ? createHash('sha256').update(bootstrap).digest() : undefined
    this.stmts = {
      insert: db.prepare('INSERT INTO api_tokens (name, role, hash, prefix, created_at) VALUES (?, ?, ?, ?, ?)'),
      byHash: db.prepare('SELECT id, name, role, revoked_at FROM api_tokens WHERE hash = ?'),
      list: db.prepare('SELECT * FROM api_tokens ORDER BY id'),
      revoke: db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
      used: db.prepare('UPDATE api_tokens SET last_used_at = ? WHERE id = ?'),
    }
  }

  create(name: string, role: Role, now = Date.now()): { token: string; info: TokenInfo } {
    const minted = mintToken(name, role)
    const info = this.stmts.insert.run(minted.name, role, minted.hash, minted.prefix, now)
    return { token: minted.token, info: { id: Number(info.lastInsertRowid), name: minted.name, role, prefix: minted.prefix, createdAt: now, revokedAt: null, lastUsedAt: null } }
  }

  list(): TokenInfo[] {
    return (this.stmts.list.all() as TokenRow[]).map(tokenInfoOf)
  }

  revoke(id: number, now = Date.now()): void {
    if (this.stmts.revoke.run(now, id).changes === 0) throw new TidewatchError('NOT_FOUND', { id }, `no active token with id ${id}`)
  }

  /** Resolves a bearer token to who it is, or undefined. Revocation applies at once. */
  verify(token: string, now = Date.now()): Principal | undefined {
    if (!token) return undefined
    if (this.bootstrapHash && timingSafeEqual(createHash('sha256').update(token).digest(), this.bootstrapHash)) {
      return { kind: 'bootstrap', id: null, name: 'bootstrap-admin', role: 'admin' }
    }
    const row = this.stmts.byHash.get(tokenHash(token)) as { id: number; name: string; role: Role; revoked_at: number | null } | undefined
    if (!row || row.revoked_at !== null) return undefined
    this.stmts.used.run(now, row.id)
    return { kind: 'token', id: row.id, name: row.name, role: row.role }
  }

  verifyFresh(token: string, now = Date.now()): Principal | undefined {
    return this.verify(token, now)
  }
}
