import cors from '@fastify/cors'
import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { TidewatchError } from '../../core/errors.ts'
import { SENSOR_KINDS, SENSORS, roundValue, type SensorKind } from '../../core/sensors.ts'
import type { Station } from '../../devices/registry.ts'
import { quoteString, type InfluxQueryClient } from '../../influx/query.ts'
import { READING_MEASUREMENT, carries, queryPerSensor } from '../../influx/schema.ts'
import { LOCAL_TZ, LOCAL_UTC_OFFSET, localDate, localDayStart, localGroupByTime } from '../../core/local-time.ts'
import {
  hourlyMeans,
  latestValues,
  levelSources,
  publicStations,
  requirePublicStation,
  requireQuery,
  shownKinds,
  shownLevels,
  unitOf,
  type RuleLookup,
} from '../board/data.ts'
import { levelLines, severityOfValue } from '../../levels/status.ts'
import { addHttpCache } from '../board/http-cache.ts'
import type { ApiDeps } from '../server.ts'
import { csv } from '../formats.ts'
import { StationParams } from './stations.ts'
import { GEOJSON_ROUTE, OPEN_DATA_CSV_BOM, OpenLatestValue, stationsGeoJson } from './open-data.ts'
import { IsoTime, json, LICENCE_EXAMPLE, LicenceFields, media, NOT_MODIFIED, route } from '../openapi.ts'

/**
 * Open data v1 (docs/OPEN-DATA.md): stations with their latest values,
 * readings (raw or aggregated) and daily summaries, as JSON and CSV, under
 * CC BY 4.0. Public, read-only, cacheable (ETag + Cache-Control) and open to
 * any origin. Every request is bounded before InfluxDB is asked.
 */
export const OPEN_V1_LICENSE = Object.freeze({
  license: 'CC-BY-4.0',
  licenseUrl: 'https://creativecommons.org/licenses/by/4.0/',
  attribution: 'tidewatch — mạng quan trắc môi trường tỉnh Cà Mau / Cà Mau environmental sensor network',
})

/** Limits, in one place (documented in docs/OPEN-DATA.md). */
export const OPEN_V1_LIMITS = Object.freeze({
  /** Points (rows) one readings request may return. */
  maxPoints: 100_000,
  /** Longest range of one readings request. */
  maxRangeDays: 366,
  /** Longest range of one daily-summary request, in local days. */
  maxDays: 366,
  /** Default range when `from` is absent: raw / aggregated readings, daily summary. */
  defaultRawMs: 86_400_000,
  defaultAggregatedMs: 7 * 86_400_000,
  defaultDays: 30,
  cacheControl: 'public, max-age=60',
})

const DAY_MS = 86_400_000
const UNIT_MS = { m: 60_000, h: 3_600_000, d: DAY_MS } as const

function parseInstant(raw: string): number | null {
  // A literal "+" in a query string decodes to a space: take "…T00:00:00 07:00" as "+07:00".
  const s = raw.replace(/ (\d\d:\d\d)$/, '+$1')
  if (/^\d{1,15}$/.test(s)) return Number(s)
  if (!z.iso.datetime({ offset: true }).safeParse(s).success) return null
  const ms = Date.parse(s)
  return Number.isFinite(ms) ? ms : null
}

const Instant = z.string().transform((s, ctx) => {
  const ms = parseInstant(s)
  if (ms === null) {
    ctx.addIssue({ code: 'custom', message: 'must be RFC 3339 with an offset (2025-03-01T00:00:00+07:00) or epoch milliseconds' })
    return z.NEVER
  }
  return ms
})

const Every = z.string().transform((s, ctx) => {
  const m = /^([1-9]\d{0,3})([mhd])$/.exec(s)
  const ms = m ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : 0
  if (!m || ms > OPEN_V1_LIMITS.maxRangeDays * DAY_MS) {
    ctx.addIssue({ code: 'custom', message: 'must be a duration such as 15m, 1h or 1d (m, h or d; at most 366d)' })
    return z.NEVER
  }
  return { text: s, ms }
})

const LocalDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a local date YYYY-MM-DD')
  .refine((s) => Number.isFinite(localDayStart(s)) && localDate(localDayStart(s)) === s, 'must be a real calendar date')

export const ReadingsQuery = z.strictObject({
  from: Instant.optional(),
  to: Instant.optional(),
  every: Every.optional(),
  sensor: z.enum(SENSOR_KINDS).optional(),
})

export const DailyQuery = z.strictObject({
  from: LocalDate.optional(),
  to: LocalDate.optional(),
  sensor: z.enum(SENSOR_KINDS).optional(),
})

const FORMATS = ['json', 'csv'] as const
type Format = (typeof FORMATS)[number]

function badRequest(parameter: string, message: string, details: Record<string, unknown> = {}): TidewatchError {
  return new TidewatchError('BAD_REQUEST', { parameter, ...details }, `${parameter}: ${message}`)
}


/** A value at its sensor's published precision (core/sensors.ts decimals); null when InfluxDB gave none. */
const round = (sensor: SensorKind, v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? roundValue(sensor, v) : null)
const iso = (ms: number): string => new Date(ms).toISOString()

/** The station's sensors, salinity derived from conductivity included (board/data.ts shownKinds). */
function sensorsOf(station: Station, only?: SensorKind): SensorKind[] {
  const kinds = shownKinds(station)
  return only ? kinds.filter((k) => k === only) : kinds
}

function sendAs(reply: FastifyReply, format: Format, filename: string, json: unknown, rows: () => unknown[][]): unknown {
  void reply.header('x-license', OPEN_V1_LICENSE.license).header('link', `<${OPEN_V1_LICENSE.licenseUrl}>; rel="license"`)
  if (format === 'json') return json
  void reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${filename}.csv"`)
  return OPEN_DATA_CSV_BOM + csv(rows())
}

/**
 * The levels in force for a station's sensors (levels/book.ts: station
 * override, zone, built-in), as published numbers: an outside level is a band
 * with both edges. Sensors without levels are left out.
 */
export function levelsInForce(rules: RuleLookup, station: Station, kinds: readonly SensorKind[]) {
  const out: Partial<Record<SensorKind, { unit: string; levels: Array<{ name: string; severity: string; direction: string; threshold: number; high?: number }> }>> = {}
  for (const k of kinds) {
    const rule = rules.get(station.id, k)
    if (!levelLines(rule).length) continue
    out[k] = {
      unit: unitOf(k),
      levels: rule!.levels.map((l) => ({ name: l.name, severity: l.severity, direction: l.direction, threshold: l.threshold, ...(l.high !== undefined ? { high: l.high } : {}) })),
    }
  }
  return out
}

/** GET /stations: every public station with its sensors, units, levels in force and latest values. */
async function stationsDocument(deps: ApiDeps, now: number) {
  const stations = publicStations(deps.registry.list())
  const latest = await latestValues(requireQuery(deps.query), now, stations)
  const src = levelSources(deps)
  const shown = shownLevels(src, stations, latest, SENSOR_KINDS)
  return {
    ...OPEN_V1_LICENSE,
    stations: stations.map((s) => {
      const values = latest.get(s.id) ?? {}
      const kinds = sensorsOf(s)
      const times = Object.values(values).map((v) => v.ts)
      return {
        id: s.id,
        name: s.name,
        commune: s.commune,
        district: s.district,
        lat: s.lat,
        lon: s.lon,
        zone: s.zone,
        code: s.code,
        sensors: kinds.map((k) => ({ kind: k, label: SENSORS[k].label, unit: unitOf(k) })),
        levels: levelsInForce(src.rules, s, kinds),
        lastUpdate: times.length ? iso(Math.max(...times)) : null,
        latest: Object.fromEntries(
          SENSOR_KINDS.flatMap((k) => {
            const v = values[k]
            if (!v) return []
            // level: ok / warning / danger by the station's rule (and the alerter's state); levelName: which level (bd2, ph_low…).
            const sh = shown.get(s.id)?.[k]
            const withLevel = sh && levelLines(src.rules.get(s.id, k)).length ? { level: sh.status, levelName: sh.level?.name ?? null } : {}
            return [[k, { value: roundValue(k, v.value), unit: unitOf(k), time: iso(v.ts), ...withLevel }]]
          }),
        ),
      }
    }),
  }
}

interface ReadingsRequest {
  station: Station
  sensors: SensorKind[]
  from: number
  to: number
  every?: { text: string; ms: number }
}

/** Checks the range and estimates the points before anything reaches InfluxDB. */
function planReadings(station: Station, q: z.output<typeof ReadingsQuery>, now: number): ReadingsRequest {
  const to = q.to ?? now
  const from = q.from ?? to - (q.every ? OPEN_V1_LIMITS.defaultAggregatedMs : OPEN_V1_LIMITS.defaultRawMs)
  if (from >= to) throw badRequest('from', 'must be before to', { from: iso(from), to: iso(to) })
  if (to - from > OPEN_V1_LIMITS.maxRangeDays * DAY_MS) throw badRequest('from', `range is limited to ${OPEN_V1_LIMITS.maxRangeDays} days per request`)
  const sensors = sensorsOf(station, q.sensor)
  // Raw: the station's reporting interval tells how dense the data is.
  const stepMs = q.every?.ms ?? Math.max(60_000, station.intervalSec * 1000)
  const estimate = Math.ceil((to - from) / stepMs) * Math.max(1, sensors.length)
  if (estimate > OPEN_V1_LIMITS.maxPoints) {
    throw badRequest(q.every ? 'every' : 'from', `about ${estimate} points requested, the limit is ${OPEN_V1_LIMITS.maxPoints}: choose a shorter range, one sensor or a larger every`, {
      estimatedPoints: estimate,
      maxPoints: OPEN_V1_LIMITS.maxPoints,
    })
  }
  return { station, sensors, from, to, every: q.every }
}

interface SeriesOut {
  sensor: SensorKind
  unit: string
  label: string
  points: Array<Record<string, unknown>>
}

async function queryReadings(query: InfluxQueryClient, r: ReadingsRequest): Promise<SeriesOut[]> {
  if (r.sensors.length === 0) return []
  const where = [`"station" = ${quoteString(r.station.id)}`, `time >= ${r.from}ms`, `time < ${r.to}ms`].join(' AND ')
  // LIMIT is per series: the backstop for a station that reports far more often than registered.
  const perSeries = Math.ceil(OPEN_V1_LIMITS.maxPoints / r.sensors.length)
  // Buckets start on local (UTC+7) boundaries, so 1d means a local calendar day.
  const series = await queryPerSensor(query, r.sensors, (s) =>
    r.every
      ? `SELECT mean("${s}"), min("${s}"), max("${s}"), count("${s}") FROM "${READING_MEASUREMENT}" WHERE ${where} GROUP BY ${localGroupByTime(r.every.text, r.every.ms)} fill(none)`
      : `SELECT "${s}" AS "value", "late" FROM "${READING_MEASUREMENT}" WHERE ${where} AND ${carries(s)} LIMIT ${perSeries + 1}`,
  )
  const bySensor = new Map<string, unknown[][]>(series.map((s) => [s.tags?.sensor ?? '', s.values]))
  const out: SeriesOut[] = []
  for (const sensor of r.sensors) {
    const values = bySensor.get(sensor) ?? []
    if (values.length > perSeries) {
      throw badRequest('from', `the range holds more than ${perSeries} points of ${sensor}: choose a shorter range or use every`, { maxPoints: OPEN_V1_LIMITS.maxPoints })
    }
    const points = r.every
      ? values.map(([t, mean, min, max, count]) => ({ time: iso(t as number), mean: round(sensor, mean), min: round(sensor, min), max: round(sensor, max), count }))
      : values.map(([t, value, late]) => ({ time: iso(t as number), value: round(sensor, value), late: late === true }))
    out.push({ sensor, unit: unitOf(sensor), label: SENSORS[sensor].label, points })
  }
  return out
}

/** CSV rows carry the station's name beside its id: a spreadsheet user reads names, a program joins on ids. */
function readingsRows(station: Station, aggregated: boolean, series: SeriesOut[]): unknown[][] {
  const rows: unknown[][] = [aggregated ? ['station', 'station_name', 'sensor', 'unit', 'time', 'mean', 'min', 'max', 'count'] : ['station', 'station_name', 'sensor', 'unit', 'time', 'value', 'late']]
  for (const s of series) {
    for (const p of s.points) {
      rows.push(aggregated ? [station.id, station.name, s.sensor, s.unit, p.time, p.mean, p.min, p.max, p.count] : [station.id, station.name, s.sensor, s.unit, p.time, p.value, p.late])
    }
  }
  return rows
}

interface DaySensor {
  unit: string
  min: number | null
  max: number | null
  mean: number | null
  count: number
  /** Clock hours with at least one reading. */
  hoursWithData: number
  /** Sensors with levels: clock hours whose mean is at warning or worse / at danger, by the station's rule in force. */
  hoursWarning?: number
  hoursDanger?: number
}

async function dailySummary(query: InfluxQueryClient, rules: RuleLookup, station: Station, sensors: SensorKind[], fromDate: string, toDate: string) {
  const ruleOf = new Map(sensors.map((k) => [k, rules.get(station.id, k)]))
  const start = localDayStart(fromDate)
  const end = localDayStart(toDate) + DAY_MS
  const days = new Map<string, Partial<Record<SensorKind, DaySensor>>>()
  if (sensors.length > 0) {
    const where = `"station" = ${quoteString(station.id)} AND time >= ${start}ms AND time < ${end}ms`
    const series = await queryPerSensor(
      query,
      sensors,
      (s) => `SELECT min("${s}"), max("${s}"), mean("${s}"), count("${s}") FROM "${READING_MEASUREMENT}" WHERE ${where} GROUP BY ${localGroupByTime('1d', DAY_MS)} fill(none)`,
    )
    for (const s of series) {
      const sensor = s.tags?.sensor as SensorKind
      if (!sensors.includes(sensor)) continue
      for (const [t, min, max, mean, count] of s.values) {
        const date = localDate(t as number)
        const day = days.get(date) ?? {}
        const judged = levelLines(ruleOf.get(sensor) ?? null).length > 0
        day[sensor] = { unit: unitOf(sensor), min: round(sensor, min), max: round(sensor, max), mean: round(sensor, mean), count: Number(count), hoursWithData: 0, ...(judged ? { hoursWarning: 0, hoursDanger: 0 } : {}) }
        days.set(date, day)
      }
    }
    // Hours at a level come from hourly means: one stray spike does not make an hour, and
    // stations reporting every 5 or every 15 minutes count alike.
    for (const h of await hourlyMeans(query, { from: start, to: end, stationId: station.id, sensors })) {
      for (const [t, mean] of h.points) {
        const entry = days.get(localDate(t))?.[h.sensor]
        if (!entry) continue
        entry.hoursWithData++
        if (entry.hoursWarning !== undefined) {
          // The rule in force now, for every day asked: a summary answers "how long was the water past today's levels".
          const severity = severityOfValue(ruleOf.get(h.sensor) ?? null, mean)
          if (severity !== 'ok') entry.hoursWarning!++
          if (severity === 'danger') entry.hoursDanger!++
        }
      }
    }
  }
  return [...days.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([date, sensorsOfDay]) => ({ date, sensors: sensorsOfDay }))
}

type DailyDays = Awaited<ReturnType<typeof dailySummary>>

function dailyRows(station: Station, days: DailyDays): unknown[][] {
  const rows: unknown[][] = [['station', 'station_name', 'date', 'sensor', 'unit', 'min', 'max', 'mean', 'count', 'hours_with_data', 'hours_warning', 'hours_danger']]
  for (const d of days) {
    for (const k of SENSOR_KINDS) {
      const v = d.sensors[k]
      if (v) rows.push([station.id, station.name, d.date, k, v.unit, v.min, v.max, v.mean, v.count, v.hoursWithData, v.hoursWarning, v.hoursDanger])
    }
  }
  return rows
}

function planDaily(q: z.output<typeof DailyQuery>, now: number): { from: string; to: string } {
  const to = q.to ?? localDate(now)
  const from = q.from ?? localDate(localDayStart(to) - (OPEN_V1_LIMITS.defaultDays - 1) * DAY_MS)
  const days = (localDayStart(to) - localDayStart(from)) / DAY_MS + 1
  if (days < 1) throw badRequest('from', 'must be on or before to', { from, to })
  if (days > OPEN_V1_LIMITS.maxDays) throw badRequest('from', `at most ${OPEN_V1_LIMITS.maxDays} days per request`, { days })
  return { from, to }
}

// ---- The OpenAPI document's schemas of these routes (api/openapi.ts) ----
const Nullable = z.number().nullable()
const LevelsInForce = z
  .record(z.string(), z.looseObject({ unit: z.string(), levels: z.array(z.looseObject({ name: z.string(), severity: z.string(), direction: z.string(), threshold: z.number(), high: z.number().optional() })) }))
  .meta({ description: 'The levels in force per sensor (station override, zone, built-in); sensors without levels are left out' })
const LEVELS_EXAMPLE = { salinity: { unit: '‰', levels: [{ name: 'warning', severity: 'warning', direction: 'above', threshold: 2 }, { name: 'danger', severity: 'danger', direction: 'above', threshold: 4 }] } }

const StationsDocumentSchema = z
  .looseObject({
    ...LicenceFields,
    stations: z.array(
      z.looseObject({
        id: z.string(),
        name: z.string(),
        commune: z.string().nullable(),
        district: z.string().nullable(),
        lat: z.number(),
        lon: z.number(),
        zone: z.string(),
        code: z.string().nullable(),
        sensors: z.array(z.looseObject({ kind: z.string(), label: z.string(), unit: z.string() })),
        levels: LevelsInForce,
        lastUpdate: IsoTime.nullable(),
        latest: z.record(z.string(), OpenLatestValue('time')),
      }),
    ),
  })
  .meta({
    examples: [
      {
        ...LICENCE_EXAMPLE,
        stations: [
          {
            id: 'cm-song-doc-01',
            name: 'Sông Đốc',
            commune: 'Sông Đốc',
            district: 'Trần Văn Thời',
            lat: 9.04,
            lon: 104.83,
            zone: 'rice_shrimp',
            code: 'SD01',
            sensors: [{ kind: 'salinity', label: 'Độ mặn', unit: '‰' }],
            levels: LEVELS_EXAMPLE,
            lastUpdate: '2025-03-01T02:00:00.000Z',
            latest: { salinity: { value: 4.7, unit: '‰', time: '2025-03-01T02:00:00.000Z', level: 'danger', levelName: 'danger' } },
          },
        ],
      },
    ],
  })

const ReadingsDocumentSchema = z
  .looseObject({
    station: z.string(),
    from: IsoTime,
    to: IsoTime,
    every: z.string().nullable(),
    ...LicenceFields,
    series: z.array(
      z.looseObject({
        sensor: z.string(),
        unit: z.string(),
        label: z.string(),
        points: z.array(
          z.union([
            z.looseObject({ time: IsoTime, value: Nullable, late: z.boolean() }).meta({ description: 'Raw' }),
            z.looseObject({ time: IsoTime, mean: Nullable, min: Nullable, max: Nullable, count: z.unknown() }).meta({ description: 'Aggregated (every=): the bucket starts at time' }),
          ]),
        ),
      }),
    ),
  })
  .meta({
    examples: [
      {
        station: 'cm-song-doc-01',
        from: '2025-02-28T17:00:00.000Z',
        to: '2025-03-01T17:00:00.000Z',
        every: '1h',
        ...LICENCE_EXAMPLE,
        series: [{ sensor: 'salinity', unit: '‰', label: 'Độ mặn', points: [{ time: '2025-02-28T17:00:00.000Z', mean: 4.61, min: 4.5, max: 4.7, count: 12 }] }],
      },
    ],
  })

const DailyDocumentSchema = z
  .looseObject({
    station: z.string(),
    from: z.string().meta({ description: 'Local date YYYY-MM-DD' }),
    to: z.string(),
    timeZone: z.literal(LOCAL_TZ),
    utcOffset: z.literal(LOCAL_UTC_OFFSET),
    zone: z.string(),
    levels: LevelsInForce,
    ...LicenceFields,
    days: z.array(
      z.looseObject({
        date: z.string(),
        sensors: z.record(
          z.string(),
          z.looseObject({ unit: z.string(), min: Nullable, max: Nullable, mean: Nullable, count: z.number(), hoursWithData: z.number(), hoursWarning: z.number().optional(), hoursDanger: z.number().optional() }),
        ),
      }),
    ),
  })
  .meta({
    examples: [
      {
        station: 'cm-song-doc-01',
        from: '2025-03-01',
        to: '2025-03-01',
        timeZone: LOCAL_TZ,
        utcOffset: LOCAL_UTC_OFFSET,
        zone: 'rice_shrimp',
        levels: LEVELS_EXAMPLE,
        ...LICENCE_EXAMPLE,
        days: [{ date: '2025-03-01', sensors: { salinity: { unit: '‰', min: 3.9, max: 4.7, mean: 4.3, count: 288, hoursWithData: 24, hoursWarning: 24, hoursDanger: 6 } } }],
      },
    ],
  })

const CSV_NOTE = 'UTF-8 with a byte order mark (for Excel), sent as an attachment.'
const DOCS: Record<'readings' | 'daily', Record<Format, { operationId: string; summary: string; ok: ReturnType<typeof json> }>> = {
  readings: {
    json: { operationId: 'getOpenReadings', summary: 'Readings of one station, raw or aggregated', ok: json('The readings, one series per sensor', ReadingsDocumentSchema) },
    csv: {
      operationId: 'getOpenReadingsCsvV1',
      summary: 'Readings of one station as CSV',
      ok: media(
        'text/csv',
        `station, station_name, sensor, unit, time, then value, late (raw) or mean, min, max, count (every=). ${CSV_NOTE}`,
        z.string().meta({ examples: ['station,station_name,sensor,unit,time,value,late\ncm-song-doc-01,Sông Đốc,salinity,‰,2025-03-01T02:00:00.000Z,4.7,false\n'] }),
      ),
    },
  },
  daily: {
    json: { operationId: 'getOpenDaily', summary: 'Daily summary of one station: min, max, mean and hours at each level', ok: json('One entry per local day with data', DailyDocumentSchema) },
    csv: {
      operationId: 'getOpenDailyCsv',
      summary: 'Daily summary of one station as CSV',
      ok: media(
        'text/csv',
        `station, station_name, date, sensor, unit, min, max, mean, count, hours_with_data, hours_warning, hours_danger. ${CSV_NOTE}`,
        z.string().meta({ examples: ['station,station_name,date,sensor,unit,min,max,mean,count,hours_with_data,hours_warning,hours_danger\ncm-song-doc-01,Sông Đốc,2025-03-01,salinity,‰,3.9,4.7,4.3,288,24,24,6\n'] }),
      ),
    },
  },
}
const OpenIndexSchema = z.object({
  ...LicenceFields,
  documentation: z.string(),
  links: z.array(z.object({ href: z.string(), title: z.string(), type: z.string() })),
})

/** Paths relative to /open/v1; `{id}` is a station id from /stations. */
function openIndex(): z.infer<typeof OpenIndexSchema> {
  return {
    ...OPEN_V1_LICENSE,
    documentation: '/docs (OpenAPI); docs/OPEN-DATA.md in the repository',
    links: [
      { href: '/open/v1/stations', title: 'Every public station: sensors, units, levels in force, latest values', type: 'application/json' },
      { href: '/open/v1/stations.geojson', title: 'The stations as GeoJSON (RFC 7946)', type: 'application/geo+json' },
      ...FORMATS.flatMap((format) => [
        { href: `/open/v1/stations/{id}/readings.${format}`, title: `Readings of one station (${format.toUpperCase()})`, type: format === 'csv' ? 'text/csv' : 'application/json' },
        { href: `/open/v1/stations/{id}/daily.${format}`, title: `Daily summary of one station (${format.toUpperCase()})`, type: format === 'csv' ? 'text/csv' : 'application/json' },
      ]),
      { href: '/sta/v1.1', title: 'The same data as OGC SensorThings API 1.1', type: 'application/json' },
    ],
  }
}

const OPEN_ERRORS = ['STATION_NOT_FOUND', 'INFLUX_UNAVAILABLE', 'INFLUX_QUERY_FAILED'] as const

export function openV1Routes(deps: ApiDeps): FastifyPluginAsync {
  return async (fastify) => {
    // Open to every origin: reading public data needs no credentials, so "*" is safe.
    await fastify.register(cors, { origin: '*', methods: ['GET', 'HEAD'], exposedHeaders: ['etag', 'x-license', 'link', 'content-disposition'], maxAge: 86_400 })
    addHttpCache(fastify, { cacheControl: OPEN_V1_LIMITS.cacheControl })
    const app = fastify.withTypeProvider<ZodTypeProvider>()
    const clock = () => Date.now()

    // The entry point docs/OPEN-DATA.md gives as the base URL: what is here,
    // so a client (or a person with curl) can start from it.
    app.get('/', {
      schema: route({
        operationId: 'getOpenIndex',
        tag: 'open data',
        summary: 'What the open data API serves: its documents, formats and licence',
        ok: { 200: json('Links to every open data document', OpenIndexSchema.meta({ examples: [openIndex()] })) },
      }),
    }, async (_req, reply) => {
      void reply.header('x-license', OPEN_V1_LICENSE.license).header('link', `<${OPEN_V1_LICENSE.licenseUrl}>; rel="license"`)
      return openIndex()
    })

    // The stations as GeoJSON (RFC 7946), with this prefix's CORS and caching; /api/v1/open/stations.geojson serves the same document.
    app.get('/stations.geojson', { schema: route({ ...GEOJSON_ROUTE, operationId: 'getOpenStationsGeoJson' }) }, async (_req, reply) => {
      void reply.header('x-license', OPEN_V1_LICENSE.license).header('link', `<${OPEN_V1_LICENSE.licenseUrl}>; rel="license"`).type('application/geo+json; charset=utf-8')
      return stationsGeoJson(deps, clock())
    })

    app.get('/stations', {
      schema: route({
        operationId: 'listOpenStations',
        tag: 'open data',
        summary: 'Every public station with its sensors, units, levels in force and latest values',
        ok: { 200: json('The stations', StationsDocumentSchema), ...NOT_MODIFIED },
        errors: ['INFLUX_UNAVAILABLE', 'INFLUX_QUERY_FAILED'],
      }),
    }, async (_req, reply) => {
      void reply.header('x-license', OPEN_V1_LICENSE.license).header('link', `<${OPEN_V1_LICENSE.licenseUrl}>; rel="license"`)
      return stationsDocument(deps, clock())
    })

    for (const format of FORMATS) {
      app.get(`/stations/:id/readings.${format}`, {
        schema: route({
          ...DOCS.readings[format],
          tag: 'open data',
          description: `Raw values (the last 24 h by default) or, with every=, buckets on local (UTC+7) boundaries (the last 7 days by default). At most ${OPEN_V1_LIMITS.maxPoints} points and ${OPEN_V1_LIMITS.maxRangeDays} days per request.`,
          params: StationParams,
          querystring: ReadingsQuery,
          ok: { 200: DOCS.readings[format].ok, ...NOT_MODIFIED },
          errors: OPEN_ERRORS,
        }),
      }, async (req, reply) => {
        const station = requirePublicStation(deps.registry.get(req.params.id), req.params.id)
        const plan = planReadings(station, req.query, clock())
        const series = await queryReadings(requireQuery(deps.query), plan)
        const json = {
          station: station.id,
          from: iso(plan.from),
          to: iso(plan.to),
          every: plan.every?.text ?? null,
          ...OPEN_V1_LICENSE,
          series,
        }
        return sendAs(reply, format, `tidewatch-${station.id}-${plan.every?.text ?? 'raw'}`, json, () => readingsRows(station, Boolean(plan.every), series))
      })

      app.get(`/stations/:id/daily.${format}`, {
        schema: route({
          ...DOCS.daily[format],
          tag: 'open data',
          description: `Local (UTC+7) days from..to, the last ${OPEN_V1_LIMITS.defaultDays} by default, at most ${OPEN_V1_LIMITS.maxDays}. Hours at a level come from hourly means judged by the rule in force now.`,
          params: StationParams,
          querystring: DailyQuery,
          ok: { 200: DOCS.daily[format].ok, ...NOT_MODIFIED },
          errors: OPEN_ERRORS,
        }),
      }, async (req, reply) => {
        const station = requirePublicStation(deps.registry.get(req.params.id), req.params.id)
        const range = planDaily(req.query, clock())
        const src = levelSources(deps)
        const kinds = sensorsOf(station, req.query.sensor)
        const days = await dailySummary(requireQuery(deps.query), src.rules, station, kinds, range.from, range.to)
        const json = {
          station: station.id,
          from: range.from,
          to: range.to,
          timeZone: LOCAL_TZ,
          utcOffset: LOCAL_UTC_OFFSET,
          zone: station.zone,
          levels: levelsInForce(src.rules, station, kinds),
          ...OPEN_V1_LICENSE,
          days,
        }
        return sendAs(reply, format, `tidewatch-${station.id}-daily-${range.from}-${range.to}`, json, () => dailyRows(station, days))
      })
    }
  }
}
