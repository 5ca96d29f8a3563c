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

// Alert levels. Salinity: farmers are told not to take water for rice above
// 2 ‰, and Decision 18/2021/QĐ-TTg defines intrusion by the 4 ‰ line.
export const SALINITY_WARNING = 2
export const SALINITY_DANGER = 4
// pH outside 6.5–8.5 harms shrimp and rice (acid-sulfate soils push it down).
export const PH_LOW = 6.5
export const PH_HIGH = 8.5
// Nitrite: ~1 mg/L is the usual general limit for aquaculture.
export const NO2_DANGER = 1

export const salinityThresholds = (): ThresholdsConfigBuilder =>
  thresholds([
    { value: null, color: 'green' },
    { value: SALINITY_WARNING, color: 'orange' },
    { value: SALINITY_DANGER, color: 'red' },
  ])

export const phThresholds = (): ThresholdsConfigBuilder =>
  thresholds([
    { value: null, color: 'red' },
    { value: PH_LOW, color: 'green' },
    { value: PH_HIGH, color: 'red' },
  ])

export const no2Thresholds = (): ThresholdsConfigBuilder =>
  thresholds([
    { value: null, color: 'green' },
    { value: NO2_DANGER, color: 'red' },
  ])

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
  no2: 'suffix: mg/L',
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
 * `$station` from the tag values of `reading`. Queries always use the regex
 * form `"station" =~ /^$station$/` so one query text serves a single station,
 * several, or "All" (Grafana then substitutes `(a|b|c)`).
 */
export function stationVariable(opts: StationVariableOptions): QueryVariableBuilder {
  const query = 'SHOW TAG VALUES FROM "reading" WITH KEY = "station"'
  return new QueryVariableBuilder('station')
    .label('Trạm')
    .description('Station id (tag "station" of the reading measurement)')
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
