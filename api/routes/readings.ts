import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { TidewatchError } from '../../core/errors.ts'
import { SENSOR_KINDS, SENSORS, roundValue, type SensorKind } from '../../core/sensors.ts'
import { LOCAL_TZ, LOCAL_UTC_OFFSET, localGroupByTime } from '../../core/local-time.ts'
import { quoteString } from '../../influx/query.ts'
import { READING_MEASUREMENT, carries, queryPerSensor, sensorsOrAll } from '../../influx/schema.ts'
import type { ApiDeps } from '../server.ts'
import { csvField, TimeParam, timeParamMs } from '../formats.ts'
import { StationParams } from './stations.ts'
import { OPEN_DATA_CSV_BOM } from './open-data.ts'
import { IsoTime, json, media, route } from '../openapi.ts'

const MAX_POINTS = 10_000
const DURATION_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
/**
 * Longest bucket: a (leap) year, as in /open/v1. InfluxDB keeps durations in
 * int64 nanoseconds (about 106,751 days), so far longer ones fail inside it.
 */
const MAX_EVERY_MS = 366 * 86_400_000
const EVERY_PATTERN = /^[1-9]\d{0,5}[smhd]$/
const everyMsOf = (every: string): number => Number(every.slice(0, -1)) * DURATION_MS[every.slice(-1)]!

const Time = TimeParam
const toMs = timeParamMs

export const ReadingsQuery = z
  .object({
    sensor: z.enum(SENSOR_KINDS).optional(),
    from: Time.optional(),
    to: Time.optional(),
    every: z
      .string()
      .regex(EVERY_PATTERN, 'must be a duration like 30s, 15m, 1h, 1d')
      .refine((v) => !EVERY_PATTERN.test(v) || everyMsOf(v) <= MAX_EVERY_MS, 'must be at most 366d')
      .optional(),
  })
  .strict()

type ReadingsQueryT = z.infer<typeof ReadingsQuery>

interface ReadingsResult {
  station: string
  stationName: string
  from: string
  to: string
  every: string | null
  /** Buckets (every=) start on wall-clock boundaries of this zone: 1d is a local calendar day. */
  timeZone: typeof LOCAL_TZ
  utcOffset: typeof LOCAL_UTC_OFFSET
  series: Array<{ sensor: string; unit: string; columns: string[]; values: unknown[][] }>
}

async function queryReadings(deps: ApiDeps, stationId: string, q: ReadingsQueryT): Promise<ReadingsResult> {
  const station = deps.registry.require(stationId)
  if (!deps.query) throw new TidewatchError('INFLUX_UNAVAILABLE', {}, 'no InfluxDB target configured')
  const to = q.to ? toMs(q.to) : Date.now()
  const from = q.from ? toMs(q.from) : to - 86_400_000
  if (!Number.isFinite(from) || !Number.isFinite(to)) throw new TidewatchError('BAD_REQUEST', { parameter: q.from ? 'from' : 'to' }, 'from/to is not a valid time')
  if (from >= to) throw new TidewatchError('BAD_REQUEST', { parameter: 'from', from: q.from, to: q.to }, 'from must be before to')
  const sensors = q.sensor ? [q.sensor] : station.sensors.map((s) => s.kind)
  if (sensors.length === 0) return { station: station.id, stationName: station.name, from: new Date(from).toISOString(), to: new Date(to).toISOString(), every: q.every ?? null, timeZone: LOCAL_TZ, utcOffset: LOCAL_UTC_OFFSET, series: [] }
  const kinds = sensorsOrAll(sensors)
  const where = `"station" = ${quoteString(station.id)} AND time >= ${from}ms AND time <= ${to}ms`
  let statement: (sensor: SensorKind) => string
  if (q.every) {
    const everyMs = everyMsOf(q.every)
    if ((to - from) / everyMs > MAX_POINTS) {
      throw new TidewatchError('BAD_REQUEST', { parameter: 'every', maxPoints: MAX_POINTS }, `every=${q.every} gives more than ${MAX_POINTS} points for this range; use a larger interval`)
    }
    // Local (UTC+7) boundaries: 1d is a farmer's calendar day, 6h starts at local 00/06/12/18.
    // Each bucket's ts is the instant it starts, e.g. local midnight = 17:00Z the day before.
    statement = (s) =>
      `SELECT mean("${s}") AS "value", min("${s}") AS "min", max("${s}") AS "max" FROM "${READING_MEASUREMENT}" WHERE ${where} GROUP BY ${localGroupByTime(q.every!, everyMs)} fill(none)`
  } else {
    statement = (s) => `SELECT "${s}" AS "value", "late" FROM "${READING_MEASUREMENT}" WHERE ${where} AND ${carries(s)} ORDER BY time ASC LIMIT ${MAX_POINTS}`
  }
  const series = await queryPerSensor(deps.query, kinds, statement)
  return {
    station: station.id,
    stationName: station.name,
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    every: q.every ?? null,
    timeZone: LOCAL_TZ,
    utcOffset: LOCAL_UTC_OFFSET,
    series: series.map((s) => {
      const sensor = s.tags!.sensor as keyof typeof SENSORS
      return {
        sensor,
        unit: SENSORS[sensor]?.unit ?? '',
        columns: ['ts', ...s.columns.slice(1)],
        // Values at the sensor's precision (core/sensors.ts decimals); the late flag is kept as it is.
        values: s.values.map(([t, ...rest]) => [new Date(t as number).toISOString(), ...rest.map((v) => (typeof v === 'number' ? roundValue(sensor, v) : v))]),
      }
    }),
  }
}


const READINGS_ERRORS = ['STATION_NOT_FOUND', 'INFLUX_UNAVAILABLE', 'INFLUX_QUERY_FAILED'] as const
const READINGS_DESCRIPTION = `Raw values (value, late) or, with every=, buckets (mean, min, max) starting on local (UTC+7) boundaries. At most ${MAX_POINTS} points; the range defaults to the last 24 h.`

const ReadingsBody = z
  .looseObject({
    station: z.string(),
    stationName: z.string(),
    from: IsoTime,
    to: IsoTime,
    every: z.string().nullable(),
    timeZone: z.literal(LOCAL_TZ),
    utcOffset: z.literal(LOCAL_UTC_OFFSET),
    series: z.array(
      z.looseObject({
        sensor: z.string(),
        unit: z.string(),
        columns: z.array(z.string()).meta({ description: 'ts, then value and late (raw) or value (the mean), min and max (every=)' }),
        values: z.array(z.array(z.unknown())).meta({ description: 'One row per point, in the order of columns' }),
      }),
    ),
  })
  .meta({
    examples: [
      {
        station: 'cm-song-doc-01',
        stationName: 'Sông Đốc',
        from: '2025-02-28T17:00:00.000Z',
        to: '2025-03-01T17:00:00.000Z',
        every: '1h',
        timeZone: LOCAL_TZ,
        utcOffset: LOCAL_UTC_OFFSET,
        series: [{ sensor: 'salinity', unit: '‰', columns: ['ts', 'value', 'min', 'max'], values: [['2025-02-28T17:00:00.000Z', 4.61, 4.5, 4.7]] }],
      },
    ],
  })

export function readingRoutes(deps: ApiDeps): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<ZodTypeProvider>()
    app.get('/stations/:id/readings', {
      schema: route({
        operationId: 'getStationReadings',
        tag: 'readings',
        summary: 'Readings of one station, raw or aggregated',
        description: READINGS_DESCRIPTION,
        params: StationParams,
        querystring: ReadingsQuery,
        ok: { 200: json('The readings, one series per sensor', ReadingsBody) },
        errors: READINGS_ERRORS,
      }),
    }, async (req) => queryReadings(deps, req.params.id, req.query))

    // The same data as CSV: one row per sensor and time, for spreadsheets.
    app.get('/stations/:id/readings.csv', {
      schema: route({
        operationId: 'getStationReadingsCsv',
        tag: 'readings',
        summary: 'Readings of one station as CSV, for spreadsheets',
        description: `${READINGS_DESCRIPTION} UTF-8 with a byte order mark (for Excel), sent as an attachment.`,
        params: StationParams,
        querystring: ReadingsQuery,
        ok: {
          200: media(
            'text/csv',
            'One row per sensor and time: station, station_name, sensor, unit, time, then value, late (raw) or mean, min, max (every=)',
            z.string().meta({ examples: ['station,station_name,sensor,unit,time,mean,min,max\ncm-song-doc-01,Sông Đốc,salinity,‰,2025-02-28T17:00:00.000Z,4.61,4.5,4.7\n'] }),
          ),
        },
        errors: READINGS_ERRORS,
      }),
    }, async (req, reply) => {
      const r = await queryReadings(deps, req.params.id, req.query)
      const extra = r.every ? ['mean', 'min', 'max'] : ['value', 'late']
      const lines = [['station', 'station_name', 'sensor', 'unit', 'time', ...extra].join(',')]
      for (const s of r.series) for (const row of s.values) lines.push([r.station, r.stationName, s.sensor, s.unit, ...row].map(csvField).join(','))
      void reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${r.station}-readings.csv"`)
      // A BOM for Excel, as every CSV download (api/routes/open-data.ts OPEN_DATA_CSV_BOM).
      return OPEN_DATA_CSV_BOM + lines.join('\n') + '\n'
    })
  }
}
