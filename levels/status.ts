import type Database from 'better-sqlite3'
import { levelOfValue, riseLevel, targetLevel, type Level, type SensorRule } from './rules.ts'

/**
 * The level a public page shows for a station's sensor: the board, the
 * station pages and the open data ask here, with the rule in force from
 * levels/book.ts, so they agree with the alerter and with each other.
 *
 * With the alerter running, what is shown follows its state: a firing level
 * is held until the alerter resolves it (the same hysteresis that decides the
 * SMS), and it is gone at the moment the incident resolves. A value past a
 * level that has not fired yet (pending) shows the value's level: the board
 * shows the water, the SMS waits for confirmation. Without the alerter, the
 * level of the latest value (levelOfValue, no hysteresis).
 */

/** What the alerter decided for one station's sensor (alert_states, alerts/store.ts), read-only. */
export interface SensorAlertState {
  /** The firing level of the level ladder, or null. */
  firing: string | null
  /** The firing level of the rise ladder ('rise' or 'change'), or null. */
  riseFiring: string | null
  /** The last value the alerter judged, and its device time. */
  value: number | null
  readingTs: number | null
}

/** station id → sensor → state. */
export type AlertStateSnapshot = ReadonlyMap<string, ReadonlyMap<string, SensorAlertState>>

/** The small read interface the API receives instead of the alerter's internals. */
export type AlertStateReader = (stationId?: string) => AlertStateSnapshot

/**
 * Reads alert_states directly: a committed row is what the alerter decided,
 * and the engine writes one on every decision (firing, resolved, pending).
 */
export function alertStateReader(db: Database.Database): AlertStateReader {
  const exists = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alert_states'`).pluck()
  let all: Database.Statement | undefined
  let one: Database.Statement | undefined
  return (stationId) => {
    const out = new Map<string, Map<string, SensorAlertState>>()
    if (!exists.get()) return out
    all ??= db.prepare(`SELECT station, sensor, ladder, status, level, value, reading_ts FROM alert_states WHERE ladder IN ('level', 'rise')`)
    one ??= db.prepare(`SELECT station, sensor, ladder, status, level, value, reading_ts FROM alert_states WHERE ladder IN ('level', 'rise') AND station = ?`)
    const rows = (stationId === undefined ? all.all() : one.all(stationId)) as Array<{
      station: string
      sensor: string
      ladder: string
      status: string
      level: string | null
      value: number | null
      reading_ts: number | null
    }>
    for (const r of rows) {
      const byStation = out.get(r.station) ?? new Map<string, SensorAlertState>()
      out.set(r.station, byStation)
      const s = byStation.get(r.sensor) ?? { firing: null, riseFiring: null, value: null, readingTs: null }
      byStation.set(r.sensor, s)
      const firing = r.status === 'firing' ? r.level : null
      if (r.ladder === 'rise') {
        s.riseFiring = firing
      } else {
        s.firing = firing
        s.value = r.value
        s.readingTs = r.reading_ts
      }
    }
    return out
  }
}

export type Shown = 'ok' | 'warning' | 'danger'

export interface ShownLevel {
  /** The level shown, or null when the value is past none. */
  level: Level | null
  /** ok, warning or danger: the colour. */
  status: Shown
  /** A firing rise/change level, shown next to the level. */
  rise: Level | null
  /** The value the level was judged on, and its device time. */
  value: number
  ts: number
}

/**
 * The level to show for one sensor, or null when there is no value.
 * `latest` is the newest stored value; the alerter's state may have judged a
 * newer one that InfluxDB has not answered with yet, and then that one counts,
 * so a resolved incident never shows danger from an older stored value.
 */
export function shownLevel(rule: SensorRule | null, latest: { value: number; ts: number } | undefined, state: SensorAlertState | undefined): ShownLevel | null {
  let value = latest?.value
  let ts = latest?.ts
  if (state && state.value !== null && state.readingTs !== null && (ts === undefined || state.readingTs > ts)) {
    value = state.value
    ts = state.readingTs
  }
  if (value === undefined || ts === undefined) return null
  const levels = rule?.enabled === false ? [] : (rule?.levels ?? [])
  // A firing level the rule no longer has (the rule changed) holds nothing: the engine closes it on the next reading.
  const level = state ? targetLevel(levels, value, state.firing) : levelOfValue(levels, value)
  const rise = state?.riseFiring && rule?.rise && rule.enabled !== false ? riseLevel(rule.rise) : null
  const risen = rise && rise.name === state!.riseFiring ? rise : null
  const rank = (s: Shown) => (s === 'danger' ? 2 : s === 'warning' ? 1 : 0)
  let status: Shown = level ? level.severity : 'ok'
  if (risen && rank(risen.severity) > rank(status)) status = risen.severity
  return { level, status, rise: risen, value, ts }
}

/** The lines a chart draws for a rule: one per above/below level, both edges of an outside band. */
export function levelLines(rule: SensorRule | null): Array<{ level: Level; value: number; edge: 'low' | 'high' | 'limit' }> {
  if (!rule || rule.enabled === false) return []
  const out: Array<{ level: Level; value: number; edge: 'low' | 'high' | 'limit' }> = []
  for (const l of rule.levels) {
    if (l.direction === 'outside') {
      out.push({ level: l, value: l.threshold, edge: 'low' }, { level: l, value: l.high!, edge: 'high' })
    } else {
      out.push({ level: l, value: l.threshold, edge: 'limit' })
    }
  }
  return out
}

/**
 * Hours at each severity from hourly means, judged by the rule in force
 * (levelOfValue): one stray spike does not make an hour.
 */
export function severityOfValue(rule: SensorRule | null, value: number): Shown {
  const l = rule && rule.enabled !== false ? levelOfValue(rule.levels, value) : null
  return l ? l.severity : 'ok'
}
