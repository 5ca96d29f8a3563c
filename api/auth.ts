import { timingSafeEqual, createHash } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { errorBody } from './errors.ts'

/**
 * Staff-only routes. Farmers' phone numbers (subscribers, the SMS log) are
 * personal data, and rules and subscriptions must not be changed by anyone
 * on the internet. Everything else — stations, readings, incidents, open
 * data — is public on purpose.
 */
const STAFF_READ = [/^\/api\/v1\/alerts\/subscribers(\/|$)/, /^\/api\/v1\/alerts\/messages(\/|$)/]
// The SMS gateway's inbound webhook authenticates with its own shared secret.
const OPEN_WRITE = [/^\/api\/v1\/alerts\/inbound\//]

export function isStaffRoute(method: string, path: string): boolean {
  if (method === 'GET' || method === 'HEAD') return STAFF_READ.some((r) => r.test(path))
  return path.startsWith('/api/v1/') && !OPEN_WRITE.some((r) => r.test(path))
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest()
}

export function staffAuth(token: string) {
  const expected = digest(token)
  return async function checkStaff(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    // Decide on the path the router matched, not the raw URL: a percent-encoded
    // "/alerts/%73ubscribers" routes to the same handler.
    const raw = req.url.split('?')[0]!
    let decoded = raw
    try {
      decoded = decodeURIComponent(raw)
    } catch {
      // Malformed escapes: the router answers 400/404 itself; judge the raw path.
    }
    const path = req.routeOptions.url ?? decoded
    if (!isStaffRoute(req.method, path) && !isStaffRoute(req.method, decoded)) return
    const header = req.headers.authorization ?? ''
    const given = header.startsWith('Bearer ') ? header.slice(7) : ''
    if (given && timingSafeEqual(digest(given), expected)) return
    await reply
      .status(401)
      .header('www-authenticate', 'Bearer realm="tidewatch staff"')
      .send(errorBody('UNAUTHORIZED', 'This route is for environment staff: send Authorization: Bearer <token>', { path }))
  }
}
