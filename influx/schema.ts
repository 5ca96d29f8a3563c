import { SENSOR_KINDS, isSensorKind, type SensorKind } from '../core/sensors.ts'
import type { InfluxQueryClient, InfluxSeries } from './query.ts'

/**
 * The readings' InfluxDB schema (docs/DATA.md), one home for every writer
 * and reader. One point per accepted reading: measurement `station_reading`,
 * tag `station`, a field per sensor value (`salinity`, `salinity_raw`,
 * `salinity_flags`, …) plus `late`, `delay_s` and `seq`. It replaced one
 * `reading` point per sensor value (tags station+sensor) because it costs
 * InfluxDB about half the CPU per reading (docs/PERFORMANCE.md, "The
 * InfluxDB schema, weighed": 32.4 → 14.7 µs). Identity stays idempotent: a
 * re-sent reading has the same station and timestamp, so it overwrites its
 * own point (DC/DR re-writes and spool replays never duplicate).
 */
export const READING_MEASUREMENT = 'station_reading'
/** The hourly rollup the continuous query writes into the `long` RP (influx/retention.ts). */
export const ROLLUP_MEASUREMENT = 'station_reading_1h'
/** The schema before: one point per value, tags station+sensor; read only by the migration (influx/schema-migration.ts). */
export const LEGACY_READING_MEASUREMENT = 'reading'
export const LEGACY_ROLLUP_MEASUREMENT = 'reading_1h'

/** The calibrated value's field is the sensor kind itself. */
export function valueField(sensor: SensorKind): string {
  return sensor
}

export function rawField(sensor: SensorKind): string {
  return `${sensor}_raw`
}

export function flagsField(sensor: SensorKind): string {
  return `${sensor}_flags`
}

export const ROLLUP_AGGREGATES = ['mean', 'min', 'max', 'count'] as const
export type RollupAggregate = (typeof ROLLUP_AGGREGATES)[number]

/** `salinity_max`: one rollup field per sensor and aggregate. */
export function rollupField(sensor: SensorKind, aggregate: RollupAggregate): string {
  return `${sensor}_${aggregate}`
}

/**
 * A WHERE term true only for the points that carry `field`: InfluxQL has no
 * IS NOT NULL, and a comparison with a missing field is false. A raw SELECT
 * that reads one sensor needs it, or every reading without that sensor would
 * come back as a row of nulls and use up the LIMIT.
 */
export function carries(field: string): string {
  return `"${field}" = "${field}"`
}

/**
 * One InfluxQL statement per sensor, `;`-joined, to send as one request.
 * Separate statements keep what GROUP BY "sensor" gave on the old schema:
 * each sensor's own timestamps for last(), its own LIMIT and its own series.
 */
export function perSensorStatements(sensors: readonly SensorKind[], statement: (sensor: SensorKind) => string): string {
  return sensors.map(statement).join('; ')
}

/**
 * The answers of perSensorStatements() with the `sensor` tag put back, as
 * the old GROUP BY "sensor" returned them, so readers keep their shape.
 * Order: by the other tags, then by sensor name, as InfluxDB sorted the old
 * series (tag keys and values sort alphabetically).
 */
export function withSensorTag(sensors: readonly SensorKind[], results: readonly InfluxSeries[][]): InfluxSeries[] {
  const out: InfluxSeries[] = []
  sensors.forEach((sensor, i) => {
    for (const s of results[i] ?? []) out.push({ ...s, tags: { ...s.tags, sensor } })
  })
  const key = (s: InfluxSeries) => JSON.stringify(Object.entries(s.tags ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  return out.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))
}

/** The sensors a request names, or every kind; unknown names are dropped (they never had data). */
export function sensorsOrAll(names?: readonly string[]): SensorKind[] {
  if (!names || names.length === 0) return [...SENSOR_KINDS]
  return [...new Set(names)].filter(isSensorKind)
}

/** Runs `statement` once per sensor in one request and returns the series tagged with their sensor (withSensorTag). */
export async function queryPerSensor(
  client: Pick<InfluxQueryClient, 'query'>,
  sensors: readonly SensorKind[],
  statement: (sensor: SensorKind) => string,
  opts?: { method?: 'GET' | 'POST' },
): Promise<InfluxSeries[]> {
  if (sensors.length === 0) return []
  return withSensorTag(sensors, await client.query(perSensorStatements(sensors, statement), opts))
}
