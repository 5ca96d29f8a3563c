import { PanelBuilder as StatBuilder } from '@grafana/grafana-foundation-sdk/stat'
import { BigValueColorMode, BigValueGraphMode, type Builder, type Dataquery, type ThresholdsConfigBuilder } from './sdk.ts'
import { constant, neutralThresholds } from '../common.ts'
import { withBasics } from './basics.ts'

export interface StatOptions {
  title: string
  description: string
  unit: string
  targets: Builder<Dataquery>[]
  thresholds?: ThresholdsConfigBuilder
  decimals?: number
  /** Show the time of the value instead of the value ("last seen"). */
  showTime?: boolean
  noValue?: string
  /** Minimum $__interval for the panel's queries (Grafana "Min interval"). */
  interval?: string
}

/** A single big number coloured by its thresholds, e.g. the latest salinity. */
export function statPanel(o: StatOptions): StatBuilder {
  const b = withBasics(new StatBuilder(), o)
    .thresholds(o.thresholds ?? neutralThresholds())
    .colorMode(BigValueColorMode.Background)
    .graphMode(o.showTime ? BigValueGraphMode.None : BigValueGraphMode.Area)
    .reduceOptions(
      constant({
        calcs: ['lastNotNull'],
        values: false,
        // Grafana's stat panel can show a frame's Time field; that is how
        // "last seen" is shown without computing ages in InfluxQL.
        fields: o.showTime ? '/^Time$/' : '',
      }),
    )
  if (o.decimals !== undefined) b.decimals(o.decimals)
  if (o.noValue !== undefined) b.noValue(o.noValue)
  if (o.interval) b.interval(o.interval)
  return b
}
