import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Role } from '../../core/tokens.ts'

/**
 * Console sessions. Here, in memory (the single-process default); in cluster
 * mode in PostgreSQL (cluster/metadata/console-postgres.ts), so a session
 * made on one API node works on every other behind HAProxy. Both implement
 * SessionStore. In memory: a random 256-bit id in an HttpOnly,
 * SameSite=Strict cookie, and a per-session CSRF token that every form sends
 * back (synchronizer token, OWASP CSRF Prevention Cheat Sheet). A session
 * carries the API bearer token its actions are made with, so the console
 * calls the API's own routes and the audit log names the person.
 *
 * Lifetimes (judgment, after OWASP Session Management Cheat Sheet, which
 * suggests 15–30 min idle for low-risk applications and an absolute limit of
 * a working day): idle 30 min, absolute 12 h. Bounded: past `max` sessions the
 * oldest is ended.
 */
export interface SessionPrincipal {
  /** The username, or the API token's name: what the audit log shows. */
  name: string
  role: Role
  kind: 'account' | 'token'
}

export interface Session {
  id: string
  csrf: string
  principal: SessionPrincipal
  /** Bearer token for the console's calls to the API. */
  apiToken: string
  /** Set when the console minted `apiToken` for an account sign-in; revoked when the session ends. */
  mintedTokenId: number | null
  createdAt: number
  lastSeenAt: number
}

export interface SessionOptions {
  idleMs: number
  absoluteMs: number
  max: number
  clock: () => number
  /** Called once for every session that ends (sign-out, expiry, eviction). */
  onEnd: (s: Session) => void
}

type MaybePromise<T> = T | Promise<T>

/** What the console needs of a session store; the in-memory one answers at once, PostgreSQL's after a round trip. */
export interface SessionStore {
  create(principal: SessionPrincipal, apiToken: string, mintedTokenId: number | null): MaybePromise<{ cookie: string; session: Session }>
  /** The live session of a cookie value, touched; undefined (and ended) when expired. */
  get(cookie: string | undefined): MaybePromise<Session | undefined>
  signOut(cookie: string | undefined): MaybePromise<void>
  /** Ends every session of a principal (an account disabled, a token revoked). */
  endFor(name: string): MaybePromise<void>
}

export const SESSION_DEFAULTS = { idleMs: 30 * 60_000, absoluteMs: 12 * 3_600_000, max: 10_000 } as const

export const COOKIE = 'tw_console'

/** A session's key: the SHA-256 of the cookie value, so a heap or database dump does not hand out live cookies. */
export const sessionIdOf = (cookie: string): string => createHash('sha256').update(cookie).digest('hex')
const hashId = sessionIdOf

export class Sessions implements SessionStore {
  /** Keyed by the SHA-256 of the cookie value, so a heap dump does not hand out live cookies. */
  private readonly byId = new Map<string, Session>()
  evicted = 0

  constructor(private readonly opts: SessionOptions) {}

  create(principal: SessionPrincipal, apiToken: string, mintedTokenId: number | null): { cookie: string; session: Session } {
    this.sweep()
    while (this.byId.size >= this.opts.max) {
      const oldest = this.byId.keys().next().value as string
      this.end(oldest, true)
      this.evicted++
    }
    const now = this.opts.clock()
    const cookie = randomBytes(32).toString('base64url')
    const session: Session = { id: hashId(cookie), csrf: randomBytes(32).toString('base64url'), principal, apiToken, mintedTokenId, createdAt: now, lastSeenAt: now }
    this.byId.set(session.id, session)
    return { cookie, session }
  }

  /** The live session of a cookie value, touched; undefined (and ended) when expired. */
  get(cookie: string | undefined): Session | undefined {
    if (!cookie) return undefined
    const id = hashId(cookie)
    const s = this.byId.get(id)
    if (!s) return undefined
    const now = this.opts.clock()
    if (this.expired(s, now)) {
      this.end(id, true)
      return undefined
    }
    s.lastSeenAt = now
    return s
  }

  signOut(cookie: string | undefined): void {
    if (cookie) this.end(hashId(cookie), true)
  }

  /** Ends every session of a principal (an account disabled, a token revoked). */
  endFor(name: string): void {
    for (const [id, s] of this.byId) if (s.principal.name === name) this.end(id, true)
  }

  size(): number {
    return this.byId.size
  }

  private expired(s: Session, now: number): boolean {
    return now - s.lastSeenAt > this.opts.idleMs || now - s.createdAt > this.opts.absoluteMs
  }

  private sweep(): void {
    const now = this.opts.clock()
    for (const [id, s] of this.byId) if (this.expired(s, now)) this.end(id, true)
  }

  private end(id: string, notify: boolean): void {
    const s = this.byId.get(id)
    if (!s) return
    this.byId.delete(id)
    if (notify) this.opts.onEnd(s)
  }
}

export function csrfMatches(session: Session, given: unknown): boolean {
  if (typeof given !== 'string' || given.length === 0) return false
  const a = createHash('sha256').update(given).digest()
  const b = createHash('sha256').update(session.csrf).digest()
  return timingSafeEqual(a, b)
}

export function readCookie(header: string | undefined, name = COOKIE): string | undefined {
  if (!header) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}

/** HttpOnly, SameSite=Strict, path /console; Secure when the request came over TLS (directly or via a proxy). */
export function sessionCookie(value: string, secure: boolean, maxAgeSec?: number): string {
  return [`${COOKIE}=${value}`, 'Path=/console', 'HttpOnly', 'SameSite=Strict', ...(secure ? ['Secure'] : []), ...(maxAgeSec !== undefined ? [`Max-Age=${maxAgeSec}`] : [])].join('; ')
}
