import type { Registry, Station } from '../../devices/registry.ts'
import type { InfluxQueryClient } from '../../influx/query.ts'
import { READING_MEASUREMENT } from '../../influx/schema.ts'
import { parseScope, type RuleBook } from '../../levels/book.ts'
import { levelRank, targetLevel, type SensorRule } from '../../levels/rules.ts'

/**
 * "With these levels, the last 30 days would have raised N alerts at these
 * stations": the stored readings of the stations a rule applies to, replayed
 * through levels/rules.ts targetLevel with hysteresis, exactly as the alerter
 * judges a value.
 *
 * Simplifications, shown to staff next to the number:
 * - hourly means, not every reading: one bounded query (≤ 720 points per
 *   station) that an office PC waits for in well under a second; a spike
 *   shorter than an hour is smoothed away, so the count is a lower bound;
 * - the pending count (2 readings by default, ~30 min at 15-min sampling) is
 *   shorter than one hourly step, so every hour past a level counts at once;
 * - rise/change rules are not replayed (they need every reading in their window).
 * An alert is a level fired or escalated: what sends SMS.
 */
export const PREVIEW_DAYS = 30
/** At most this many stations per preview: bounds the query to 200 × 720 = 144,000 points. */
export const PREVIEW_MAX_STATIONS = 200

export interface PreviewRow {
  station: Station
  /** Alerts with the proposed levels. */
  alerts: number
  /** Alerts with the levels in force now, for comparison. */
  current: number
  hours: number
}

export interface Preview {
  rows: PreviewRow[]
  total: number
  currentTotal: number
  /** Stations the rule applies to but left out (past PREVIEW_MAX_STATIONS). */
  omitted: number
  from: number
  to: number
}

/** The stations a rule of this scope would govern: those not overridden by a narrower rule. */
export function governedStations(registry: Registry, rules: RuleBook, scope: string, sensor: string): Station[] {
  const s = parseScope(scope)
  return registry.list().filter((st) => {
    if (s.kind === 'station') return st.id === s.station
    const source = rules.explain(st.id, sensor)?.source
    if (s.kind === 'zone') return st.zone === s.zone && source !== 'station'
    return source === 'default' || source === 'built_in' || source === undefined
  })
}

/** Alerts a sequence of values would raise under a rule (levels only, hysteresis included). */
export function countAlerts(rule: SensorRule | null, values: readonly number[]): number {
  if (!rule || !rule.enabled || rule.levels.length === 0) return 0
  let firing: string | null = null
  let n = 0
  for (const v of values) {
    const t = targetLevel(rule.levels, v, firing)
    if (t && levelRank(rule.levels, t.name) > levelRank(rule.levels, firing)) n++
    firing = t?.name ?? null
  }
  return n
}

export async function previewAlerts(o: { registry: Registry; rules: RuleBook; query: InfluxQueryClient; scope: string; sensor: string; rule: SensorRule; now: number }): Promise<Preview> {
  const all = governedStations(o.registry, o.rules, o.scope, o.sensor)
  const stations = all.slice(0, PREVIEW_MAX_STATIONS)
  const to = o.now
  const from = to - PREVIEW_DAYS * 86_400_000
  const series = new Map<string, number[]>()
  if (stations.length) {
    // Station ids match ^[A-Za-z0-9_-]{1,64}$ (core/protocol.ts), so they are safe inside a regex literal.
    const ids = stations.map((s) => s.id).join('|')
    const sensor = o.sensor.replace(/[^a-z0-9_]/g, '')
    const [res = []] = await o.query.query(
      `SELECT mean("${sensor}") AS "v" FROM "${READING_MEASUREMENT}" WHERE "station" =~ /^(${ids})$/ AND time >= ${from}ms AND time < ${to}ms GROUP BY time(1h), "station" fill(none)`,
    )
    for (const s of res) {
      const id = s.tags?.station
      if (id) series.set(id, s.values.map((r) => r[1] as number).filter((v) => typeof v === 'number'))
    }
  }
  const rows = stations.map((station) => {
    const values = series.get(station.id) ?? []
    return { station, alerts: countAlerts(o.rule, values), current: countAlerts(o.rules.get(station.id, o.sensor), values), hours: values.length }
  })
  return { rows, total: rows.reduce((a, r) => a + r.alerts, 0), currentTotal: rows.reduce((a, r) => a + r.current, 0), omitted: all.length - stations.length, from, to }
}
