/**
 * InfluxQL fragments shared by several dashboards. Grafana replaces
 * `$timeFilter`, `$__interval` and `$station` before the text reaches
 * InfluxDB; the schema is docs/DATA.md.
 */

/** Matches one station, several or All: Grafana writes `(a|b)` for multi-value variables. */
export const STATION = `"station" =~ /^$station$/`

/** `reading` values of one sensor kind for the selected stations. */
export function sensorWhere(sensor: string): string {
  return `"sensor" = '${sensor}' AND ${STATION}`
}

/**
 * Daily buckets aligned on midnight in Cà Mau: InfluxQL groups by UTC days,
 * and the offset moves the boundary to 17:00 UTC = 00:00 ICT (UTC+7, no DST),
 * which needs no tz database on the InfluxDB host.
 */
export const DAY_ICT = 'time(1d, -7h)'

/** Hourly rollups written by the continuous query (influx/retention.ts). */
export const LONG_READING = `"long"."reading_1h"`

/** Latest state per alert (station, sensor, level) over all retained history, keeping only those firing. */
export const FIRING_ALERTS = `SELECT last("state") AS "state" FROM "alert_event" GROUP BY "station", "sensor", "level"`
