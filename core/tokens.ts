import { createHash, randomBytes } from 'node:crypto'
import { TidewatchError } from './errors.ts'

/**
 * API tokens with roles. A token is 32 random bytes shown once at creation;
 * only its SHA-256 is stored (a random 256-bit secret needs no slow KDF).
 * Created, listed and revoked with `tidewatch tokens`.
 *
 * The contract lives here, on the ground floor, because two stores keep tokens:
 * the API's SQLite TokenStore (api/auth/tokens.ts) and the cluster's
 * PostgreSQL metadata repository (cluster/metadata/postgres.ts). Both mint
 * and hash them the same way.
 */
export const ROLES = ['read', 'staff', 'admin'] as const
export type Role = (typeof ROLES)[number]

export function roleAtLeast(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need)
}

export interface TokenInfo {
  id: number
  name: string
  role: Role
  /** First characters of the token, to recognise it in lists and logs. */
  prefix: string
  createdAt: number
  revokedAt: number | null
  lastUsedAt: number | null
}

export interface Principal {
  kind: 'token' | 'bootstrap'
  id: number | null
  name: string
  role: Role
}

/** An api_tokens row, as both token stores return it (SQLite and PostgreSQL; timestamps in ms). */
export interface TokenRow {
  id: number
  name: string
  role: Role
  hash: string
  prefix: string
  created_at: number
  revoked_at: number | null
  last_used_at: number | null
}

/** What a token list shows of a row: everything but the hash. */
export function tokenInfoOf(r: TokenRow): TokenInfo {
  return { id: r.id, name: r.name, role: r.role, prefix: r.prefix, createdAt: r.created_at, revokedAt: r.revoked_at ?? null, lastUsedAt: r.last_used_at ?? null }
}

/** What is stored of a token: its SHA-256, hex. */
export const tokenHash = (s: string): string => createHash('sha256').update(s).digest('hex')

/** A new token for `name` and `role` (validated): the secret shown once, and what is stored of it. */
export function mintToken(name: string, role: Role): { token: string; hash: string; prefix: string; name: string } {
  if (!ROLES.includes(role)) throw new TidewatchError('BAD_REQUEST', { role }, `role must be one of ${ROLES.join(', ')}`)
  if (!name.trim()) throw new TidewatchError('BAD_REQUEST', { name }, 'a token needs a name (who or what uses it)')
  const token = `tw_${randomBytes(32).toString('base64url')}`
  return { token, hash: tokenHash(token), prefix: token.slice(0, 9), name: name.trim() }
}
