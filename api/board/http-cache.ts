import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

/**
 * Conditional GET for public, read-only routes: a strong ETag from a hash of
 * the exact body, `If-None-Match` answered with 304 (RFC 9110 §13.1.2), and
 * a Cache-Control for shared caches. Registered as an onSend hook on an
 * encapsulated plugin, so it applies to that plugin's routes only.
 */
export interface HttpCacheOptions {
  /** Cache-Control for successful responses. */
  cacheControl: string
}

export function etagOf(body: string | Buffer): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 32)}"`
}

/** If-None-Match uses the weak comparison: W/"x" matches "x" (RFC 9110 §13.1.2). */
export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false
  if (header.trim() === '*') return true
  const bare = etag.replace(/^W\//, '')
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === bare)
}

export function addHttpCache(app: FastifyInstance, opts: HttpCacheOptions): void {
  app.addHook('onSend', async (req: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return payload
    if (reply.statusCode !== 200) {
      // Errors and degraded pages must not be kept by shared caches.
      if (!reply.hasHeader('cache-control')) void reply.header('cache-control', 'no-store')
      return payload
    }
    if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) return payload
    const etag = etagOf(payload)
    void reply.header('etag', etag)
    if (!reply.hasHeader('cache-control')) void reply.header('cache-control', opts.cacheControl)
    if (matchesIfNoneMatch(req.headers['if-none-match'], etag)) {
      // A 304 carries the validators and caching headers but no body (RFC 9110 §15.4.5).
      void reply.code(304)
      reply.removeHeader('content-type')
      reply.removeHeader('content-length')
      return ''
    }
    return payload
  })
}
