import { SENSOR_KINDS, type SensorKind } from '../core/sensors.ts'
import type { Logger } from '../core/log.ts'
import { quoteIdent, type InfluxQueryClient } from './query.ts'
import {
  LEGACY_READING_MEASUREMENT,
  LEGACY_ROLLUP_MEASUREMENT,
  READING_MEASUREMENT,
  ROLLUP_AGGREGATES,
  ROLLUP_MEASUREMENT,
  flagsField,
  rawField,
  rollupField,
  valueField,
} from './schema.ts'

/**
 * Moves data stored in the legacy schema (one `reading` point per sensor
 * value, tags station+sensor; rollups in `reading_1h`) into the one point per
 * reading schema of influx/schema.ts, inside InfluxDB, with InfluxQL
 * `SELECT … INTO`: per sensor, `value AS salinity`, `raw AS salinity_raw`, …
 * GROUP BY "station". InfluxDB merges the fields of points with the same
 * series and timestamp, so the six per-sensor copies of one reading become
 * one point (verified on influxd 1.6.7, tests/api/schema-equivalence.test.ts).
 *
 * Idempotent: a copy overwrites itself, so an interrupted run is simply run
 * again. Chunked by time (a day per request by default) so no statement
 * holds a year of points in influxd's memory. Every retention policy is
 * migrated where the legacy measurements have data. Only when the new
 * measurement holds at least as many values per sensor as the legacy one over
 * the same span is the legacy measurement dropped; a later start finding a
 * `reading` again (a spool or readings-log replay of lines written before the
 * upgrade) migrates those too.
 */
export interface SchemaMigrationOptions {
  database: string
  /** Time span copied per request; a day of 1,000 stations at 15 min is ~100k values. */
  chunkMs?: number
  log?: Logger
}

export interface SchemaMigrationResult {
  /** Values copied (InfluxDB's "written" counts), per legacy measurement. */
  written: Record<string, number>
  /** Legacy measurements dropped after the copy checked out. */
  dropped: string[]
}

const DAY_MS = 86_400_000

interface Move {
  legacy: string
  target: string
  /** Field list for one sensor: `"legacy" AS "new"`. */
  select: (sensor: SensorKind) => string
  /** Legacy field counted to check the copy, and its new name per sensor. */
  checkLegacy: string
  checkTarget: (sensor: SensorKind) => string
}

const MOVES: readonly Move[] = [
  {
    legacy: LEGACY_READING_MEASUREMENT,
    target: READING_MEASUREMENT,
    select: (s) =>
      `"value" AS ${quoteIdent(valueField(s))}, "raw" AS ${quoteIdent(rawField(s))}, "flags" AS ${quoteIdent(flagsField(s))}, "late", "delay_s", "seq"`,
    checkLegacy: 'value',
    checkTarget: valueField,
  },
  {
    legacy: LEGACY_ROLLUP_MEASUREMENT,
    target: ROLLUP_MEASUREMENT,
    select: (s) => ROLLUP_AGGREGATES.map((agg) => `${quoteIdent(agg)} AS ${quoteIdent(rollupField(s, agg))}`).join(', '),
    checkLegacy: 'mean',
    checkTarget: (s) => rollupField(s, 'mean'),
  },
]

async function measurementExists(client: InfluxQueryClient, name: string): Promise<boolean> {
  const [series = []] = await client.query(`SHOW MEASUREMENTS WITH MEASUREMENT = ${quoteIdent(name)}`)
  return series.some((s) => (s.values ?? []).some((v) => v[0] === name))
}

async function retentionPolicyNames(client: InfluxQueryClient, database: string): Promise<string[]> {
  const [series = []] = await client.query(`SHOW RETENTION POLICIES ON ${quoteIdent(database)}`)
  return series.flatMap((s) => (s.values ?? []).map((v) => String(v[s.columns.indexOf('name')])))
}

async function span(client: InfluxQueryClient, from: string, field: string): Promise<[number, number] | undefined> {
  const [first = [], last = []] = await client.query(`SELECT first(${quoteIdent(field)}) FROM ${from}; SELECT last(${quoteIdent(field)}) FROM ${from}`)
  const a = first[0]?.values?.[0]?.[0]
  const b = last[0]?.values?.[0]?.[0]
  return typeof a === 'number' && typeof b === 'number' ? [a, b] : undefined
}

function countOf(series: { values?: unknown[][] }[] | undefined): number {
  return Number(series?.[0]?.values?.[0]?.[1] ?? 0)
}

export async function migrateReadingSchema(client: InfluxQueryClient, opts: SchemaMigrationOptions): Promise<SchemaMigrationResult> {
  const chunkMs = opts.chunkMs ?? DAY_MS
  const db = quoteIdent(opts.database)
  const result: SchemaMigrationResult = { written: {}, dropped: [] }
  const rps = await retentionPolicyNames(client, opts.database)
  for (const move of MOVES) {
    if (!(await measurementExists(client, move.legacy))) continue
    let complete = true
    let written = 0
    for (const rp of rps) {
      const from = `${db}.${quoteIdent(rp)}.${quoteIdent(move.legacy)}`
      const into = `${db}.${quoteIdent(rp)}.${quoteIdent(move.target)}`
      const range = await span(client, from, move.checkLegacy)
      if (!range) continue
      opts.log?.info({ measurement: move.legacy, rp, from: new Date(range[0]).toISOString(), to: new Date(range[1]).toISOString() }, 'migrating to one point per reading')
      for (let t = range[0]; t <= range[1]; t += chunkMs) {
        const window = `time >= ${t}ms AND time < ${t + chunkMs}ms`
        const statements = SENSOR_KINDS.map((s) => `SELECT ${move.select(s)} INTO ${into} FROM ${from} WHERE "sensor" = '${s}' AND ${window} GROUP BY "station"`)
        const answers = await client.query(statements.join('; '), { method: 'POST' })
        for (const a of answers) written += countOf(a)
      }
      // The check: the new measurement holds every legacy value of each sensor over the legacy span.
      const window = `time >= ${range[0]}ms AND time <= ${range[1]}ms`
      const checks = SENSOR_KINDS.flatMap((s) => [
        `SELECT count(${quoteIdent(move.checkLegacy)}) FROM ${from} WHERE "sensor" = '${s}' AND ${window}`,
        `SELECT count(${quoteIdent(move.checkTarget(s))}) FROM ${into} WHERE ${window}`,
      ])
      const counts = await client.query(checks.join('; '))
      SENSOR_KINDS.forEach((sensor, i) => {
        const legacy = countOf(counts[2 * i])
        const migrated = countOf(counts[2 * i + 1])
        if (migrated < legacy) {
          complete = false
          opts.log?.warn({ measurement: move.legacy, rp, sensor, legacy, migrated }, 'schema migration incomplete; the legacy measurement is kept')
        }
      })
    }
    result.written[move.legacy] = written
    if (complete) {
      // DROP MEASUREMENT drops it from every RP, all of which were copied above.
      await client.query(`DROP MEASUREMENT ${quoteIdent(move.legacy)}`, { method: 'POST' })
      result.dropped.push(move.legacy)
      opts.log?.info({ measurement: move.legacy, written }, 'legacy measurement migrated and dropped')
    }
  }
  return result
}
