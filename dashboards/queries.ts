import { SENSOR_KINDS } from '../core/sensors.ts'
import { READING_MEASUREMENT, ROLLUP_MEASUREMENT } from '../influx/schema.ts'

/**
 * InfluxQL fragments shared by several dashboards. Grafana replaces
 * `$timeFilter`, `$__interval` and `$station` before the text reaches
 * InfluxDB; the schema is docs/DATA.md.
 */

/** Matches one station, several or All: Grafana writes `(a|b)` for multi-value variables. */
export const STATION = `"station" =~ /^$station$/`

/** Rows of one sensor kind for the selected stations, in measurements with a `sensor` tag (levels, alert_event). */
export function sensorWhere(sensor: string): string {
  return `"sensor" = '${sensor}' AND ${STATION}`
}

/** The readings: one point per reading, a field per sensor kind (influx/schema.ts, docs/DATA.md). */
export const READING = `"${READING_MEASUREMENT}"`

/**
 * Sensor values of every kind stored in `range` (an InfluxQL time condition):
 * each kind's count in its own subquery, summed, since a count of a field
 * absent from every point is null and would make a plain sum null.
 */
export function storedValues(range: string): string {
  return `SELECT sum("n") FROM ${SENSOR_KINDS.map((k) => `(SELECT count("${k}") AS "n" FROM ${READING} WHERE ${range})`).join(', ')}`
}

/**
 * Daily buckets aligned on midnight in Cà Mau: InfluxQL groups by UTC days,
 * and the offset moves the boundary to 17:00 UTC = 00:00 ICT (UTC+7, no DST),
 * which needs no tz database on the InfluxDB host.
 */
export const DAY_ICT = 'time(1d, -7h)'

/** Hourly rollups written by the continuous query (influx/retention.ts): fields `salinity_max`, … */
export const LONG_READING = `"long"."${ROLLUP_MEASUREMENT}"`

/** Latest state per alert (station, sensor, level) over all retained history, keeping only those firing. */
export const FIRING_ALERTS = `SELECT last("state") AS "state" FROM "alert_event" GROUP BY "station", "sensor", "level"`
