import { PanelBuilder as TimeseriesBuilder } from '@grafana/grafana-foundation-sdk/timeseries'
import { neutralThresholds } from '../common.ts'
import {
  GraphDrawStyle,
  GraphThresholdsStyleConfigBuilder,
  GraphThresholdsStyleMode,
  LegendDisplayMode,
  LegendPlacement,
  SortOrder,
  StackingConfigBuilder,
  StackingMode,
  TooltipDisplayMode,
  VizLegendOptionsBuilder,
  VizTooltipOptionsBuilder,
  type Builder,
  type Dataquery,
  type ThresholdsConfigBuilder,
} from './sdk.ts'
import { withBasics } from './basics.ts'

export interface TimeseriesOptions {
  title: string
  description: string
  unit: string
  targets: Builder<Dataquery>[]
  /** Alert levels drawn as coloured bands behind the lines. */
  bands?: ThresholdsConfigBuilder
  /** Minimum $__interval: never group finer than the stations sample (15 min). */
  interval?: string
  bars?: boolean
  stacked?: boolean
  decimals?: number
  min?: number
  /** Series overrides: [matcher, properties] as Grafana's fieldConfig.overrides (e.g. dashed level lines). */
  overrides?: Array<{ byQuery?: string; byRegexp?: string; properties: Array<{ id: string; value: unknown }> }>
}

export function timeseriesPanel(o: TimeseriesOptions): TimeseriesBuilder {
  const b = withBasics(new TimeseriesBuilder(), o)
    .thresholds(o.bands ?? neutralThresholds())
    .thresholdsStyle(
      new GraphThresholdsStyleConfigBuilder().mode(o.bands ? GraphThresholdsStyleMode.LineAndArea : GraphThresholdsStyleMode.Off),
    )
    .drawStyle(o.bars ? GraphDrawStyle.Bars : GraphDrawStyle.Line)
    .fillOpacity(o.bars ? 80 : 10)
    .spanNulls(false)
    .legend(
      new VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(LegendDisplayMode.Table)
        .placement(LegendPlacement.Bottom)
        .calcs(o.bars ? ['sum'] : ['lastNotNull', 'max']),
    )
    .tooltip(new VizTooltipOptionsBuilder().mode(TooltipDisplayMode.Multi).sort(SortOrder.Descending))
  if (o.stacked) b.stacking(new StackingConfigBuilder().mode(StackingMode.Normal))
  if (o.interval) b.interval(o.interval)
  if (o.decimals !== undefined) b.decimals(o.decimals)
  if (o.min !== undefined) b.min(o.min)
  for (const ov of o.overrides ?? []) {
    if (ov.byQuery) b.overrideByQuery(ov.byQuery, ov.properties)
    if (ov.byRegexp) b.overrideByRegexp(ov.byRegexp, ov.properties)
  }
  return b
}
