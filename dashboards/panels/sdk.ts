/** SDK names the panel factories share, re-exported so each factory imports from one place. */
export type { Builder, Dataquery } from '@grafana/grafana-foundation-sdk/cog'
export {
  BigValueColorMode,
  BigValueGraphMode,
  GraphDrawStyle,
  GraphThresholdsStyleConfigBuilder,
  GraphThresholdsStyleMode,
  LegendDisplayMode,
  LegendPlacement,
  SortOrder,
  StackingConfigBuilder,
  StackingMode,
  TooltipDisplayMode,
  VisibilityMode,
  VizLegendOptionsBuilder,
  VizTooltipOptionsBuilder,
} from '@grafana/grafana-foundation-sdk/common'
export type { DataTransformerConfig, ThresholdsConfigBuilder } from '@grafana/grafana-foundation-sdk/dashboard'
