import type Database from 'better-sqlite3'
import { z } from 'zod'
import { TidewatchError } from '../../core/errors.ts'
import { generatePassword, hashPassword, verifyPassword } from '../../core/password.ts'
import { migrate } from '../../core/sqlite.ts'
import { ROLES, type Role } from '../../core/tokens.ts'

/**
 * Named staff accounts for the console: a username, a role (the API's roles,
 * api/auth/tokens.ts) and a password people choose, so it is hashed with
 * scrypt (core/password.ts hashPassword, RFC 7914), a slow KDF whose cost
 * is what protects a guessable secret. Created with `tidewatch staff add`.
 *
 * The second table remembers which API tokens the console minted for signed-in
 * accounts (api/console/sessions.ts): sessions live in memory, so after a
 * restart their tokens are revoked at start-up instead of lingering.
 */
const MIGRATIONS = [
  `CREATE TABLE console_accounts (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     username TEXT NOT NULL UNIQUE COLLATE NOCASE,
     role TEXT NOT NULL CHECK (role IN ('read', 'staff', 'admin')),
     hash TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     disabled_at INTEGER,
     last_login_at INTEGER
   );
   CREATE TABLE console_session_tokens (
     token_id INTEGER PRIMARY KEY,
     created_at INTEGER NOT NULL
   );`,
]

/** Letters, digits, dot, dash, underscore: it is shown in the audit log as the person's name. */
export const UsernameSchema = z.string().trim().toLowerCase().regex(/^[a-z0-9._-]{2,64}$/, 'username: 2–64 letters, digits, dot, dash or underscore')
/**
 * At least 8 characters and at most 256: NIST SP 800-63B §5.1.1.2 asks for a
 * minimum of 8 for chosen secrets and for accepting long passphrases.
 */
export const PasswordSchema = z.string().min(8, 'password: at least 8 characters').max(256)
export const RoleSchema = z.enum(ROLES)

export interface StaffAccount {
  id: number
  username: string
  role: Role
  createdAt: number
  disabledAt: number | null
  lastLoginAt: number | null
}

/** A stored row as an account (the same columns in SQLite and in cluster mode's PostgreSQL, cluster/metadata/console-postgres.ts). */
export function toAccount(r: Record<string, unknown>): StaffAccount {
  return {
    id: r.id as number,
    username: r.username as string,
    role: r.role as Role,
    createdAt: r.created_at as number,
    disabledAt: (r.disabled_at as number | null) ?? null,
    lastLoginAt: (r.last_login_at as number | null) ?? null,
  }
}

/** A new account's username (normalized), role and password, checked; STAFF_ACCOUNT_INVALID naming every problem. */
export function parseNewAccount(username: string, role: string, password: string): { username: string; role: Role } {
  const u = UsernameSchema.safeParse(username)
  const r = RoleSchema.safeParse(role)
  const p = PasswordSchema.safeParse(password)
  const bad = [u, r, p].flatMap((x) => (x.success ? [] : x.error.issues.map((i) => i.message)))
  if (bad.length || !u.success || !r.success) throw new TidewatchError('STAFF_ACCOUNT_INVALID', { issues: bad }, bad.join('; '))
  return { username: u.data, role: r.data }
}

export class StaffAccounts {
  private readonly db: Database.Database
  /** Compared against when the username is unknown, so a wrong name costs the same scrypt as a wrong password. */
  private dummy: Promise<string> | undefined

  constructor(db: Database.Database) {
    this.db = db
    migrate(db, 'console_accounts', MIGRATIONS)
  }

  async add(username: string, role: string, password: string, now = Date.now()): Promise<StaffAccount> {
    const u = parseNewAccount(username, role, password)
    if (this.get(u.username)) throw new TidewatchError('STAFF_ACCOUNT_EXISTS', { username: u.username })
    const hash = await hashPassword(password)
    const info = this.db.prepare('INSERT INTO console_accounts (username, role, hash, created_at) VALUES (?, ?, ?, ?)').run(u.username, u.role, hash, now)
    return this.get(u.username) ?? { id: Number(info.lastInsertRowid), username: u.username, role: u.role, createdAt: now, disabledAt: null, lastLoginAt: null }
  }

  get(username: string): StaffAccount | undefined {
    const row = this.db.prepare('SELECT * FROM console_accounts WHERE username = ?').get(username.trim()) as Record<string, unknown> | undefined
    return row ? toAccount(row) : undefined
  }

  list(): StaffAccount[] {
    return (this.db.prepare('SELECT * FROM console_accounts ORDER BY id').all() as Array<Record<string, unknown>>).map(toAccount)
  }

  /** The account when the password matches and the account is active; undefined otherwise (same cost either way). */
  async verify(username: string, password: string, now = Date.now()): Promise<StaffAccount | undefined> {
    const row = this.db.prepare('SELECT * FROM console_accounts WHERE username = ?').get(username.trim()) as Record<string, unknown> | undefined
    const stored = (row?.hash as string | undefined) ?? (await (this.dummy ??= hashPassword(generatePassword())))
    const ok = await verifyPassword(password, stored)
    if (!row || !ok || row.disabled_at !== null) return undefined
    this.db.prepare('UPDATE console_accounts SET last_login_at = ? WHERE id = ?').run(now, row.id)
    return toAccount(row)
  }

  setDisabled(username: string, disabled: boolean, now = Date.now()): boolean {
    return this.db.prepare('UPDATE console_accounts SET disabled_at = ? WHERE username = ?').run(disabled ? now : null, username.trim()).changes > 0
  }

  rememberToken(tokenId: number, now = Date.now()): void {
    this.db.prepare('INSERT OR IGNORE INTO console_session_tokens (token_id, created_at) VALUES (?, ?)').run(tokenId, now)
  }

  forgetToken(tokenId: number): void {
    this.db.prepare('DELETE FROM console_session_tokens WHERE token_id = ?').run(tokenId)
  }

  /** Token ids minted for sessions that may still be active (all of them, after a restart). */
  mintedTokens(): number[] {
    return (this.db.prepare('SELECT token_id FROM console_session_tokens').all() as Array<{ token_id: number }>).map((r) => r.token_id)
  }
}
