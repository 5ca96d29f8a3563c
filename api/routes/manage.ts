import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { TidewatchError } from '../../core/errors.ts'
import { STATION_ID_PATTERN } from '../../core/protocol.ts'
import { SENSOR_KINDS } from '../../core/sensors.ts'
import { AckStore } from '../../alerts/acks.ts'
import { STATION_CODE_PATTERN } from '../../devices/registry.ts'
import { RuleBook } from '../../levels/book.ts'
import { AlarmLevelsSchema, alarmLevelsRule, ZoneSchema } from '../../levels/zones.ts'
import { auditChange } from '../auth/guard.ts'
import type { ApiDeps } from '../server.ts'
import { publicStation, StationParams } from './stations.ts'

/**
 * Station management for staff: create (credentials shown once), edit,
 * enable/disable, rotate credentials, calibrate sensors, delete (admin);
 * incident acknowledgement; the audit log. Every change is audited with its
 * before and after (secrets redacted).
 */
const Coast = z.enum(['east', 'west', 'inland'])
const Lat = z.number().min(-90).max(90)
const Lon = z.number().min(-180).max(180)
/** Short SMS code, stored upper case (DK SD01). */
const Code = z.string().trim().toUpperCase().regex(STATION_CODE_PATTERN, 'must be 2–4 letters then 1–3 digits, e.g. SD01')
/** Official alarm levels BĐ1–BĐ3 in cm; null removes them. */
const AlarmLevels = AlarmLevelsSchema.nullable()
const Calibration = z.strictObject({ offset: z.number().finite().default(0), scale: z.number().finite().refine((v) => v !== 0, 'must not be 0').default(1) })

const NewStationBody = z.strictObject({
  id: z.string().regex(STATION_ID_PATTERN, 'must match ^[A-Za-z0-9_-]{1,64}$'),
  name: z.string().trim().min(1).max(200),
  lat: Lat,
  lon: Lon,
  commune: z.string().max(200).nullable().optional(),
  district: z.string().max(200).nullable().optional(),
  coast: Coast.nullable().optional(),
  intervalSec: z.number().int().min(1).max(86_400).optional(),
  zone: ZoneSchema.optional(),
  code: Code.nullable().optional(),
  alarmLevels: AlarmLevels.optional(),
  sensors: z
    .array(z.union([z.enum(SENSOR_KINDS), z.strictObject({ kind: z.enum(SENSOR_KINDS), offset: z.number().finite().default(0), scale: z.number().finite().default(1) })]))
    .min(1)
    .max(SENSOR_KINDS.length)
    .optional(),
})

const StationPatch = z
  .strictObject({
    name: z.string().trim().min(1).max(200),
    lat: Lat,
    lon: Lon,
    commune: z.string().max(200).nullable(),
    district: z.string().max(200).nullable(),
    coast: Coast.nullable(),
    intervalSec: z.number().int().min(1).max(86_400),
    enabled: z.boolean(),
    zone: ZoneSchema,
    code: Code.nullable(),
    alarmLevels: AlarmLevels,
  })
  .partial()
  .refine((p) => Object.keys(p).length > 0, 'send at least one field to change')

const SensorParams = z.object({ id: StationParams.shape.id, kind: z.enum(SENSOR_KINDS) })
const IncidentParams = z.object({ id: z.string().min(1).max(300) })
const AckBody = z.strictObject({ note: z.string().max(1000).default('') })
const AuditQuery = z.strictObject({
  target: z.string().max(300).optional(),
  actor: z.string().max(200).optional(),
  since: z.coerce.number().int().nonnegative().optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
})

export function manageRoutes(deps: ApiDeps): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<ZodTypeProvider>()
    const { registry, audit } = deps
    const acks = new AckStore(registry.db)
    // The platform's one rule book (the alerter's when it runs), so a BĐ change applies to the next
    // reading and the board at once: a second RuleBook on the same connection would not notice it.
    const rules = deps.rules instanceof RuleBook ? deps.rules : (deps.alerter?.rules ?? new RuleBook(registry.db, registry))
    const view = (id: string) => publicStation(registry.require(id), rules)
    const setAlarmLevels = (id: string, levels: z.infer<typeof AlarmLevels> | undefined): void => {
      if (levels === undefined) return
      if (levels === null) rules.remove(id, 'water_level')
      else rules.set(id, 'water_level', alarmLevelsRule(levels), Date.now())
    }

    app.post('/stations', { schema: { body: NewStationBody, tags: ['management'] } }, async (req, reply) => {
      const { alarmLevels, ...station } = req.body
      const creds = await registry.add(station)
      setAlarmLevels(req.body.id, alarmLevels)
      const after = view(req.body.id)
      auditChange(audit, req, 'station.create', `station:${req.body.id}`, undefined, after)
      void reply.status(201)
      // The password is shown once, here; only its hash is kept.
      return { station: after, credentials: creds }
    })

    app.patch('/stations/:id', { schema: { params: StationParams, body: StationPatch, tags: ['management'] } }, async (req) => {
      const before = view(req.params.id)
      const { alarmLevels, ...patch } = req.body
      registry.update(req.params.id, patch)
      setAlarmLevels(req.params.id, alarmLevels)
      const after = view(req.params.id)
      auditChange(audit, req, 'station.update', `station:${req.params.id}`, before, after)
      return after
    })

    app.delete('/stations/:id', { schema: { params: StationParams, tags: ['management'] } }, async (req, reply) => {
      const before = view(req.params.id)
      registry.remove(req.params.id)
      auditChange(audit, req, 'station.delete', `station:${req.params.id}`, before, undefined)
      void reply.status(204)
    })

    app.post('/stations/:id/rotate', { schema: { params: StationParams, tags: ['management'] } }, async (req) => {
      const creds = await registry.rotate(req.params.id)
      auditChange(audit, req, 'station.rotate', `station:${req.params.id}`, { credentials: 'previous' }, { credentials: 'new' })
      return { credentials: creds }
    })

    app.put('/stations/:id/sensors/:kind', { schema: { params: SensorParams, body: Calibration, tags: ['management'] } }, async (req) => {
      const before = view(req.params.id)
      registry.setCalibration(req.params.id, req.params.kind, req.body)
      const after = view(req.params.id)
      auditChange(audit, req, 'station.calibrate', `station:${req.params.id}`, before, after)
      return after
    })

    app.get('/alerts/active', { schema: { tags: ['alerts'] } }, async () => {
      if (!deps.alerter) throw new TidewatchError('NOT_FOUND', {}, 'this process runs no alerter')
      const open = deps.alerter.incidents({ open: true, limit: 1000 }) as Array<{ id: string }>
      return { incidents: open.map((i) => ({ ...i, acks: acks.forIncident(i.id) })) }
    })

    app.post('/alerts/incidents/:id/ack', { schema: { params: IncidentParams, body: AckBody, tags: ['alerts'] } }, async (req) => {
      if (!deps.alerter) throw new TidewatchError('NOT_FOUND', {}, 'this process runs no alerter')
      if (deps.alerter.events({ incident: req.params.id, limit: 1 }).length === 0) throw new TidewatchError('NOT_FOUND', { incident: req.params.id }, 'unknown incident')
      const ack = acks.add({ incident: req.params.id, at: Date.now(), actor: req.principal?.name ?? 'anonymous', note: req.body.note })
      auditChange(audit, req, 'incident.ack', `incident:${req.params.id}`, undefined, ack)
      return ack
    })

    app.get('/audit', { schema: { querystring: AuditQuery, tags: ['management'] } }, async (req) => ({ entries: audit.query(req.query) }))
  }
}
