import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { TidewatchError } from '../../core/errors.ts'
import { STATION_ID_PATTERN } from '../../core/protocol.ts'
import { SENSOR_KINDS, SENSORS, type SensorKind } from '../../core/sensors.ts'
import type { Station } from '../../devices/registry.ts'
import { quoteString } from '../../influx/query.ts'
import { READING_MEASUREMENT, queryPerSensor } from '../../influx/schema.ts'
import type { ApiDeps } from '../server.ts'
import { alarmLevelsOf, ZONES, type AlarmLevels } from '../../levels/zones.ts'
import { levelSources, type RuleLookup } from '../board/data.ts'
import { IsoTime, json, route } from '../openapi.ts'

export const StationParams = z.object({ id: z.string().regex(STATION_ID_PATTERN, 'must match ^[A-Za-z0-9_-]{1,64}$').meta({ description: 'Station id', examples: ['cm-song-doc-01'] }) })

const Clock = z.looseObject({ offsetSec: z.number().nullable(), status: z.enum(['unknown', 'ok', 'ahead', 'behind']), checkedAt: IsoTime.nullable() })
export const STATION_EXAMPLE = {
  id: 'cm-song-doc-01',
  name: 'Sông Đốc',
  zone: 'rice_shrimp',
  code: 'SD01',
  alarmLevels: { bd1: 75, bd2: 85, bd3: 95 },
  commune: 'Sông Đốc',
  district: 'Trần Văn Thời',
  lat: 9.04,
  lon: 104.83,
  coast: 'west',
  intervalSec: 300,
  enabled: true,
  sensors: [{ kind: 'salinity', unit: '‰', calibration: { offset: 0, scale: 1 } }],
  createdAt: '2025-02-01T03:00:00.000Z',
  lastSeenAt: '2025-03-01T02:00:00.000Z',
  clock: { offsetSec: 1.2, status: 'ok', checkedAt: '2025-03-01T02:00:00.000Z' },
}

/** publicStation() as the API sends it: never the password hash. */
export const PublicStationSchema = z
  .looseObject({
    id: z.string(),
    name: z.string(),
    zone: z.enum(ZONES),
    code: z.string().nullable(),
    alarmLevels: z.looseObject({ bd1: z.number(), bd2: z.number(), bd3: z.number() }).nullable().meta({ description: 'Water-level alarm levels BĐ1–BĐ3 in cm, when the gauge has them' }),
    commune: z.string().nullable(),
    district: z.string().nullable(),
    lat: z.number(),
    lon: z.number(),
    coast: z.enum(['east', 'west', 'inland']).nullable(),
    intervalSec: z.number(),
    enabled: z.boolean(),
    sensors: z.array(z.looseObject({ kind: z.enum(SENSOR_KINDS), unit: z.string(), calibration: z.looseObject({ offset: z.number(), scale: z.number() }) })),
    createdAt: IsoTime,
    lastSeenAt: IsoTime.nullable(),
    clock: Clock,
  })
  .meta({ id: 'Station', examples: [STATION_EXAMPLE] })

/**
 * Clock health from the offset the ingest measured on the station's last live
 * reading. A clock more than 5 min ahead gets its readings refused; one more
 * than an hour behind is most likely a reset RTC (or a reading stuck in a
 * modem queue, which staff should hear about too).
 */
export function clockStatus(offsetSec: number | null): 'unknown' | 'ok' | 'ahead' | 'behind' {
  if (offsetSec === null) return 'unknown'
  if (offsetSec > 300) return 'ahead'
  if (offsetSec < -3600) return 'behind'
  return 'ok'
}

/**
 * The public view of a station: never the password hash. With the rules in
 * force, its water-level alarm levels BĐ1–BĐ3 when the gauge has them
 * (levels/zones.ts alarmLevelsOf), else null.
 */
export function publicStation(s: Station, rules?: RuleLookup) {
  const alarmLevels: AlarmLevels | null = rules ? alarmLevelsOf(rules.get(s.id, 'water_level')) : null
  return {
    id: s.id,
    name: s.name,
    zone: s.zone,
    code: s.code,
    alarmLevels,
    commune: s.commune,
    district: s.district,
    lat: s.lat,
    lon: s.lon,
    coast: s.coast,
    intervalSec: s.intervalSec,
    enabled: s.enabled,
    sensors: s.sensors.map((x) => ({ kind: x.kind, unit: SENSORS[x.kind].unit, calibration: { offset: x.offset, scale: x.scale } })),
    createdAt: new Date(s.createdAt).toISOString(),
    lastSeenAt: s.lastSeenAt ? new Date(s.lastSeenAt).toISOString() : null,
    clock: {
      offsetSec: s.clockOffsetSec,
      status: clockStatus(s.clockOffsetSec),
      checkedAt: s.clockCheckedAt ? new Date(s.clockCheckedAt).toISOString() : null,
    },
  }
}

export function stationRoutes(deps: ApiDeps): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<ZodTypeProvider>()

    const rules = () => levelSources(deps).rules

    app.get('/stations', {
      schema: route({
        operationId: 'listStations',
        tag: 'stations',
        summary: 'Every registered station, enabled or not',
        ok: { 200: json('The stations', z.looseObject({ stations: z.array(PublicStationSchema) }).meta({ examples: [{ stations: [STATION_EXAMPLE] }] })) },
      }),
    }, async () => {
      const r = rules()
      return { stations: deps.registry.list().map((s) => publicStation(s, r)) }
    })

    app.get('/stations/:id', {
      schema: route({ operationId: 'getStation', tag: 'stations', summary: 'One station', params: StationParams, ok: { 200: json('The station', PublicStationSchema) }, errors: ['STATION_NOT_FOUND'] }),
    }, async (req) => {
      return publicStation(deps.registry.require(req.params.id), rules())
    })

    // Device health: last seen, clock, battery and signal, refusals in the last 24 h.
    const Point = z.looseObject({ value: z.number(), ts: IsoTime })
    app.get('/stations/:id/health', {
      schema: route({
        operationId: 'getStationHealth',
        tag: 'stations',
        summary: 'Device health: last seen, clock, battery, signal and refusals in the last 24 h',
        params: StationParams,
        ok: {
          200: json(
            'The device health; battery and rssi are null before the first health point',
            z
              .looseObject({
                station: z.string(),
                enabled: z.boolean(),
                lastSeenAt: IsoTime.nullable(),
                clock: Clock,
                battery: Point.nullable(),
                rssi: Point.nullable(),
                refusalsLast24h: z.record(z.string(), z.number()).meta({ description: 'Quarantined readings by reason code' }),
              })
              .meta({ examples: [{ station: 'cm-song-doc-01', enabled: true, lastSeenAt: '2025-03-01T02:00:00.000Z', clock: STATION_EXAMPLE.clock, battery: { value: 12.5, ts: '2025-03-01T02:00:00.000Z' }, rssi: { value: -80, ts: '2025-03-01T02:00:00.000Z' }, refusalsLast24h: { VALUE_OUT_OF_RANGE: 2 } }] }),
          ),
        },
        errors: ['STATION_NOT_FOUND', 'INFLUX_UNAVAILABLE', 'INFLUX_QUERY_FAILED'],
      }),
    }, async (req) => {
      const station = deps.registry.require(req.params.id)
      let battery: { value: number; ts: string } | null = null
      let rssi: { value: number; ts: string } | null = null
      if (deps.query) {
        const [series = []] = await deps.query.query(
          `SELECT last("battery") AS "battery" FROM "station_health" WHERE "station" = ${quoteString(station.id)}; ` +
            `SELECT last("rssi") AS "rssi" FROM "station_health" WHERE "station" = ${quoteString(station.id)}`,
        ).then((r) => [[...(r[0] ?? []), ...(r[1] ?? [])]])
        for (const s of series) {
          const row = s.values[0]
          if (!row) continue
          const point = { value: row[1] as number, ts: new Date(row[0] as number).toISOString() }
          if (s.columns[1] === 'battery') battery = point
          else rssi = point
        }
      }
      const since = Date.now() - 86_400_000
      const refusals: Record<string, number> = {}
      for (const e of deps.ingest?.quarantine.list({ stationId: station.id, limit: 1000 }) ?? []) {
        if (e.receivedAt >= since) refusals[e.reason] = (refusals[e.reason] ?? 0) + 1
      }
      const pub = publicStation(station)
      return { station: station.id, enabled: station.enabled, lastSeenAt: pub.lastSeenAt, clock: pub.clock, battery, rssi, refusalsLast24h: refusals }
    })

    app.get('/stations/:id/latest', {
      schema: route({
        operationId: 'getStationLatest',
        tag: 'stations',
        summary: 'The latest stored value of each sensor of a station',
        params: StationParams,
        ok: {
          200: json(
            'The latest value per sensor kind (by device time: a late backlog never replaces a newer value)',
            z
              .looseObject({ station: z.string(), sensors: z.record(z.string(), z.looseObject({ value: z.number(), unit: z.string(), ts: IsoTime })) })
              .meta({ examples: [{ station: 'cm-song-doc-01', sensors: { salinity: { value: 4.7, unit: '‰', ts: '2025-03-01T02:00:00.000Z' }, water_level: { value: 80, unit: 'cm', ts: '2025-03-01T02:00:00.000Z' } } }] }),
          ),
        },
        errors: ['STATION_NOT_FOUND', 'INFLUX_UNAVAILABLE', 'INFLUX_QUERY_FAILED'],
      }),
    }, async (req) => {
      const station = deps.registry.require(req.params.id)
      if (!deps.query) throw new TidewatchError('INFLUX_UNAVAILABLE', {}, 'no InfluxDB target configured')
      // last() orders by point time, i.e. the device timestamp: a backlog
      // arriving after an outage never replaces a newer value.
      const series = await queryPerSensor(deps.query, SENSOR_KINDS, (s) => `SELECT last("${s}") AS "value" FROM "${READING_MEASUREMENT}" WHERE "station" = ${quoteString(station.id)}`)
      const sensors: Partial<Record<SensorKind, { value: number; unit: string; ts: string }>> = {}
      for (const s of series) {
        const kind = s.tags?.sensor as SensorKind | undefined
        const row = s.values[0]
        if (!kind || !row || !(kind in SENSORS)) continue
        sensors[kind] = { value: row[1] as number, unit: SENSORS[kind].unit, ts: new Date(row[0] as number).toISOString() }
      }
      return { station: station.id, sensors }
    })
  }
}
