import type { FastifyReply, FastifyRequest } from 'fastify'
import { createSecurityLog, type SecurityLog } from '../../core/security-log.ts'
import { errorBody } from '../errors.ts'
import type { AuditRecorder } from './audit.ts'
import { roleAtLeast, type Principal, type Role } from '../../core/tokens.ts'
import type { ApiTokens } from './tokens.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** Who sent the request, from its bearer token; null when anonymous. */
    principal: Principal | null
    /** Set by handlers that wrote their own audit record (with before/after). */
    audited: boolean
  }
}

/**
 * Who may do what. Reading stations, readings, incidents and open data is
 * public on purpose. Farmers' phone numbers (subscribers, the SMS log), the
 * quarantine and the audit log need at least `read`; every write needs
 * `staff`; deleting a station needs `admin`. The SMS gateway's inbound
 * webhook authenticates with its own shared secret.
 */
const READ_ROLE = [/^\/api\/v1\/alerts\/subscribers(\/|$)/, /^\/api\/v1\/alerts\/messages(\/|$)/, /^\/api\/v1\/audit(\/|$)/, /^\/api\/v1\/quarantine(\/|$)/]
const OPEN_WRITE = [/^\/api\/v1\/alerts\/inbound\//]
const ADMIN_WRITE: Array<[string, RegExp]> = [['DELETE', /^\/api\/v1\/stations\/[^/]+$/]]

export function requiredRole(method: string, path: string): Role | null {
  if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return READ_ROLE.some((r) => r.test(path)) ? 'read' : null
  if (!path.startsWith('/api/v1/')) return null
  if (OPEN_WRITE.some((r) => r.test(path))) return null
  if (ADMIN_WRITE.some(([m, r]) => m === method && r.test(path))) return 'admin'
  return 'staff'
}

function decodedPath(url: string): string {
  const raw = url.split('?')[0]!
  try {
    return decodeURIComponent(raw)
  } catch {
    return raw
  }
}

/**
 * `credentials = auth-scheme 1*SP token68`, and the auth-scheme is
 * case-insensitive (RFC 7235 §2.1; RFC 6750 §2.1 for Bearer): `bearer`,
 * `BEARER` and `Bearer` are one scheme. Anchored, no backtracking.
 */
const BEARER_SCHEME = /^bearer +/i

/**
 * The bearer token of a request: undefined without an Authorization header,
 * '' (which no token matches, so 401) for another scheme or no token.
 */
export function bearer(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization
  if (!header) return undefined
  const scheme = BEARER_SCHEME.exec(header)
  return scheme ? header.slice(scheme[0].length).trim() : ''
}

export function authGuard(tokens: Pick<ApiTokens, 'verify'>) {
  let security: SecurityLog | undefined
  return async function guard(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    req.principal = null
    req.audited = false
    const token = bearer(req)
    if (token !== undefined) {
      const principal = tokens.verify(token)
      if (!principal) {
        // Security event (docs/SECURITY.md); rate-limited: random tokens each get their own API rate-limit bucket.
        ;(security ??= createSecurityLog(req.server.log)).event('api.token.refused', { status: 401, reason: 'unknown_or_revoked', ip: req.ip, method: req.method, route: req.routeOptions.url ?? decodedPath(req.url).slice(0, 200) }, 'bearer token refused')
        await reply
          .status(401)
          .header('www-authenticate', 'Bearer realm="tidewatch", error="invalid_token"')
          .send(errorBody('UNAUTHORIZED', 'The bearer token is unknown or revoked'))
        return
      }
      req.principal = principal
    }
    // Judge both the routed pattern and the decoded path: "/alerts/%73ubscribers"
    // routes to the same handler as "/alerts/subscribers".
    const paths = [req.routeOptions.url, decodedPath(req.url)].filter((p): p is string => Boolean(p))
    const need = paths.map((p) => requiredRole(req.method, p)).reduce<Role | null>((a, b) => (b && (!a || roleAtLeast(b, a)) ? b : a), null)
    if (!need) return
    if (!req.principal) {
      await reply
        .status(401)
        .header('www-authenticate', 'Bearer realm="tidewatch"')
        .send(errorBody('UNAUTHORIZED', `This route needs a bearer token with role ${need} or higher`, { requiredRole: need }))
      return
    }
    if (!roleAtLeast(req.principal.role, need)) {
      await reply.status(403).send(errorBody('FORBIDDEN', `Role ${req.principal.role} may not do this; ${need} or higher is needed`, { requiredRole: need, role: req.principal.role }))
    }
  }
}

/** Every successful write not audited by its handler is recorded with its request body. */
export function auditFallback(audit: AuditRecorder) {
  return async function onResponse(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (req.audited || req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return
    if (reply.statusCode >= 400) return
    audit.record({
      actor: req.principal?.name ?? 'anonymous',
      role: req.principal?.role ?? 'none',
      action: `${req.method} ${req.routeOptions.url ?? decodedPath(req.url)}`,
      target: decodedPath(req.url),
      after: req.body,
      ip: req.ip,
    })
  }
}

/** For handlers: records a change with before/after and marks the request audited. */
export function auditChange(audit: AuditRecorder, req: FastifyRequest, action: string, target: string, before: unknown, after: unknown): void {
  audit.record({ actor: req.principal?.name ?? 'anonymous', role: req.principal?.role ?? 'none', action, target, before, after, ip: req.ip })
  req.audited = true
}
