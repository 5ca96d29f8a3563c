import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { AuditLog } from '../auth/audit.ts'
import { auditChange } from '../auth/guard.ts'
import { z } from 'zod'
import { httpStatus, isTidewatchError, TidewatchError } from '../../core/errors.ts'
import { isSensorKind, SENSOR_KINDS } from '../../core/sensors.ts'
import { parseScope } from '../../levels/book.ts'
import { ZONES } from '../../levels/zones.ts'
import type { Alerter } from '../../alerts/alerter.ts'
import { SubscriberInputSchema } from '../../alerts/subscribers.ts'

/**
 * Alert API: rules (defaults and per-station overrides), incidents and their
 * history, subscribers, the outbox, and the HTTP gateway's inbound SMS
 * webhook. Errors: { error: { code, message, details } } with 400/404.
 */
function send(reply: FastifyReply, err: unknown): FastifyReply {
  if (isTidewatchError(err)) return reply.code(httpStatus(err.code)).send({ error: err.toJSON() })
  return reply.code(500).send({ error: { code: 'INTERNAL', message: (err as Error).message, details: {} } })
}

function parse<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const r = schema.safeParse(value)
  if (!r.success) throw new TidewatchError('BAD_REQUEST', { issues: r.error.issues.map((i) => ({ key: i.path.join('.'), reason: i.message })) })
  return r.data
}

const ListQuery = z.object({
  station: z.string().optional(),
  incident: z.string().optional(),
  status: z.string().optional(),
  open: z.enum(['true', 'false']).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(100),
})
const InboundBody = z.object({ from: z.string().min(3).max(20), text: z.string().max(1600) })

function safeEqual(a: string, b: string): boolean {
  const h = (x: string) => createHash('sha256').update(x).digest()
  return timingSafeEqual(h(a), h(b))
}

export function alertRoutes(alerter: Alerter, audit?: AuditLog, stations?: { get(id: string): unknown }): FastifyPluginAsync {
  // A rule scope is 'default', 'zone:<zone>' or a registered station; a sensor must be in the catalog.
  const checkScope = (scope: string | undefined, sensor?: string): void => {
    if (sensor !== undefined && !isSensorKind(sensor)) throw new TidewatchError('BAD_REQUEST', { parameter: 'sensor', sensor }, `unknown sensor kind "${sensor}"`)
    const parsed = parseScope(scope ?? '')
    if (parsed.kind === 'station' && stations && !stations.get(scope ?? '')) throw new TidewatchError('STATION_NOT_FOUND', { id: scope })
  }
  const stored = (scope: string, sensor: string) => (scope === 'default' ? alerter.rules.defaults()[sensor] : alerter.rules.overrides(scope)[sensor])
  return async (app) => {
    const wrap =
      <T>(fn: (req: { params: Record<string, string>; query: unknown; body: unknown; headers: Record<string, unknown>; request: FastifyRequest }) => T) =>
      async (req: FastifyRequest, reply: FastifyReply) => {
        try {
          // Explicit fields: FastifyRequest exposes headers and body through getters a spread would drop.
          return await fn({ params: req.params as Record<string, string>, query: req.query, body: req.body, headers: req.headers, request: req })
        } catch (err) {
          return send(reply, err)
        }
      }
    app.get('/alerts/rules', wrap(() => ({
      defaults: alerter.rules.defaults(),
      // Each zone's rules in force now (stored zone rules over the season's built-ins).
      zones: Object.fromEntries(ZONES.map((z) => [z, alerter.rules.zoneRules(z)])),
    })))
    app.get('/alerts/rules/:station', wrap(({ params }) => {
      checkScope(params.station)
      const scope = parseScope(params.station!)
      if (scope.kind !== 'station') return { scope: params.station, overrides: alerter.rules.overrides(params.station!) }
      // What applies to the station, sensor by sensor, and where it comes from (station, zone, zone_default, default).
      const inForce: Record<string, unknown> = {}
      for (const sensor of SENSOR_KINDS) {
        const r = alerter.rules.explain(params.station!, sensor)
        if (r) inForce[sensor] = r
      }
      return { station: params.station, overrides: alerter.rules.overrides(params.station!), inForce }
    }))
    app.put('/alerts/rules/:scope/:sensor', wrap(({ params, body, request }) => {
      checkScope(params.scope, params.sensor)
      const before = stored(params.scope!, params.sensor!)
      const after = alerter.rules.set(params.scope!, params.sensor!, body, alerter.clock())
      if (audit) auditChange(audit, request, 'rule.set', `rule:${params.scope}/${params.sensor}`, before, after)
      return after
    }))
    app.delete('/alerts/rules/:scope/:sensor', wrap(({ params, request }) => {
      checkScope(params.scope, params.sensor)
      const before = stored(params.scope!, params.sensor!)
      if (!alerter.rules.remove(params.scope!, params.sensor!)) throw new TidewatchError('NOT_FOUND', { scope: params.scope, sensor: params.sensor })
      if (audit) auditChange(audit, request, 'rule.remove', `rule:${params.scope}/${params.sensor}`, before, undefined)
      return { removed: true }
    }))

    app.get('/alerts/incidents', wrap(({ query }) => {
      const q = parse(ListQuery, query)
      return { incidents: alerter.incidents({ open: q.open === undefined ? undefined : q.open === 'true', station: q.station, limit: q.limit }) }
    }))
    app.get('/alerts/incidents/:id', wrap(({ params }) => {
      const events = alerter.events({ incident: params.id, limit: 1000 })
      if (!events.length) throw new TidewatchError('NOT_FOUND', { incident: params.id })
      // Public route: what was sent and how often, never to whom (phone numbers are personal data).
      const messages = alerter.messages({ incident: params.id, limit: 10_000 }).map(({ address: _address, dedupe_key: _key, subscriber_id: _sub, ...rest }) => rest)
      return { incident: params.id, events, messages }
    }))
    app.get('/alerts/events', wrap(({ query }) => {
      const q = parse(ListQuery, query)
      return { events: alerter.events({ station: q.station, incident: q.incident, limit: q.limit }) }
    }))
    app.get('/alerts/states', wrap(() => ({ states: alerter.engine.allStates() })))

    app.get('/alerts/subscribers', wrap(() => ({ subscribers: alerter.subscribers.list() })))
    // Changes to subscribers are audited with before and after (personal data: who changed what, when).
    const changed = (req: FastifyRequest, action: string, target: string, before: unknown, after: unknown) => {
      if (audit) auditChange(audit, req, action, target, before, after)
    }
    app.post('/alerts/subscribers', wrap(({ body, request }) => {
      const created = alerter.subscribers.create(parse(SubscriberInputSchema, body), alerter.clock())
      changed(request, 'subscriber.create', `subscriber:${created.id}`, undefined, created)
      return created
    }))
    app.get('/alerts/subscribers/:id', wrap(({ params }) => {
      const s = alerter.subscribers.get(Number(params.id))
      if (!s) throw new TidewatchError('SUBSCRIBER_NOT_FOUND', { id: params.id })
      return s
    }))
    app.patch('/alerts/subscribers/:id', wrap(({ params, body, request }) => {
      const before = alerter.subscribers.get(Number(params.id))
      const after = alerter.subscribers.update(Number(params.id), parse(z.record(z.string(), z.unknown()), body), alerter.clock())
      changed(request, 'subscriber.update', `subscriber:${params.id}`, before, after)
      return after
    }))
    app.delete('/alerts/subscribers/:id', wrap(({ params, request }) => {
      const before = alerter.subscribers.get(Number(params.id))
      alerter.subscribers.remove(Number(params.id))
      changed(request, 'subscriber.delete', `subscriber:${params.id}`, before, undefined)
      return { removed: true }
    }))

    app.get('/alerts/messages', wrap(({ query }) => {
      const q = parse(ListQuery, query)
      return { messages: alerter.messages({ status: q.status, incident: q.incident, limit: q.limit }) }
    }))

    // Inbound SMS from the HTTP gateway: { from, text }. A forged "HUY" would
    // silently unsubscribe a farmer from danger alerts, so the webhook exists
    // only with the gateway enabled and a shared secret configured.
    app.post('/alerts/inbound/http', wrap(({ body, headers }) => {
      const secret = alerter.config.http.inboundSecret
      if (!(alerter.config.http.enabled || alerter.config.smsChannel === 'http') || !secret) throw new TidewatchError('NOT_FOUND', {}, 'inbound SMS webhook is disabled (enable alerts.http and set alerts.http.inboundSecret)')
      const given = String(headers['x-tidewatch-secret'] ?? '')
      if (!safeEqual(given, secret)) throw new TidewatchError('UNAUTHORIZED', {}, 'bad or missing X-Tidewatch-Secret')
      const b = parse(InboundBody, body)
      return alerter.handleInboundSms(b.from, b.text, 'http')
    }))

    app.get('/alerts/metrics', async (_req, reply) => reply.type('text/plain; version=0.0.4').send(`${alerter.metrics().join('\n')}\n`))
  }
}
