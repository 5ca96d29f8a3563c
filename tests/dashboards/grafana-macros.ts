/**
 * Grafana's expansion of an InfluxQL raw query, reimplemented for tests
 * because Grafana cannot be installed here. Sources (Grafana 10–12):
 * - template variables: public/app/features/templating/template_srv.ts (the
 *   variable regex) and influxdb/datasource.ts `interpolateQueryExpr`
 *   (multi-value and All become `(a|b)` of regex-escaped values);
 * - `$__interval`: @grafana/data rangeutil.calculateInterval + roundInterval +
 *   secondsToHms, bounded below by the panel's `interval` (Min interval);
 * - `$timeFilter`: pkg/tsdb/influxdb/influxql `renderTimeFilter`,
 *   `time >= <from>ms and time <= <to>ms`.
 * `$tag_*` are alias patterns Grafana applies to series names, never to the query.
 */

export interface TimeRange {
  from: number
  to: number
}

export interface VariableValue {
  /** A single value, or the selected values of a multi-value variable ("All" = every option). */
  value: string | string[]
  multi: boolean
  includeAll: boolean
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 }

export function intervalToMs(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d|w|y)$/.exec(text.trim().replace(/^>/, ''))
  if (!m) throw new Error(`bad interval ${text}`)
  return Number(m[1]) * UNIT_MS[m[2]!]!
}

/** `now`, `now-24h`, `now-180d`, as in the dashboard's time settings. */
export function parseRelative(expr: string, now: number): number {
  if (expr === 'now') return now
  const m = /^now-(\d+)(s|m|h|d|w|y)$/.exec(expr)
  if (!m) throw new Error(`unsupported relative time ${expr}`)
  return now - Number(m[1]) * UNIT_MS[m[2]!]!
}

// @grafana/data rangeutil.roundInterval: [upper bound exclusive, result].
const ROUND: Array<[number, number]> = [
  [15, 10],
  [35, 20],
  [75, 50],
  [150, 100],
  [350, 200],
  [750, 500],
  [1500, 1000],
  [3500, 2000],
  [7500, 5000],
  [12500, 10000],
  [17500, 15000],
  [25000, 20000],
  [45000, 30000],
  [90000, 60000],
  [210000, 120000],
  [450000, 300000],
  [750000, 600000],
  [1050000, 900000],
  [1500000, 1200000],
  [2700000, 1800000],
  [5400000, 3600000],
  [9000000, 7200000],
  [16200000, 10800000],
  [24300000, 21600000],
  [64800000, 43200000],
  [129600000, 86400000],
  [604800000, 86400000],
  [1814400000, 604800000],
  [3628800000, 2592000000],
]

export function roundInterval(ms: number): number {
  if (ms <= 10) return 1
  for (const [limit, value] of ROUND) if (ms < limit) return value
  return 31536000000
}

/** rangeutil.secondsToHms: the largest whole unit only (90 s -> "1m"). */
export function secondsToHms(seconds: number): string {
  const units: Array<[number, string]> = [
    [31536000, 'y'],
    [86400, 'd'],
    [3600, 'h'],
    [60, 'm'],
    [1, 's'],
  ]
  for (const [size, unit] of units) {
    const n = Math.floor(seconds / size)
    if (n > 0) return `${n}${unit}`
  }
  const ms = Math.floor(seconds * 1000)
  return ms > 0 ? `${ms}ms` : 'less than a millisecond'
}

export function calculateInterval(range: TimeRange, resolution: number, minInterval?: string): { ms: number; text: string } {
  const lowLimit = minInterval ? intervalToMs(minInterval) : 1
  let ms = roundInterval((range.to - range.from) / resolution)
  if (lowLimit > ms) ms = lowLimit
  return { ms, text: secondsToHms(ms / 1000) }
}

/** lodash escapeRegExp plus `/`, as Grafana's escapeRegex (the InfluxQL regex delimiter). */
export function escapeRegex(value: string): string {
  return value.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&')
}

function formatValue(v: VariableValue): string {
  if (!v.multi && !v.includeAll) return Array.isArray(v.value) ? v.value.join(',') : v.value
  const values = (Array.isArray(v.value) ? v.value : [v.value]).map(escapeRegex)
  return values.length === 1 ? values[0]! : `(${values.join('|')})`
}

// template_srv.ts: $var, [[var]] / [[var:fmt]], ${var} / ${var.path} / ${var:fmt}
const VARIABLE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\${(\w+)(?:\.([^:^}]+))?(?::([^}]+))?}/g

export function interpolateVariables(query: string, vars: Record<string, VariableValue>): string {
  return query.replace(VARIABLE, (match, v1?: string, v2?: string, _f2?: string, v3?: string) => {
    const name = v1 ?? v2 ?? v3
    const value = name ? vars[name] : undefined
    // Unknown names ($timeFilter, $__interval, $tag_station) are left for the next stage.
    return value ? formatValue(value) : match
  })
}

export interface ExpandOptions {
  range: TimeRange
  vars: Record<string, VariableValue>
  /** Panel width in pixels, Grafana's default maxDataPoints. */
  resolution: number
  /** The panel's Min interval. */
  minInterval?: string
}

export function expandQuery(query: string, o: ExpandOptions): string {
  const interval = calculateInterval(o.range, o.resolution, o.minInterval)
  let q = interpolateVariables(query, o.vars)
  q = q.replaceAll('$timeFilter', `time >= ${Math.floor(o.range.from)}ms and time <= ${Math.floor(o.range.to)}ms`)
  q = q.replaceAll('$__interval_ms', String(interval.ms))
  q = q.replaceAll('$__interval', interval.text)
  q = q.replaceAll('$interval', interval.text)
  return q
}
