import { TidewatchError } from '../core/errors.ts'
import { SENSOR_KINDS } from '../core/sensors.ts'
import { quoteIdent, type InfluxQueryClient } from './query.ts'
import { READING_MEASUREMENT, ROLLUP_AGGREGATES, ROLLUP_MEASUREMENT, rollupField, valueField } from './schema.ts'

/**
 * Creates the database, the retention policies and the hourly rollup of
 * docs/DATA.md on InfluxDB 1.x, idempotently: `tidewatch up` runs it on every
 * start, so each step first looks at what exists (SHOW RETENTION POLICIES /
 * SHOW CONTINUOUS QUERIES) and only creates or alters what differs.
 * InfluxDB 2.x/3.x equivalents (buckets, tasks, DBRP) are in docs/GRAFANA.md.
 */
export interface RetentionOptions {
  database: string
  /** Duration of the default `raw` RP as an InfluxQL duration literal, e.g. `400d`; at least 1h. */
  rawRetention: string
}

export const RAW_RP = 'raw'
export const LONG_RP = 'long'
/**
 * The version suffix is how a changed rollup definition gets applied: CQs
 * cannot be altered, so a new name is created and older `cq_reading_1h*` ones
 * are dropped. v2 reads the one-point-per-reading schema (influx/schema.ts);
 * v1 read the legacy `reading` measurement.
 */
export const ROLLUP_CQ = 'cq_reading_1h_v2'
const ROLLUP_CQ_PREFIX = 'cq_reading_1h'

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  u: 1e-3,
  µ: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
}

/** Parses an InfluxQL duration (`400d`, `1h30m`) or SHOW output (`9600h0m0s`); `INF` and `0s` are infinite (0). */
export function durationMs(text: string): number {
  if (/^inf$/i.test(text)) return 0
  const parts = [...text.matchAll(/(\d+)(ns|ms|u|µ|s|m|h|d|w)/g)]
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) {
    throw new TidewatchError('CONFIG_INVALID', { duration: text }, `not an InfluxQL duration: ${text}`)
  }
  return parts.reduce((sum, p) => sum + Number(p[1]) * UNIT_MS[p[2]!]!, 0)
}

const HOUR_MS = 3_600_000

/**
 * The rollup: mean/min/max/count per station, sensor and hour, as fields
 * `salinity_mean`, `salinity_min`, … of `station_reading_1h` (one point per
 * station and hour). RESAMPLE FOR 1d recomputes the last 24 hours every hour,
 * so readings a station uploads late (after a 4G outage) still reach the
 * rollup; older backfills need a manual SELECT ... INTO (docs/GRAFANA.md).
 */
export function rollupQuery(database: string): string {
  const db = quoteIdent(database)
  const fields = SENSOR_KINDS.flatMap((sensor) =>
    ROLLUP_AGGREGATES.map((agg) => `${agg}(${quoteIdent(valueField(sensor))}) AS ${quoteIdent(rollupField(sensor, agg))}`),
  ).join(', ')
  return (
    `CREATE CONTINUOUS QUERY ${quoteIdent(ROLLUP_CQ)} ON ${db} RESAMPLE EVERY 1h FOR 1d BEGIN ` +
    `SELECT ${fields} ` +
    `INTO ${db}.${quoteIdent(LONG_RP)}.${quoteIdent(ROLLUP_MEASUREMENT)} FROM ${db}.${quoteIdent(RAW_RP)}.${quoteIdent(READING_MEASUREMENT)} ` +
    `GROUP BY time(1h), "station" END`
  )
}

interface RpRow {
  name: string
  durationMs: number
  isDefault: boolean
}

async function retentionPolicies(client: InfluxQueryClient, database: string): Promise<RpRow[]> {
  const [series = []] = await client.query(`SHOW RETENTION POLICIES ON ${quoteIdent(database)}`)
  const rows: RpRow[] = []
  for (const s of series) {
    const col = (name: string) => s.columns.indexOf(name)
    for (const v of s.values ?? []) {
      rows.push({ name: String(v[col('name')]), durationMs: durationMs(String(v[col('duration')])), isDefault: v[col('default')] === true })
    }
  }
  return rows
}

async function continuousQueries(client: InfluxQueryClient, database: string): Promise<string[]> {
  const [series = []] = await client.query('SHOW CONTINUOUS QUERIES')
  // One series per database, named after it; column "name" holds the CQ names.
  const mine = series.find((s) => s.name === database)
  if (!mine) return []
  const col = mine.columns.indexOf('name')
  // A database without CQs is listed with no "values" at all.
  return (mine.values ?? []).map((v) => String(v[col]))
}

export async function applyRetention(client: InfluxQueryClient, opts: RetentionOptions): Promise<void> {
  const rawMs = durationMs(opts.rawRetention)
  // InfluxDB rejects RPs shorter than 1h; 0 would mean "keep forever", not what `raw` is for.
  if (rawMs < HOUR_MS) {
    throw new TidewatchError('CONFIG_INVALID', { rawRetention: opts.rawRetention }, 'influx raw retention must be at least 1h')
  }
  const db = quoteIdent(opts.database)
  // CREATE DATABASE is a no-op when the database exists (InfluxDB 1.x).
  await client.query(`CREATE DATABASE ${db}`, { method: 'POST' })

  const rps = await retentionPolicies(client, opts.database)
  const raw = rps.find((r) => r.name === RAW_RP)
  if (!raw) {
    await client.query(`CREATE RETENTION POLICY ${quoteIdent(RAW_RP)} ON ${db} DURATION ${opts.rawRetention} REPLICATION 1 DEFAULT`, { method: 'POST' })
  } else if (raw.durationMs !== rawMs || !raw.isDefault) {
    await client.query(`ALTER RETENTION POLICY ${quoteIdent(RAW_RP)} ON ${db} DURATION ${opts.rawRetention} DEFAULT`, { method: 'POST' })
  }
  const long = rps.find((r) => r.name === LONG_RP)
  if (!long) {
    await client.query(`CREATE RETENTION POLICY ${quoteIdent(LONG_RP)} ON ${db} DURATION INF REPLICATION 1`, { method: 'POST' })
  } else if (long.durationMs !== 0) {
    await client.query(`ALTER RETENTION POLICY ${quoteIdent(LONG_RP)} ON ${db} DURATION INF`, { method: 'POST' })
  }

  const cqs = await continuousQueries(client, opts.database)
  for (const name of cqs) {
    if (name.startsWith(ROLLUP_CQ_PREFIX) && name !== ROLLUP_CQ) {
      await client.query(`DROP CONTINUOUS QUERY ${quoteIdent(name)} ON ${db}`, { method: 'POST' })
    }
  }
  if (!cqs.includes(ROLLUP_CQ)) await client.query(rollupQuery(opts.database), { method: 'POST' })
}
