import type { Level } from '../../levels/rules.ts'
import { DEFAULT_ZONE, zoneRule } from '../../levels/zones.ts'
import { TidewatchError } from '../../core/errors.ts'
import { SENSORS, isSensorKind, type SensorKind } from '../../core/sensors.ts'
import type { Station } from '../../devices/registry.ts'
import { quoteString, type InfluxQueryClient } from '../../influx/query.ts'

/**
 * Read-side queries shared by the public board and open data v1. Both are
 * public, so both see only enabled stations and only stored (never
 * quarantined) values. Thresholds come from the built-in DEFAULT_RULES, the
 * published levels; per-station overrides are a staff matter.
 */

/** Viet Nam has kept UTC+07:00 without daylight saving since 1975, so a fixed offset is exact. */
export const LOCAL_TZ = 'Asia/Ho_Chi_Minh'
export const LOCAL_OFFSET_MS = 7 * 3_600_000
/** InfluxQL GROUP BY offset that puts 1d buckets on local midnight (17:00Z). */
export const LOCAL_DAY_OFFSET = '-7h'

/** "Latest" means within this window: older values are no longer news for a farmer. */
export const LATEST_WINDOW_MS = 30 * 86_400_000

export type SalinityLevel = 'ok' | 'warning' | 'danger'

const salinityLevels = zoneRule(DEFAULT_ZONE, 'salinity', 1)?.levels ?? []
/** Published salinity thresholds in ‰ (2 ‰ warning, 4 ‰ danger: alerts/rules.ts). */
export const SALINITY_THRESHOLDS = Object.freeze({
  warning: salinityLevels.find((l) => l.name === 'warning')?.threshold ?? 2,
  danger: salinityLevels.find((l) => l.name === 'danger')?.threshold ?? 4,
})

/** Level of one salinity value, without hysteresis: the board shows the value, not the alert state. */
export function salinityLevel(value: number): SalinityLevel {
  if (value >= SALINITY_THRESHOLDS.danger) return 'danger'
  if (value >= SALINITY_THRESHOLDS.warning) return 'warning'
  return 'ok'
}

/** The published levels of a sensor (may be empty, e.g. water level: BĐ1–3 are per station). */
export function levelsOf(sensor: SensorKind): readonly Level[] {
  return zoneRule(DEFAULT_ZONE, sensor, 1)?.levels ?? []
}

export function isBeyond(level: Pick<Level, 'direction' | 'threshold'>, value: number): boolean {
  return level.direction === 'above' ? value >= level.threshold : value <= level.threshold
}

export interface LatestValue {
  value: number
  ts: number
}

export type LatestByStation = Map<string, Partial<Record<SensorKind, LatestValue>>>

export interface HourlySeries {
  station: string
  sensor: SensorKind
  /** [hour start ms, mean] in time order; hours without data are absent. */
  points: Array<[number, number]>
}

export function publicStations(stations: readonly Station[]): Station[] {
  return stations.filter((s) => s.enabled)
}

export function requirePublicStation(station: Station | undefined, id: string): Station {
  if (!station || !station.enabled) throw new TidewatchError('STATION_NOT_FOUND', { id })
  return station
}

export function requireQuery(query: InfluxQueryClient | undefined): InfluxQueryClient {
  if (!query) throw new TidewatchError('INFLUX_UNAVAILABLE', {}, 'no InfluxDB target configured')
  return query
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null
}

/** First look this far back for the latest values; most stations report every 15 min. */
export const LATEST_RECENT_MS = 2 * 86_400_000
/** Above this many stations still missing a value, the wide query is not filtered by station. */
const MAX_STATION_FILTER = 50

async function lastWithin(query: InfluxQueryClient, since: number, stationIds: readonly string[] | null, sensors: readonly SensorKind[] | undefined, into: LatestByStation): Promise<void> {
  const where = [`time >= ${since}ms`]
  if (stationIds) where.push(`(${stationIds.map((id) => `"station" = ${quoteString(id)}`).join(' OR ')})`)
  if (sensors?.length) where.push(`(${sensors.map((k) => `"sensor" = ${quoteString(k)}`).join(' OR ')})`)
  const [series = []] = await query.query(`SELECT last("value") AS "value" FROM "reading" WHERE ${where.join(' AND ')} GROUP BY "station", "sensor"`)
  for (const s of series) {
    const station = s.tags?.station
    const sensor = s.tags?.sensor ?? ''
    const row = s.values[0]
    const value = num(row?.[1])
    if (!station || !isSensorKind(sensor) || !row || value === null) continue
    const entry = into.get(station) ?? {}
    if (!entry[sensor]) entry[sensor] = { value, ts: row[0] as number }
    into.set(station, entry)
  }
}

/**
 * Latest value of each sensor of the given stations within LATEST_WINDOW_MS.
 * last() scans every point in the window, so the recent two days are asked
 * first and only stations still missing a value are looked up further back.
 * last() orders by device time: a backlog arriving after an outage never
 * replaces a newer value.
 */
export async function latestValues(
  query: InfluxQueryClient,
  now: number,
  stations: ReadonlyArray<Pick<Station, 'id' | 'sensors'>>,
  sensors?: readonly SensorKind[],
): Promise<LatestByStation> {
  const out: LatestByStation = new Map()
  if (stations.length === 0) return out
  const ids = stations.map((s) => s.id)
  await lastWithin(query, now - LATEST_RECENT_MS, ids.length <= MAX_STATION_FILTER ? ids : null, sensors, out)
  const missing = stations
    .filter((s) => s.sensors.some((x) => (!sensors || sensors.includes(x.kind)) && !out.get(s.id)?.[x.kind]))
    .map((s) => s.id)
  if (missing.length > 0) await lastWithin(query, now - LATEST_WINDOW_MS, missing.length <= MAX_STATION_FILTER ? missing : null, sensors, out)
  return out
}

/** Hourly means in [from, to), grouped by station and sensor. */
export async function hourlyMeans(
  query: InfluxQueryClient,
  opts: { from: number; to: number; stationId?: string; sensors?: readonly SensorKind[] },
): Promise<HourlySeries[]> {
  const where = [`time >= ${opts.from}ms`, `time < ${opts.to}ms`]
  if (opts.stationId) where.push(`"station" = ${quoteString(opts.stationId)}`)
  if (opts.sensors?.length) where.push(`(${opts.sensors.map((k) => `"sensor" = ${quoteString(k)}`).join(' OR ')})`)
  const [series = []] = await query.query(
    `SELECT mean("value") FROM "reading" WHERE ${where.join(' AND ')} GROUP BY time(1h), "station", "sensor" fill(none)`,
  )
  const out: HourlySeries[] = []
  for (const s of series) {
    const station = s.tags?.station
    const sensor = s.tags?.sensor ?? ''
    if (!station || !isSensorKind(sensor)) continue
    const points: Array<[number, number]> = []
    for (const row of s.values) {
      const mean = num(row[1])
      if (mean !== null) points.push([row[0] as number, mean])
    }
    out.push({ station, sensor, points })
  }
  return out
}

/** Local (UTC+7) calendar date of an instant, YYYY-MM-DD. */
export function localDate(ts: number): string {
  return new Date(ts + LOCAL_OFFSET_MS).toISOString().slice(0, 10)
}

/** The instant a local date (YYYY-MM-DD) starts. */
export function localDayStart(date: string): number {
  return Date.parse(`${date}T00:00:00+07:00`)
}

export function unitOf(sensor: SensorKind): string {
  return SENSORS[sensor].unit
}
