import { RuleBook } from '../../levels/book.ts'
import type { SensorRule } from '../../levels/rules.ts'
import { shownLevel, type AlertStateReader, type ShownLevel } from '../../levels/status.ts'
import { TidewatchError } from '../../core/errors.ts'
import { SENSORS, SENSOR_KINDS, isSensorKind, type SensorKind } from '../../core/sensors.ts'
import type { Registry, Station } from '../../devices/registry.ts'
import { quoteString, type InfluxQueryClient } from '../../influx/query.ts'
import { READING_MEASUREMENT, queryPerSensor, sensorsOrAll } from '../../influx/schema.ts'
import { localGroupByTime } from '../../core/local-time.ts'

/**
 * Read-side queries shared by the public board and open data v1. Both are
 * public, so both see only enabled stations and only stored (never
 * quarantined) values. Levels come from the rules in force for each station
 * (levels/book.ts: station override, zone, built-in) and, while the alerter
 * runs, from its state (levels/status.ts): no second copy of any number.
 */

/** Viet Nam has kept UTC+07:00 without daylight saving since 1975, so a fixed offset is exact. */
export const LOCAL_TZ = 'Asia/Ho_Chi_Minh'
export const LOCAL_OFFSET_MS = 7 * 3_600_000
/** InfluxQL GROUP BY offset that puts 1d buckets on local midnight (17:00Z). */
export const LOCAL_DAY_OFFSET = '-7h'

/** "Latest" means within this window: older values are no longer news for a farmer. */
export const LATEST_WINDOW_MS = 30 * 86_400_000

/** What a page shows for a level: the colour of the badge, or no value at all. */
export type SalinityLevel = 'ok' | 'warning' | 'danger'

/** The rules in force for a station's sensor (a RuleBook; levels/book.ts). */
export interface RuleLookup {
  get(stationId: string, sensor: string): SensorRule | null
  /** RuleBook: check SQLite for other writers once, then resolve from memory (get() checks on every call). */
  sync?(): void
  resolve?(stationId: string, sensor: string): SensorRule | null
}

/** Where the public pages get their levels from: passed in by the platform (platform/platform.ts). */
export interface LevelSources {
  rules: RuleLookup
  /** The alerter's state, read-only; absent when the alerter is off. */
  alertStates?: AlertStateReader
}

// One RuleBook per registry when none was passed (an API built without the platform, e.g. in tests):
// two books on one SQLite connection would not see each other's writes.
const ownBooks = new WeakMap<Registry, RuleBook>()

export function levelSources(deps: { registry: Registry; rules?: RuleLookup; alertStates?: AlertStateReader }): LevelSources {
  let rules = deps.rules
  if (!rules) {
    rules = ownBooks.get(deps.registry) ?? new RuleBook(deps.registry.db, deps.registry)
    ownBooks.set(deps.registry, rules as RuleBook)
  }
  // One page asks for hundreds of rules: one SQLite check per request, not per rule.
  const book = rules
  if (book.sync && book.resolve) {
    book.sync()
    return { rules: { get: (id, sensor) => book.resolve!(id, sensor) }, alertStates: deps.alertStates }
  }
  return { rules, alertStates: deps.alertStates }
}

export type ShownByStation = Map<string, Partial<Record<SensorKind, ShownLevel>>>

/** The level shown for each sensor of each station, from its rule, its latest value and the alert state. */
export function shownLevels(src: LevelSources, stations: ReadonlyArray<Pick<Station, 'id'>>, latest: LatestByStation, sensors: readonly SensorKind[], onlyStation?: string): ShownByStation {
  const states = src.alertStates?.(onlyStation)
  const out: ShownByStation = new Map()
  for (const s of stations) {
    const entry: Partial<Record<SensorKind, ShownLevel>> = {}
    for (const k of sensors) {
      const shown = shownLevel(src.rules.get(s.id, k), latest.get(s.id)?.[k], states?.get(s.id)?.get(k))
      if (shown) entry[k] = shown
    }
    out.set(s.id, entry)
  }
  return out
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

/**
 * The sensors a station's page and open data show, in catalog order: those it
 * carries, salinity when it carries conductivity and temperature (the ingest
 * derives it with PSS-78, ingest/parse/validate.ts), and any kind it has a
 * stored value for.
 */
export function shownKinds(station: Pick<Station, 'sensors'>, latest?: Partial<Record<SensorKind, unknown>>): SensorKind[] {
  const has = new Set<SensorKind>(station.sensors.map((x) => x.kind))
  if (has.has('conductivity') && has.has('temperature')) has.add('salinity')
  for (const k of Object.keys(latest ?? {})) if (isSensorKind(k)) has.add(k)
  return SENSOR_KINDS.filter((k) => has.has(k))
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
  const series = await queryPerSensor(query, sensorsOrAll(sensors), (k) => `SELECT last("${k}") AS "value" FROM "${READING_MEASUREMENT}" WHERE ${where.join(' AND ')} GROUP BY "station"`)
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

/** Hourly means (or means per `every`, on local boundaries) in [from, to), grouped by station and sensor. */
export async function hourlyMeans(
  query: InfluxQueryClient,
  opts: { from: number; to: number; stationId?: string; sensors?: readonly SensorKind[]; every?: { text: string; ms: number } },
): Promise<HourlySeries[]> {
  const where = [`time >= ${opts.from}ms`, `time < ${opts.to}ms`]
  if (opts.stationId) where.push(`"station" = ${quoteString(opts.stationId)}`)
  const every = opts.every ? localGroupByTime(opts.every.text, opts.every.ms) : 'time(1h)'
  const series = await queryPerSensor(
    query,
    sensorsOrAll(opts.sensors),
    (k) => `SELECT mean("${k}") FROM "${READING_MEASUREMENT}" WHERE ${where.join(' AND ')} GROUP BY ${every}, "station" fill(none)`,
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

/**
 * The unit as the public pages and open data state it, with the basis where
 * the catalog names one (core/sensors.ts): nitrite is reported as mg/L of
 * NO2⁻, not as N (levels/zones.ts NO2_PER_N), and the same water as N reads
 * 3.3 times smaller, so the basis is always said: "mg/L NO2⁻".
 */
export function unitOf(sensor: SensorKind): string {
  const spec = SENSORS[sensor]
  return spec.basis ? `${spec.unit} ${spec.basis}` : spec.unit
}
