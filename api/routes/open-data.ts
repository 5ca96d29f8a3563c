import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { TidewatchError } from '../../core/errors.ts'
import { STATION_ID_PATTERN } from '../../core/protocol.ts'
import { SENSOR_KINDS, SENSORS, roundValue, type SensorKind } from '../../core/sensors.ts'
import { localGroupByTime } from '../../core/local-time.ts'
import { quoteString } from '../../influx/query.ts'
import { READING_MEASUREMENT, queryPerSensor, sensorsOrAll } from '../../influx/schema.ts'
import type { ApiDeps } from '../server.ts'
import { latestValues, levelSources, publicStations, requireQuery, shownKinds, shownLevels, unitOf } from '../board/data.ts'
import { addHttpCache } from '../board/http-cache.ts'
import { levelLines } from '../../levels/status.ts'
import { csvField, TimeParam, timeParamMs } from '../formats.ts'
import { IsoTime, LICENCE_EXAMPLE, LicenceFields, media, NOT_MODIFIED, route } from '../openapi.ts'

/**
 * Open data for the public: every station as GeoJSON with its latest values,
 * and readings as CSV (hourly by default) under CC BY 4.0. Read-only and
 * unauthenticated by design; quarantined values never appear here.
 */
export const OPEN_DATA_LICENSE = 'CC-BY-4.0'

/**
 * Every CSV download starts with a UTF-8 byte order mark: Excel on a
 * Vietnamese Windows otherwise reads the file as Windows-1258 and garbles
 * ‰ and diacritics. Programs strip it (Python's utf-8-sig, pandas, R, Node's
 * csv-parse bom: true); docs/OPEN-DATA.md says so.
 */
export const OPEN_DATA_CSV_BOM = '\uFEFF'

/** Same as /open/v1 (OPEN_V1_LIMITS.cacheControl): the latest values move every few minutes. */
const CACHE_CONTROL = 'public, max-age=60'

/**
 * Every public station as a GeoJSON FeatureCollection (RFC 7946) with its
 * latest values at their sensor's precision and their level by the station's
 * rule in force and the alerter's state, as on the board (levels/status.ts).
 * Served at /open/v1/stations.geojson and, as before, /api/v1/open/stations.geojson.
 */
export async function stationsGeoJson(deps: ApiDeps, now: number) {
  const stations = publicStations(deps.registry.list())
  const latestByStation = await latestValues(requireQuery(deps.query), now, stations)
  const src = levelSources(deps)
  const shown = shownLevels(src, stations, latestByStation, SENSOR_KINDS)
  const latest = new Map(
    [...latestByStation].map(([id, values]) => [
      id,
      Object.fromEntries(
        Object.entries(values).map(([k, v]) => {
          const kind = k as SensorKind
          const sh = levelLines(src.rules.get(id, k)).length ? shown.get(id)?.[kind] : undefined
          return [k, { value: roundValue(kind, v!.value), unit: unitOf(kind), ts: new Date(v!.ts).toISOString(), ...(sh ? { level: sh.status, levelName: sh.level?.name ?? null } : {}) }]
        }),
      ),
    ]),
  )
  return {
    type: 'FeatureCollection',
    license: OPEN_DATA_LICENSE,
    licenseUrl: 'https://creativecommons.org/licenses/by/4.0/',
    attribution: 'tidewatch — mạng quan trắc môi trường tỉnh Cà Mau / Cà Mau environmental sensor network',
    features: stations.map((s) => ({
      type: 'Feature',
      id: s.id,
      // GeoJSON is [longitude, latitude] (RFC 7946 §3.1.1).
      geometry: { type: 'Point', coordinates: [s.lon, s.lat] },
      properties: { id: s.id, name: s.name, commune: s.commune, district: s.district, zone: s.zone, sensors: shownKinds(s), latest: latest.get(s.id) ?? {} },
    })),
  }
}

/** A latest value as open data publishes it; level and levelName only for sensors with levels in force. */
export const OpenLatestValue = <T extends string>(timeKey: T) =>
  z.looseObject({
    value: z.number(),
    unit: z.string(),
    ...({ [timeKey]: IsoTime } as Record<T, typeof IsoTime>),
    level: z.enum(['ok', 'warning', 'danger']).optional().meta({ description: 'By the station\'s rule in force and the alerter\'s state (levels/status.ts)' }),
    levelName: z.string().nullable().optional().meta({ description: 'Which level: warning, danger, bd1…, or null when ok' }),
  })

/** stationsGeoJson() as sent: an RFC 7946 FeatureCollection. */
export const StationsGeoJsonSchema = z
  .looseObject({
    type: z.literal('FeatureCollection'),
    ...LicenceFields,
    features: z.array(
      z.looseObject({
        type: z.literal('Feature'),
        id: z.string(),
        geometry: z.looseObject({ type: z.literal('Point'), coordinates: z.array(z.number()).meta({ description: '[longitude, latitude] (RFC 7946 §3.1.1)' }) }),
        properties: z.looseObject({
          id: z.string(),
          name: z.string(),
          commune: z.string().nullable(),
          district: z.string().nullable(),
          zone: z.string(),
          sensors: z.array(z.string()),
          latest: z.record(z.string(), OpenLatestValue('ts')),
        }),
      }),
    ),
  })
  .meta({
    examples: [
      {
        type: 'FeatureCollection',
        ...LICENCE_EXAMPLE,
        features: [
          {
            type: 'Feature',
            id: 'cm-song-doc-01',
            geometry: { type: 'Point', coordinates: [104.83, 9.04] },
            properties: { id: 'cm-song-doc-01', name: 'Sông Đốc', commune: 'Sông Đốc', district: 'Trần Văn Thời', zone: 'rice_shrimp', sensors: ['salinity'], latest: { salinity: { value: 4.7, unit: '‰', ts: '2025-03-01T02:00:00.000Z', level: 'danger', levelName: 'danger' } } },
          },
        ],
      },
    ],
  })

export const GEOJSON_ROUTE = {
  tag: 'open data',
  summary: 'Every public station with its latest values, as GeoJSON',
  description: 'RFC 7946 FeatureCollection under CC BY 4.0; cacheable (ETag, Cache-Control) and open to any origin.',
  ok: { 200: media('application/geo+json', 'The stations as a FeatureCollection', StationsGeoJsonSchema), ...NOT_MODIFIED },
  errors: ['INFLUX_UNAVAILABLE', 'INFLUX_QUERY_FAILED'],
} as const

const MAX_RANGE_MS = 366 * 86_400_000
const MAX_ROWS = 200_000

const Time = TimeParam
const toMs = timeParamMs

const CsvQuery = z
  .object({
    station: z.string().regex(STATION_ID_PATTERN, 'must be a station id').optional(),
    sensor: z.enum(SENSOR_KINDS).optional(),
    from: Time.optional(),
    to: Time.optional(),
    every: z.enum(['15m', '1h', '1d']).default('1h'),
  })
  .strict()


export function openDataRoutes(deps: ApiDeps): FastifyPluginAsync {
  return async (fastify) => {
    // Public data, read-only: any origin may read it (no credentials), and shared caches may keep it, as under /open/v1.
    fastify.addHook('onSend', async (_req, reply, payload) => {
      void reply.header('access-control-allow-origin', '*').header('access-control-expose-headers', 'etag, x-license, content-disposition')
      return payload
    })
    addHttpCache(fastify, { cacheControl: CACHE_CONTROL })
    const app = fastify.withTypeProvider<ZodTypeProvider>()

    app.get('/open/stations.geojson', { schema: route({ ...GEOJSON_ROUTE, operationId: 'getOpenStationsGeoJsonLegacy', description: `${GEOJSON_ROUTE.description} The same document as /open/v1/stations.geojson.` }) }, async (_req, reply) => {
      void reply.header('x-license', OPEN_DATA_LICENSE).type('application/geo+json; charset=utf-8')
      return stationsGeoJson(deps, Date.now())
    })

    app.get('/open/readings.csv', {
      schema: route({
        operationId: 'getOpenReadingsCsv',
        tag: 'open data',
        summary: 'Aggregated readings of every station (or one) as CSV',
        description: `Buckets of every (15m, 1h default, 1d) on local (UTC+7) boundaries; the last 7 days by default, at most 366 days and ${MAX_ROWS} rows. UTF-8 with a byte order mark, under CC BY 4.0.`,
        querystring: CsvQuery,
        ok: {
          200: media(
            'text/csv',
            'One row per station, sensor and bucket: station, station_name, sensor, unit, time, mean, min, max, count',
            z.string().meta({ examples: ['station,station_name,sensor,unit,time,mean,min,max,count\ncm-song-doc-01,Sông Đốc,salinity,‰,2025-02-28T17:00:00.000Z,4.61,4.5,4.7,12\n'] }),
          ),
          ...NOT_MODIFIED,
        },
        errors: ['STATION_NOT_FOUND', 'INFLUX_UNAVAILABLE', 'INFLUX_QUERY_FAILED'],
      }),
    }, async (req, reply) => {
      const q = req.query
      const to = q.to ? toMs(q.to) : Date.now()
      const from = q.from ? toMs(q.from) : to - 7 * 86_400_000
      if (from >= to) throw new TidewatchError('BAD_REQUEST', { parameter: 'from' }, 'from must be before to')
      if (to - from > MAX_RANGE_MS) throw new TidewatchError('BAD_REQUEST', { parameter: 'from', maxDays: 366 }, 'range is limited to 366 days per request')
      if (q.station) deps.registry.require(q.station)
      // Bound the work before asking InfluxDB: buckets x stations x sensors.
      const bucketMs = { '15m': 900_000, '1h': 3_600_000, '1d': 86_400_000 }[q.every]
      const stations = q.station ? 1 : Math.max(1, deps.registry.list().length)
      const sensors = q.sensor ? 1 : SENSOR_KINDS.length
      const estimate = Math.ceil((to - from) / bucketMs) * stations * sensors
      if (estimate > MAX_ROWS) {
        throw new TidewatchError('BAD_REQUEST', { parameter: 'every', estimatedRows: estimate, maxRows: MAX_ROWS }, `up to ${estimate} rows requested, the limit is ${MAX_ROWS}: choose a station or sensor, a shorter range or a larger every`)
      }
      const filters = [`time >= ${from}ms`, `time <= ${to}ms`]
      if (q.station) filters.push(`"station" = ${quoteString(q.station)}`)
      // Buckets start on local (UTC+7) boundaries, so 1d is a local calendar day; each row's time is its bucket's start.
      const series = await queryPerSensor(
        requireQuery(deps.query),
        sensorsOrAll(q.sensor ? [q.sensor] : undefined),
        (s) =>
          `SELECT mean("${s}"), min("${s}"), max("${s}"), count("${s}") FROM "${READING_MEASUREMENT}" WHERE ${filters.join(' AND ')} GROUP BY ${localGroupByTime(q.every, bucketMs)}, "station" fill(none)`,
      )
      const names = new Map(deps.registry.list().map((s) => [s.id, s.name]))
      const lines = ['station,station_name,sensor,unit,time,mean,min,max,count']
      for (const s of series) {
        const sensor = s.tags!.sensor as SensorKind
        const known = Boolean(SENSORS[sensor])
        const round = (v: unknown) => (typeof v === 'number' ? (known ? roundValue(sensor, v) : Math.round(v * 1000) / 1000) : v)
        for (const [t, mean, min, max, count] of s.values) {
          lines.push([s.tags!.station, names.get(s.tags!.station ?? '') ?? '', sensor, known ? unitOf(sensor) : '', new Date(t as number).toISOString(), round(mean), round(min), round(max), count].map(csvField).join(','))
        }
      }
      void reply
        .header('x-license', OPEN_DATA_LICENSE)
        .header('content-disposition', `attachment; filename="tidewatch-${q.station ?? 'all'}-${q.every}.csv"`)
        .type('text/csv; charset=utf-8')
      return OPEN_DATA_CSV_BOM + lines.join('\n') + '\n'
    })
  }
}
