import type { Builder } from '@grafana/grafana-foundation-sdk/cog'
import type { DataSourceRef } from '@grafana/grafana-foundation-sdk/common'
import {
  DashboardBuilder,
  DashboardCursorSync,
  QueryVariableBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  VariableHide,
  VariableRefresh,
  VariableSort,
  type GridPos,
  type Panel,
  type Threshold,
} from '@grafana/grafana-foundation-sdk/dashboard'
import { InfluxQLQueryBuilder, type InfluxResultFormat } from './influxql.ts'
import type { SensorKind } from '../core/sensors.ts'
import { levelOfValue } from '../levels/rules.ts'
import { DEFAULT_ZONE, zoneRule, type Zone } from '../levels/zones.ts'
import { READING_MEASUREMENT } from '../influx/schema.ts'

/**
 * What every tidewatch dashboard shares: the data source, the alert-level
 * thresholds, the station variable and a grid layout that cannot overlap.
 */

/** Must equal the uid in grafana/provisioning/datasources/tidewatch.yaml. */
export const DATASOURCE_UID = 'tidewatch-influx'
export const DS: DataSourceRef = Object.freeze({ type: 'influxdb', uid: DATASOURCE_UID })

/** Every dashboard carries this tag so push and provisioning can find them. */
export const TAG = 'tidewatch'

/** Wraps a ready value as a builder, for SDK options that only accept builders. */
export function constant<T>(value: T): Builder<T> {
  return { build: () => value }
}

export function target(
  refId: string,
  query: string,
  opts: { format?: InfluxResultFormat; alias?: string } = {},
): InfluxQLQueryBuilder {
  const b = new InfluxQLQueryBuilder(query).refId(refId).datasource(DS).resultFormat(opts.format ?? 'time_series')
  if (opts.alias) b.alias(opts.alias)
  return b
}

export function thresholds(steps: Threshold[]): ThresholdsConfigBuilder {
  return new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps(steps)
}

/**
 * Colour bands for panels that show many stations at once (overview, season).
 * A panel has one set of thresholds, so these are the levels of one zone —
 * the rice zone (levels/zones.ts DEFAULT_ZONE: the strictest farmer rule) —
 * built from its rule, never a copy of the numbers, and every such panel
 * says "rice zone" in its description. Each station's own levels (override,
 * zone, BĐ1–3) are drawn on the station dashboard from the `levels`
 * measurement (levels/influx-levels.ts, levelsTarget below).
 */
export const BAND_ZONE: Zone = DEFAULT_ZONE
const SEVERITY_COLOR = { ok: 'green', warning: 'orange', danger: 'red' } as const

/** The rice zone's levels of a sensor as Grafana threshold steps: each step coloured by the severity just above its edge. */
export function zoneSteps(sensor: SensorKind): Threshold[] {
  // Rice has one season (levels/zones.ts ZONE_SEASONS), so any month gives its rule.
  const rule = zoneRule(BAND_ZONE, sensor, 1)
  const levels = rule?.levels ?? []
  const edges = [...new Set(levels.flatMap((l) => (l.direction === 'outside' ? [l.threshold, l.high!] : [l.threshold])))].sort((x, y) => x - y)
  const colour = (v: number) => SEVERITY_COLOR[levelOfValue(levels, v)?.severity ?? 'ok']
  if (edges.length === 0) return [{ value: null, color: 'blue' }]
  // Grafana colours a value by the last step at or below it; a "below" level fires at its threshold, so the step sits just above.
  const eps = (e: number) => Math.max(Math.abs(e) * 1e-6, 1e-6)
  const steps: Threshold[] = [{ value: null, color: colour(edges[0]! - 1) }]
  edges.forEach((e, i) => {
    const next = edges[i + 1]
    const probe = next === undefined ? e + 1 : (e + next) / 2
    const below = levels.some((l) => (l.direction === 'below' && l.threshold === e) || (l.direction === 'outside' && l.threshold === e))
    steps.push({ value: below ? e + eps(e) : e, color: colour(probe) })
  })
  return steps
}

export const salinityThresholds = (): ThresholdsConfigBuilder => thresholds(zoneSteps('salinity'))

/** Says which zone a panel's colours are for, with the numbers taken from the same steps. */
export function riceBandsNote(sensor: SensorKind, unit: string): string {
  const steps = zoneSteps(sensor).filter((s) => s.value !== null)
  return `colours are the rice zone levels (${steps.map((s) => `${s.color} from ${s.value} ${unit}`).join(', ')}); each station's own levels are drawn on the station dashboard`
}

/**
 * The rice zone's salinity danger level: the 4 ‰ intrusion line of Decision
 * 18/2021/QĐ-TTg (levels/zones.ts), for the season's "days above" count.
 */
export const SALINITY_INTRUSION = zoneRule(BAND_ZONE, 'salinity', 1)!.levels.find((l) => l.severity === 'danger')!.threshold

/** Cellular RSSI: below about -105 dBm uploads start failing, below -95 they get slow. */
export const rssiThresholds = (): ThresholdsConfigBuilder =>
  thresholds([
    { value: null, color: 'red' },
    { value: -105, color: 'orange' },
    { value: -95, color: 'green' },
  ])

/** Plain colour for panels without alert levels (counts, throughput). */
export const neutralThresholds = (): ThresholdsConfigBuilder => thresholds([{ value: null, color: 'blue' }])

// Grafana has no cm, mg/L or ‰ unit ids; "suffix:<text>" is its custom-unit syntax.
export const UNITS = Object.freeze({
  salinity: 'suffix: ‰',
  water_level: 'suffix: cm',
  ph: 'suffix: pH',
  // Nitrite as the ion NO2⁻, not as N (levels/zones.ts NO2_PER_N).
  no2: 'suffix: mg/L NO2⁻',
  temperature: 'celsius',
  conductivity: 'suffix: mS/cm',
  volt: 'volt',
  dBm: 'dBm',
  seconds: 's',
  count: 'short',
  perSecond: 'cps',
  bytes: 'bytes',
  fromNow: 'dateTimeFromNow',
})

export interface StationVariableOptions {
  multi: boolean
}

/**
 * `$station` from the tag values of `station_reading`. Queries always use the regex
 * form `"station" =~ /^$station$/` so one query text serves a single station,
 * several, or "All" (Grafana then substitutes `(a|b|c)`).
 */
export function stationVariable(opts: StationVariableOptions): QueryVariableBuilder {
  const query = `SHOW TAG VALUES FROM "${READING_MEASUREMENT}" WITH KEY = "station"`
  return new QueryVariableBuilder('station')
    .label('Trạm')
    .description('Station id (tag "station" of the station_reading measurement)')
    .datasource(DS)
    .query(query)
    .definition(query)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.NaturalAsc)
    .multi(opts.multi)
    .includeAll(opts.multi)
    .hide(VariableHide.DontHide)
}

export interface DashboardSpec {
  uid: string
  title: string
  description: string
  /** Grafana relative time, e.g. `now-24h`. */
  from: string
  refresh?: string
}

export function baseDashboard(spec: DashboardSpec): DashboardBuilder {
  return new DashboardBuilder(spec.title)
    .uid(spec.uid)
    .description(spec.description)
    .tags([TAG])
    // The province works in ICT (UTC+7, no DST); staff also open dashboards from
    // laptops set to other zones, so pin it rather than follow the browser.
    .timezone('Asia/Ho_Chi_Minh')
    .time({ from: spec.from, to: 'now' })
    .refresh(spec.refresh ?? '1m')
    .tooltip(DashboardCursorSync.Crosshair)
    .readonly()
}

export const GRID_WIDTH = 24

/** Anything the SDK can place on the grid. */
export interface Placeable extends Builder<Panel> {
  gridPos(gridPos: GridPos): unknown
  id(id: number): unknown
}

/**
 * Places panels row by row so positions are explicit and cannot overlap. The
 * SDK's own auto-layout lets a panel run past column 24 instead of wrapping.
 */
export class Layout {
  private y = 0
  readonly panels: Placeable[] = []

  row(h: number, ...cells: Array<[Placeable, number]>): this {
    let x = 0
    for (const [panel, w] of cells) {
      if (x + w > GRID_WIDTH) throw new Error(`layout row at y=${this.y} is wider than ${GRID_WIDTH}`)
      panel.gridPos({ x, y: this.y, w, h })
      // Stable ids in reading order: Grafana keys panel state and links (viewPanel=) on them.
      panel.id(this.panels.length + 1)
      this.panels.push(panel)
      x += w
    }
    this.y += h
    return this
  }

  addTo(dashboard: DashboardBuilder): DashboardBuilder {
    for (const p of this.panels) dashboard.withPanel(p)
    return dashboard
  }
}
