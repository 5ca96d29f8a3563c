import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { TidewatchError } from '../../core/errors.ts'
import { STATION_ID_PATTERN } from '../../core/protocol.ts'
import { SENSOR_KINDS } from '../../core/sensors.ts'
import { AckStore } from '../../alerts/acks.ts'
import type { Calibration as SensorCalibration } from '../../core/reading.ts'
import type { SensorKind } from '../../core/sensors.ts'
import { STATION_CODE_PATTERN, type Credentials, type NewStation, type Registry, type Station } from '../../devices/registry.ts'
import { RuleBook } from '../../levels/book.ts'
import { AlarmLevelsSchema, alarmLevelsRule, ZoneSchema } from '../../levels/zones.ts'
import { auditChange } from '../auth/guard.ts'
import type { ApiDeps } from '../server.ts'
import { publicStation, PublicStationSchema, STATION_EXAMPLE, StationParams } from './stations.ts'
import { INCIDENT_EXAMPLE, IncidentSchema } from './alerts.ts'
import { json, noContent, route } from '../openapi.ts'

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

// ---- The OpenAPI document's schemas of these routes (api/openapi.ts) ----
const StationCreated = z
  .looseObject({ station: PublicStationSchema, credentials: z.looseObject({ id: z.string(), username: z.string(), password: z.string() }) })
  .meta({ description: 'The password is shown once, here; only its hash is kept.' })
const Credentials = z.looseObject({ credentials: z.looseObject({ id: z.string(), username: z.string(), password: z.string() }) })
const CREDENTIALS_EXAMPLE = { id: 'cm-song-doc-01', username: 'cm-song-doc-01', password: 'twd_8c1f0e5b9a7d4c2e' }
const AckSchema = z.looseObject({ incident: z.string(), at: z.number().meta({ description: 'Epoch milliseconds' }), actor: z.string(), note: z.string() })
const ACK_EXAMPLE = { incident: INCIDENT_EXAMPLE.id, at: 1740795000000, actor: 'chi-lan', note: 'Đã báo xã Sông Đốc' }
const STATION_WRITE_ERRORS = ['STATION_NOT_FOUND', 'STATION_ZONE_INVALID', 'STATION_CODE_INVALID', 'STATION_CODE_TAKEN'] as const
const NO_ALERTER = 'NOT_FOUND also when this process runs no alerter.'

/** The fields PATCH /stations/:id may change (devices/registry.ts Registry.update). */
export type StationEdit = Partial<Pick<Station, 'name' | 'commune' | 'district' | 'lat' | 'lon' | 'coast' | 'zone' | 'code' | 'intervalSec' | 'enabled'>>
/** Official alarm levels BĐ1–BĐ3 (cm); null removes them, undefined leaves them. */
export type StationAlarmLevels = z.infer<typeof AlarmLevels> | undefined

/**
 * Where the station management routes write (issue 16). One process: this
 * node's Registry and RuleBook (registryStationWriter). Cluster mode:
 * PostgreSQL, read back into this node's copy before resolving
 * (cluster/metadata/station-writer.ts), so the edges and every API node see
 * the change. The error codes are the registry's either way.
 */
export interface StationWriter {
  add(input: NewStation, alarmLevels: StationAlarmLevels): Promise<Credentials>
  update(id: string, patch: StationEdit, alarmLevels: StationAlarmLevels): Promise<void>
  setCalibration(id: string, kind: SensorKind, cal: SensorCalibration): Promise<void>
  rotate(id: string): Promise<Credentials>
  remove(id: string): Promise<void>
}

/** The single-process writer: this node's SQLite registry and rule book, as before cluster mode. */
export function registryStationWriter(registry: Registry, rules: RuleBook): StationWriter {
  const setAlarmLevels = (id: string, levels: StationAlarmLevels): void => {
    if (levels === undefined) return
    if (levels === null) rules.remove(id, 'water_level')
    else rules.set(id, 'water_level', alarmLevelsRule(levels), Date.now())
  }
  return {
    async add(input, alarmLevels) {
      const creds = await registry.add(input)
      setAlarmLevels(input.id, alarmLevels)
      return creds
    },
    async update(id, patch, alarmLevels) {
      registry.update(id, patch)
      setAlarmLevels(id, alarmLevels)
    },
    async setCalibration(id, kind, cal) {
      registry.setCalibration(id, kind, cal)
    },
    rotate: (id) => registry.rotate(id),
    async remove(id) {
      registry.remove(id)
    },
  }
}

export function manageRoutes(deps: ApiDeps): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<ZodTypeProvider>()
    const { registry, audit } = deps
    const acks = new AckStore(registry.db)
    // The platform's one rule book (the alerter's when it runs), so a BĐ change applies to the next
    // reading and the board at once: a second RuleBook on the same connection would not notice it.
    const rules = deps.rules instanceof RuleBook ? deps.rules : (deps.alerter?.rules ?? new RuleBook(registry.db, registry))
    const writer = deps.stationWriter ?? registryStationWriter(registry, rules)
    const view = (id: string) => publicStation(registry.require(id), rules)
    /** Applies a change to a station and audits it as it was and as it is now; returns it as it is now. */
    const changeStation = async (req: FastifyRequest, id: string, action: string, change: () => Promise<void>) => {
      const before = view(id)
      await change()
      const after = view(id)
      auditChange(audit, req, action, `station:${id}`, before, after)
      return after
    }

    app.post('/stations', {
      schema: route({
        operationId: 'createStation',
        tag: 'management',
        summary: 'Register a station; its MQTT credentials are shown once',
        body: NewStationBody.meta({ examples: [{ id: 'cm-song-doc-01', name: 'Sông Đốc', lat: 9.04, lon: 104.83, district: 'Trần Văn Thời', coast: 'west', zone: 'rice_shrimp', code: 'SD01', alarmLevels: { bd1: 75, bd2: 85, bd3: 95 }, sensors: ['salinity', 'water_level'] }] }),
        ok: { 201: json('The station and its MQTT credentials', StationCreated.meta({ examples: [{ station: STATION_EXAMPLE, credentials: CREDENTIALS_EXAMPLE }] })) },
        errors: ['STATION_EXISTS', 'STATION_ID_INVALID', ...STATION_WRITE_ERRORS],
      }),
    }, async (req, reply) => {
      const { alarmLevels, ...station } = req.body
      const creds = await writer.add(station, alarmLevels)
      const after = view(req.body.id)
      auditChange(audit, req, 'station.create', `station:${req.body.id}`, undefined, after)
      void reply.status(201)
      // The password is shown once, here; only its hash is kept.
      return { station: after, credentials: creds }
    })

    app.patch('/stations/:id', {
      schema: route({
        operationId: 'updateStation',
        tag: 'management',
        summary: 'Edit, enable or disable a station, or set its alarm levels (null removes them)',
        params: StationParams,
        body: StationPatch.meta({ examples: [{ enabled: false }, { name: 'Sông Đốc (cửa sông)', alarmLevels: { bd1: 75, bd2: 85, bd3: 95 } }] }),
        ok: { 200: json('The station after the change', PublicStationSchema) },
        errors: STATION_WRITE_ERRORS,
      }),
    }, async (req) => {
      const { alarmLevels, ...patch } = req.body
      return changeStation(req, req.params.id, 'station.update', () => writer.update(req.params.id, patch, alarmLevels))
    })

    app.delete('/stations/:id', {
      schema: route({
        operationId: 'deleteStation',
        tag: 'management',
        summary: 'Delete a station (its stored readings stay in InfluxDB)',
        params: StationParams,
        ok: { 204: noContent('Deleted; no body') },
        errors: ['STATION_NOT_FOUND'],
      }),
    }, async (req, reply) => {
      const before = view(req.params.id)
      await writer.remove(req.params.id)
      auditChange(audit, req, 'station.delete', `station:${req.params.id}`, before, undefined)
      void reply.status(204)
    })

    app.post('/stations/:id/rotate', {
      schema: route({
        operationId: 'rotateStationCredentials',
        tag: 'management',
        summary: 'Give a station a new MQTT password (shown once); the old one stops working',
        params: StationParams,
        ok: { 200: json('The new credentials', Credentials.meta({ examples: [{ credentials: CREDENTIALS_EXAMPLE }] })) },
        errors: ['STATION_NOT_FOUND'],
      }),
    }, async (req) => {
      const creds = await writer.rotate(req.params.id)
      auditChange(audit, req, 'station.rotate', `station:${req.params.id}`, { credentials: 'previous' }, { credentials: 'new' })
      return { credentials: creds }
    })

    app.put('/stations/:id/sensors/:kind', {
      schema: route({
        operationId: 'calibrateSensor',
        tag: 'management',
        summary: 'Set a sensor\'s calibration: stored value = raw × scale + offset',
        params: SensorParams,
        body: Calibration.meta({ examples: [{ offset: 0.05, scale: 1 }] }),
        ok: { 200: json('The station after the change', PublicStationSchema) },
        errors: ['STATION_NOT_FOUND', 'BAD_REQUEST'],
      }),
    }, async (req) => {
      return changeStation(req, req.params.id, 'station.calibrate', () => writer.setCalibration(req.params.id, req.params.kind, req.body))
    })

    app.get('/alerts/active', {
      schema: route({
        operationId: 'listActiveIncidents',
        tag: 'alerts',
        summary: 'Open incidents with their staff acknowledgements',
        description: NO_ALERTER,
        ok: { 200: json('The open incidents', z.looseObject({ incidents: z.array(IncidentSchema.extend({ acks: z.array(AckSchema) })) }).meta({ examples: [{ incidents: [{ ...INCIDENT_EXAMPLE, acks: [ACK_EXAMPLE] }] }] })) },
        errors: ['NOT_FOUND'],
      }),
    }, async () => {
      if (!deps.alerter) throw new TidewatchError('NOT_FOUND', {}, 'this process runs no alerter')
      const open = deps.alerter.incidents({ open: true, limit: 1000 }) as Array<{ id: string }>
      return { incidents: open.map((i) => ({ ...i, acks: acks.forIncident(i.id) })) }
    })

    app.post('/alerts/incidents/:id/ack', {
      schema: route({
        operationId: 'acknowledgeIncident',
        tag: 'alerts',
        summary: 'Acknowledge an incident with a note (audited)',
        description: NO_ALERTER,
        params: IncidentParams,
        body: AckBody.meta({ examples: [{ note: 'Đã báo xã Sông Đốc' }] }),
        ok: { 200: json('The acknowledgement', AckSchema.meta({ examples: [ACK_EXAMPLE] })) },
        errors: ['NOT_FOUND'],
      }),
    }, async (req) => {
      if (!deps.alerter) throw new TidewatchError('NOT_FOUND', {}, 'this process runs no alerter')
      if (deps.alerter.events({ incident: req.params.id, limit: 1 }).length === 0) throw new TidewatchError('NOT_FOUND', { incident: req.params.id }, 'unknown incident')
      const ack = acks.add({ incident: req.params.id, at: Date.now(), actor: req.principal?.name ?? 'anonymous', note: req.body.note })
      auditChange(audit, req, 'incident.ack', `incident:${req.params.id}`, undefined, ack)
      return ack
    })

    app.get('/audit', {
      schema: route({
        operationId: 'listAudit',
        tag: 'management',
        summary: 'The audit log of every change, newest first',
        querystring: AuditQuery,
        ok: {
          200: json(
            'Who changed what, when, with before and after (secrets redacted)',
            z
              .looseObject({ entries: z.array(z.looseObject({ id: z.number(), at: z.number(), actor: z.string(), role: z.string(), action: z.string(), target: z.string(), before: z.unknown().optional(), after: z.unknown().optional() })) })
              .meta({ examples: [{ entries: [{ id: 5, at: 1740795000000, actor: 'chi-lan', role: 'staff', action: 'station.update', target: 'station:cm-song-doc-01', before: { enabled: true }, after: { enabled: false }, ip: '10.0.0.8' }] }] }),
          ),
        },
      }),
    }, async (req) => ({ entries: await audit.query(req.query) }))
  }
}
