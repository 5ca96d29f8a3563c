import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { AuditLog } from '../auth/audit.ts'
import { auditChange } from '../auth/guard.ts'
import { z } from 'zod'
import { httpStatus, isTidewatchError, TidewatchError } from '../../core/errors.ts'
import { renderPrometheus } from '../../core/metrics.ts'
import { isSensorKind, SENSOR_KINDS } from '../../core/sensors.ts'
import { parseScope } from '../../levels/book.ts'
import { ZONES } from '../../levels/zones.ts'
import type { Alerter } from '../../alerts/alerter.ts'
import { localSubscriberWriter, SubscriberInputSchema, Subscribers, type SubscriberWriter } from '../../alerts/subscribers.ts'
import { migrateAlerts } from '../../alerts/store.ts'
import { AlertHistory } from '../../alerts/history.ts'
import type { Registry } from '../../devices/registry.ts'
import { SensorRuleSchema, type SensorRule } from '../../levels/rules.ts'
import { json, media, selfValidatedRoute } from '../openapi.ts'

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

// ---- The OpenAPI document's schemas of these routes (api/openapi.ts); rows are the alerter's SQLite rows (alerts/store.ts). ----

/** These handlers validate their own input (parse() above, with their own error details): the schemas only document it. */
const doc = selfValidatedRoute

const Ms = z.number().meta({ description: 'Epoch milliseconds' })
const Rule = z
  .looseObject({
    enabled: z.boolean(),
    levels: z.array(z.looseObject({ name: z.string(), severity: z.enum(['warning', 'danger']), direction: z.enum(['above', 'below', 'outside']), threshold: z.number() })),
    rise: z.looseObject({ delta: z.number(), windowSec: z.number() }).nullish(),
  })
  .meta({ description: 'A sensor rule (levels/rules.ts, docs/ALERTS.md)' })
const RULE_EXAMPLE = { enabled: true, levels: [{ name: 'warning', severity: 'warning', direction: 'above', threshold: 2, pendingReadings: 2, pendingSec: 0, notifyFarmers: true }, { name: 'danger', severity: 'danger', direction: 'above', threshold: 4, pendingReadings: 2, pendingSec: 0, notifyFarmers: true }], rise: null }
const RulesBySensor = z.record(z.string(), Rule)

/** An incident: one station's sensor past a level, from opening to closing (alert_incidents). */
export const IncidentSchema = z.looseObject({
  id: z.string(),
  station: z.string(),
  sensor: z.string(),
  ladder: z.string(),
  level: z.string(),
  max_level: z.string(),
  opened_at: Ms,
  closed_at: Ms.nullable(),
  peak_value: z.number().nullable(),
})
export const INCIDENT_EXAMPLE = { id: 'cm-song-doc-01/salinity/1740794400000', station: 'cm-song-doc-01', sensor: 'salinity', ladder: 'levels', level: 'danger', max_level: 'danger', opened_at: 1740794400000, closed_at: null, peak_value: 4.7 }
const EventSchema = z.looseObject({ id: z.number(), at: Ms, station: z.string(), sensor: z.string(), level: z.string().nullable(), from_status: z.string(), to_status: z.string(), value: z.number().nullable(), incident: z.string().nullable() })
const EVENT_EXAMPLE = { id: 7, at: 1740794460000, station: 'cm-song-doc-01', sensor: 'salinity', ladder: 'levels', level: 'danger', from_status: 'ok', to_status: 'danger', value: 4.7, threshold: 4, reading_ts: 1740794400000, received_at: 1740794401000, late: 0, incident: INCIDENT_EXAMPLE.id }
/** An SMS (or email, webhook) in the outbox; the public incident view leaves out address, dedupe_key and subscriber_id. */
const MessageSchema = z.looseObject({ id: z.number(), channel: z.string(), kind: z.string(), station: z.string().nullable(), incident: z.string().nullable(), level: z.string().nullable(), text: z.string(), encoding: z.string(), segments: z.number(), status: z.string() })
const MESSAGE_EXAMPLE = { id: 3, channel: 'smpp', kind: 'alert', station: 'cm-song-doc-01', incident: INCIDENT_EXAMPLE.id, level: 'danger', severity: 'danger', text: 'NGUY HIEM: do man tram Song Doc 4.7 ‰ ...', encoding: 'gsm7', segments: 1, status: 'delivered', reason: null, attempts: 1, created_at: 1740794461000 }
const SubscriberSchema = z.looseObject({
  id: z.number(),
  kind: z.enum(['farmer', 'staff']),
  name: z.string(),
  phone: z.string().nullable(),
  email: z.string().nullable(),
  webhook: z.string().nullable(),
  lang: z.enum(['vi', 'en']),
  diacritics: z.boolean(),
  stations: z.array(z.string()),
  communes: z.array(z.string()),
  active: z.boolean(),
  createdAt: Ms,
  updatedAt: Ms,
})
const SUBSCRIBER_EXAMPLE = { id: 12, kind: 'farmer', name: 'Bác Năm', phone: '+84913000111', email: null, webhook: null, lang: 'vi', diacritics: false, stations: ['cm-song-doc-01'], communes: [], active: true, createdAt: 1740794400000, updatedAt: 1740794400000 }
/** A list of the alerter's rows under `key`, filtered by some of ListQuery's parameters (parse() checks them). */
const listDoc = (operationId: string, summary: string, filters: { [K in keyof typeof ListQuery.shape]?: true }, key: string, row: z.ZodType, example: unknown) =>
  doc({
    operationId,
    tag: 'alerts',
    summary,
    querystring: ListQuery.pick(filters),
    ok: { 200: json(`The ${key}`, z.looseObject({ [key]: z.array(row) }).meta({ examples: [{ [key]: [example] }] })) },
    errors: ['BAD_REQUEST'],
  })
const Removed = json('Removed', z.looseObject({ removed: z.literal(true) }).meta({ examples: [{ removed: true }] }))
const StationScope = z.object({ station: z.string().meta({ description: "A station id, 'default' or 'zone:<zone>'", examples: ['cm-song-doc-01'] }) })
const RuleParams = z.object({
  scope: z.string().meta({ description: "'default', 'zone:<zone>' or a registered station id", examples: ['cm-song-doc-01'] }),
  sensor: z.string().meta({ description: 'A sensor kind from the catalog (core/sensors.ts)', examples: ['salinity'] }),
})
const IdParams = z.object({ id: z.string().meta({ examples: ['12'] }) })
// `example`, not `examples`: zod leaves examples out of an input schema that holds a transform (the phone number's).
const PatchSubscriber = z.object(SubscriberInputSchema.shape).partial().meta({ example: { name: 'Bác Năm', stations: ['cm-song-doc-01', 'cm-nam-can-01'] } })

function safeEqual(a: string, b: string): boolean {
  const h = (x: string) => createHash('sha256').update(x).digest()
  return timingSafeEqual(h(a), h(b))
}

/** The handlers' wrapper: a thrown error becomes the { error } body with its code's status. */
type Handler<T> = (req: { params: Record<string, string>; query: unknown; body: unknown; headers: Record<string, unknown>; request: FastifyRequest }) => T
function wrap<T>(fn: Handler<T>) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    try {
      // Explicit fields: FastifyRequest exposes headers and body through getters a spread would drop.
      return await fn({ params: req.params as Record<string, string>, query: req.query, body: req.body, headers: req.headers, request: req })
    } catch (err) {
      return send(reply, err)
    }
  }
}

/**
 * The subscriber routes: read from the node's own table (`subscribers`),
 * written through `writer`. Single process: both are the node's SQLite. In
 * cluster mode the writer is PostgreSQL's (cluster/metadata/subscriber-writer.ts)
 * and the table a copy that the write is read back into, so a client reads
 * its own write on the node that took it; an API node without an alerter
 * serves these routes too (platform/platform.ts).
 */
export interface SubscriberRouteDeps {
  subscribers: Pick<Subscribers, 'list' | 'get'>
  writer: SubscriberWriter
  clock: () => number
}

export function subscriberRoutes(deps: SubscriberRouteDeps, audit?: AuditLog): FastifyPluginAsync {
  return async (app) => {
    app.get('/alerts/subscribers', doc({
      operationId: 'listSubscribers',
      tag: 'subscribers',
      summary: 'Every subscriber (personal data)',
      ok: { 200: json('The subscribers', z.looseObject({ subscribers: z.array(SubscriberSchema) }).meta({ examples: [{ subscribers: [SUBSCRIBER_EXAMPLE] }] })) },
    }), wrap(() => ({ subscribers: deps.subscribers.list() })))
    // Changes to subscribers are audited with before and after (personal data: who changed what, when).
    const changed = (req: FastifyRequest, action: string, target: string, before: unknown, after: unknown) => {
      if (audit) auditChange(audit, req, action, target, before, after)
    }
    app.post('/alerts/subscribers', doc({
      operationId: 'createSubscriber',
      tag: 'subscribers',
      summary: 'Add a farmer or staff subscriber',
      description: 'A farmer needs a phone; staff need a phone, email or webhook. Audited with the new subscriber.',
      body: SubscriberInputSchema.meta({ example: { phone: '0913000111', name: 'Bác Năm', stations: ['cm-song-doc-01'] } }),
      ok: { 200: json('The new subscriber', SubscriberSchema.meta({ examples: [SUBSCRIBER_EXAMPLE] })) },
      errors: ['BAD_REQUEST', 'SUBSCRIBER_INVALID', 'SUBSCRIBER_EXISTS'],
    }), wrap(async ({ body, request }) => {
      const created = await deps.writer.create(parse(SubscriberInputSchema, body), deps.clock())
      changed(request, 'subscriber.create', `subscriber:${created.id}`, undefined, created)
      return created
    }))
    app.get('/alerts/subscribers/:id', doc({
      operationId: 'getSubscriber',
      tag: 'subscribers',
      summary: 'One subscriber (personal data)',
      params: IdParams,
      ok: { 200: json('The subscriber', SubscriberSchema.meta({ examples: [SUBSCRIBER_EXAMPLE] })) },
      errors: ['SUBSCRIBER_NOT_FOUND'],
    }), wrap(({ params }) => {
      const s = deps.subscribers.get(Number(params.id))
      if (!s) throw new TidewatchError('SUBSCRIBER_NOT_FOUND', { id: params.id })
      return s
    }))
    app.patch('/alerts/subscribers/:id', doc({
      operationId: 'updateSubscriber',
      tag: 'subscribers',
      summary: 'Change some fields of a subscriber',
      params: IdParams,
      body: PatchSubscriber,
      ok: { 200: json('The subscriber after the change', SubscriberSchema.meta({ examples: [SUBSCRIBER_EXAMPLE] })) },
      errors: ['BAD_REQUEST', 'SUBSCRIBER_NOT_FOUND', 'SUBSCRIBER_INVALID', 'SUBSCRIBER_EXISTS'],
    }), wrap(async ({ params, body, request }) => {
      const before = deps.subscribers.get(Number(params.id))
      const after = await deps.writer.update(Number(params.id), parse(z.record(z.string(), z.unknown()), body), deps.clock())
      changed(request, 'subscriber.update', `subscriber:${params.id}`, before, after)
      return after
    }))
    app.delete('/alerts/subscribers/:id', doc({ operationId: 'deleteSubscriber', tag: 'subscribers', summary: 'Remove a subscriber', params: IdParams, ok: { 200: Removed }, errors: ['SUBSCRIBER_NOT_FOUND'] }), wrap(async ({ params, request }) => {
      const before = deps.subscribers.get(Number(params.id))
      await deps.writer.remove(Number(params.id))
      changed(request, 'subscriber.delete', `subscriber:${params.id}`, before, undefined)
      return { removed: true }
    }))

  }
}

/**
 * An API node without an alerter in cluster mode (`tidewatch api`): the
 * subscriber routes alone, over the node's copy of PostgreSQL's subscribers
 * (the registry file's alert_subscribers, which cluster/metadata/mirror.ts
 * keeps) and PostgreSQL's writer. The table is created here if this node's
 * mirror has not made it yet, so the routes answer an empty list, not a 500.
 */
export function clusterSubscriberRoutes(registry: Pick<Registry, 'db'>, writer: SubscriberWriter, audit?: AuditLog): FastifyPluginAsync {
  migrateAlerts(registry.db)
  const subscribers = subscriberRoutes({ subscribers: new Subscribers(registry.db), writer, clock: Date.now }, audit)
  // The cluster's outbox: this node's copy of the leading alerter's record in PostgreSQL (cluster/metadata/mirror.ts copyOutbox).
  const messages = messagesRoute(new AlertHistory(registry.db))
  return async (app) => {
    await app.register(subscribers)
    await app.register(messages)
  }
}

/** GET /alerts/messages over an outbox: the alerter's own, or an API node's copy of the cluster's. */
function messagesRoute(outbox: Pick<AlertHistory, 'messages'>): FastifyPluginAsync {
  return async (app) => {
    app.get('/alerts/messages', listDoc(
      'listMessages',
      'The outbox: messages to subscribers, newest first (personal data: addresses)',
      { status: true, incident: true, limit: true },
      'messages',
      MessageSchema.extend({ address: z.string() }),
      { ...MESSAGE_EXAMPLE, address: '+84913000111', subscriber_id: 12 },
    ), wrap(({ query }) => {
      const q = parse(ListQuery, query)
      return { messages: outbox.messages({ status: q.status, incident: q.incident, limit: q.limit }) }
    }))
  }
}

/**
 * Where the stored rule routes write (issue 16): this process's rule book, or
 * in cluster mode PostgreSQL, read back into this node's copy before
 * resolving (cluster/metadata/station-writer.ts clusterRuleWriter), so every
 * node's alerter and board follow it. ALERT_RULE_INVALID either way.
 */
export interface RuleWriter {
  /** Validates and stores; the rule as stored. */
  set(scope: string, sensor: string, input: unknown, now: number): Promise<SensorRule>
  /** False when no rule was stored there. */
  remove(scope: string, sensor: string): Promise<boolean>
}

export function alertRoutes(alerter: Alerter, audit?: AuditLog, stations?: { get(id: string): unknown }, writer?: SubscriberWriter, ruleWriter?: RuleWriter): FastifyPluginAsync {
  const rules: RuleWriter = ruleWriter ?? {
    set: async (scope, sensor, input, now) => alerter.rules.set(scope, sensor, input, now),
    remove: async (scope, sensor) => alerter.rules.remove(scope, sensor),
  }
  // A rule scope is 'default', 'zone:<zone>' or a registered station; a sensor must be in the catalog.
  const checkScope = (scope: string | undefined, sensor?: string): void => {
    if (sensor !== undefined && !isSensorKind(sensor)) throw new TidewatchError('BAD_REQUEST', { parameter: 'sensor', sensor }, `unknown sensor kind "${sensor}"`)
    const parsed = parseScope(scope ?? '')
    if (parsed.kind === 'station' && stations && !stations.get(scope ?? '')) throw new TidewatchError('STATION_NOT_FOUND', { id: scope })
  }
  const stored = (scope: string, sensor: string) => (scope === 'default' ? alerter.rules.defaults()[sensor] : alerter.rules.overrides(scope)[sensor])
  return async (app) => {
    app.get('/alerts/rules', doc({
      operationId: 'listAlertRules',
      tag: 'alerts',
      summary: 'The default rules and each zone\'s rules in force',
      ok: { 200: json('Rules by sensor kind, and by zone then sensor kind', z.looseObject({ defaults: RulesBySensor, zones: z.record(z.string(), RulesBySensor) }).meta({ examples: [{ defaults: { salinity: RULE_EXAMPLE }, zones: { rice: { salinity: RULE_EXAMPLE } } }] })) },
    }), wrap(() => ({
      defaults: alerter.rules.defaults(),
      // Each zone's rules in force now (stored zone rules over the season's built-ins).
      zones: Object.fromEntries(ZONES.map((z) => [z, alerter.rules.zoneRules(z)])),
    })))
    app.get('/alerts/rules/:station', doc({
      operationId: 'getAlertRules',
      tag: 'alerts',
      summary: 'The rules of a scope: a station\'s overrides and the rules in force for it, or the overrides of default or a zone',
      params: StationScope,
      ok: {
        200: json(
          'For a station: station, overrides and inForce (each sensor\'s rule and where it comes from: station, zone, zone_default, default, built_in). For default or zone:<zone>: scope and overrides.',
          z
            .looseObject({ station: z.string().optional(), scope: z.string().optional(), overrides: RulesBySensor, inForce: z.record(z.string(), z.looseObject({ rule: Rule, source: z.string(), zone: z.string() })).optional() })
            .meta({ examples: [{ station: 'cm-song-doc-01', overrides: {}, inForce: { salinity: { rule: RULE_EXAMPLE, source: 'zone_default', zone: 'rice_shrimp' } } }] }),
        ),
      },
      errors: ['STATION_NOT_FOUND'],
    }), wrap(({ params }) => {
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
    app.put('/alerts/rules/:scope/:sensor', doc({
      operationId: 'putAlertRule',
      tag: 'alerts',
      summary: 'Set the rule of a sensor for default, a zone or a station',
      params: RuleParams,
      body: SensorRuleSchema.meta({ examples: [{ levels: [{ name: 'warning', severity: 'warning', direction: 'above', threshold: 2 }, { name: 'danger', severity: 'danger', direction: 'above', threshold: 4 }] }] }),
      ok: { 200: json('The rule as stored, defaults filled in', Rule.meta({ examples: [RULE_EXAMPLE] })) },
      errors: ['BAD_REQUEST', 'STATION_NOT_FOUND', 'ALERT_RULE_INVALID'],
    }), wrap(async ({ params, body, request }) => {
      checkScope(params.scope, params.sensor)
      const before = stored(params.scope!, params.sensor!)
      const after = await rules.set(params.scope!, params.sensor!, body, alerter.clock())
      if (audit) auditChange(audit, request, 'rule.set', `rule:${params.scope}/${params.sensor}`, before, after)
      return after
    }))
    app.delete('/alerts/rules/:scope/:sensor', doc({ operationId: 'deleteAlertRule', tag: 'alerts', summary: 'Remove the stored rule of a sensor for a scope (the next one down applies)', params: RuleParams, ok: { 200: Removed }, errors: ['BAD_REQUEST', 'STATION_NOT_FOUND', 'NOT_FOUND'] }), wrap(async ({ params, request }) => {
      checkScope(params.scope, params.sensor)
      const before = stored(params.scope!, params.sensor!)
      if (!(await rules.remove(params.scope!, params.sensor!))) throw new TidewatchError('NOT_FOUND', { scope: params.scope, sensor: params.sensor })
      if (audit) auditChange(audit, request, 'rule.remove', `rule:${params.scope}/${params.sensor}`, before, undefined)
      return { removed: true }
    }))

    app.get('/alerts/incidents', listDoc('listIncidents', 'Incidents, newest first', { station: true, open: true, limit: true }, 'incidents', IncidentSchema, INCIDENT_EXAMPLE), wrap(({ query }) => {
      const q = parse(ListQuery, query)
      return { incidents: alerter.incidents({ open: q.open === undefined ? undefined : q.open === 'true', station: q.station, limit: q.limit }) }
    }))
    app.get('/alerts/incidents/:id', doc({
      operationId: 'getIncident',
      tag: 'alerts',
      summary: 'One incident: its events and the messages sent about it (never to whom)',
      params: z.object({ id: z.string().meta({ examples: [INCIDENT_EXAMPLE.id] }) }),
      ok: {
        200: json(
          'The incident\'s events and messages, without address, dedupe_key or subscriber_id',
          z.looseObject({ incident: z.string(), events: z.array(EventSchema), messages: z.array(MessageSchema) }).meta({ examples: [{ incident: INCIDENT_EXAMPLE.id, events: [EVENT_EXAMPLE], messages: [MESSAGE_EXAMPLE] }] }),
        ),
      },
      errors: ['NOT_FOUND'],
    }), wrap(({ params }) => {
      const events = alerter.events({ incident: params.id, limit: 1000 })
      if (!events.length) throw new TidewatchError('NOT_FOUND', { incident: params.id })
      // Public route: what was sent and how often, never to whom (phone numbers are personal data).
      const messages = alerter.messages({ incident: params.id, limit: 10_000 }).map(({ address: _address, dedupe_key: _key, subscriber_id: _sub, ...rest }) => rest)
      return { incident: params.id, events, messages }
    }))
    app.get('/alerts/events', listDoc('listAlertEvents', 'State changes of the alert engine, newest first', { station: true, incident: true, limit: true }, 'events', EventSchema, EVENT_EXAMPLE), wrap(({ query }) => {
      const q = parse(ListQuery, query)
      return { events: alerter.events({ station: q.station, incident: q.incident, limit: q.limit }) }
    }))
    app.get('/alerts/states', doc({
      operationId: 'listAlertStates',
      tag: 'alerts',
      summary: 'The alert state of every station and sensor the engine knows',
      ok: {
        200: json(
          'One state per station, sensor and ladder',
          z
            .looseObject({ states: z.array(z.looseObject({ station: z.string(), sensor: z.string(), ladder: z.string(), status: z.string(), level: z.string().nullable(), incident: z.string().nullable(), value: z.number().nullable(), updated_at: Ms })) })
            .meta({ examples: [{ states: [{ station: 'cm-song-doc-01', sensor: 'salinity', ladder: 'levels', status: 'danger', level: 'danger', pending_level: null, pending_count: 0, pending_since: null, incident: INCIDENT_EXAMPLE.id, value: 4.7, reading_ts: 1740794400000, updated_at: 1740794460000 }] }] }),
        ),
      },
    }), wrap(() => ({ states: alerter.engine.allStates() })))

    await app.register(subscriberRoutes({ subscribers: alerter.subscribers, writer: writer ?? localSubscriberWriter(alerter.subscribers), clock: alerter.clock }, audit))

    await app.register(messagesRoute(alerter))

    // Inbound SMS from the HTTP gateway: { from, text }. A forged "HUY" would
    // silently unsubscribe a farmer from danger alerts, so the webhook exists
    // only with the gateway enabled and a shared secret configured.
    app.post('/alerts/inbound/http', doc({
      operationId: 'inboundSms',
      tag: 'alerts',
      summary: 'Inbound SMS from the HTTP SMS gateway (DK, HUY, TT… commands)',
      description: 'Exists only with the HTTP gateway enabled and alerts.http.inboundSecret set (else NOT_FOUND); authenticated by X-Tidewatch-Secret, not a bearer token.',
      body: InboundBody.meta({ examples: [{ from: '+84913000111', text: 'DK SD01' }] }),
      ok: { 200: json('The command understood and the reply sent back', z.looseObject({ command: z.string(), reply: z.string() }).meta({ examples: [{ command: 'subscribe', reply: 'Da dang ky nhan tin tram Song Doc.' }] })) },
      errors: ['BAD_REQUEST', 'NOT_FOUND', 'UNAUTHORIZED'],
      security: [{ gatewaySecret: [] }],
    }), wrap(({ body, headers }) => {
      const secret = alerter.config.http.inboundSecret
      if (!(alerter.config.http.enabled || alerter.config.smsChannel === 'http') || !secret) throw new TidewatchError('NOT_FOUND', {}, 'inbound SMS webhook is disabled (enable alerts.http and set alerts.http.inboundSecret)')
      const given = String(headers['x-tidewatch-secret'] ?? '')
      if (!safeEqual(given, secret)) throw new TidewatchError('UNAUTHORIZED', {}, 'bad or missing X-Tidewatch-Secret')
      const b = parse(InboundBody, body)
      return alerter.handleInboundSms(b.from, b.text, 'http')
    }))

    app.get('/alerts/metrics', doc({
      operationId: 'getAlertMetrics',
      tag: 'health',
      summary: 'The alerter\'s Prometheus metrics',
      ok: { 200: media('text/plain', 'Prometheus text exposition format 0.0.4', z.string().meta({ examples: ['# TYPE tidewatch_alerts_incidents_open gauge\ntidewatch_alerts_incidents_open 1\n'] })) },
    }), async (_req, reply) => reply.type('text/plain; version=0.0.4').send(renderPrometheus(alerter.metrics())))
  }
}
