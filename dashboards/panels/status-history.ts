import { PanelBuilder as StatusHistoryBuilder } from '@grafana/grafana-foundation-sdk/statushistory'
import { FieldColorBuilder, FieldColorModeId } from '@grafana/grafana-foundation-sdk/dashboard'
import { VisibilityMode, type Builder, type Dataquery, type ThresholdsConfigBuilder } from './sdk.ts'
import { withBasics } from './basics.ts'

export interface StatusHistoryOptions {
  title: string
  description: string
  unit: string
  /** One series per row (e.g. per station); each bucket becomes a cell. */
  targets: Builder<Dataquery>[]
  thresholds: ThresholdsConfigBuilder
  interval?: string
}

/** A station x day grid coloured by alert level: the heatmap staff read at a glance. */
export function statusHistoryPanel(o: StatusHistoryOptions): StatusHistoryBuilder {
  const b = withBasics(new StatusHistoryBuilder(), o)
    .decimals(1)
    .thresholds(o.thresholds)
    .colorScheme(new FieldColorBuilder().mode(FieldColorModeId.Thresholds))
    .showValue(VisibilityMode.Auto)
  if (o.interval) b.interval(o.interval)
  return b
}
