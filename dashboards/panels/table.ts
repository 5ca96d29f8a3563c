import { PanelBuilder as TableBuilder } from '@grafana/grafana-foundation-sdk/table'
import type { DynamicConfigValue } from '@grafana/grafana-foundation-sdk/dashboard'
import { constant, neutralThresholds } from '../common.ts'
import type { Builder, DataTransformerConfig, Dataquery, ThresholdsConfigBuilder } from './sdk.ts'
import { withBasics } from './basics.ts'

export interface TableColumn {
  /** Field name as the query returns it (the AS alias or a tag key). */
  field: string
  /** Vietnamese header. */
  header: string
  unit?: string
  /** Colours the cell background by these thresholds. */
  thresholds?: ThresholdsConfigBuilder
}

export interface TableOptions {
  title: string
  description: string
  /** Unit of numeric columns without their own. */
  unit: string
  /** Thresholds of those columns; alert levels when the unit is a sensor's. */
  thresholds?: ThresholdsConfigBuilder
  targets: Builder<Dataquery>[]
  columns?: TableColumn[]
  transformations?: DataTransformerConfig[]
  /** Sort by this header, ascending unless desc. */
  sortBy?: { header: string; desc?: boolean }
}

export function tablePanel(o: TableOptions): TableBuilder {
  const b = withBasics(new TableBuilder(), o)
    .thresholds(o.thresholds ?? neutralThresholds())
    .filterable(true)
  for (const col of o.columns ?? []) {
    const props: DynamicConfigValue[] = [{ id: 'displayName', value: col.header }]
    if (col.unit) props.push({ id: 'unit', value: col.unit })
    if (col.thresholds) {
      props.push({ id: 'thresholds', value: col.thresholds.build() })
      props.push({ id: 'color', value: { mode: 'thresholds' } })
      props.push({ id: 'custom.cellOptions', value: { type: 'color-background' } })
    }
    b.overrideByName(col.field, props)
  }
  if (o.transformations) b.transformations(o.transformations)
  if (o.sortBy) b.sortBy([constant({ displayName: o.sortBy.header, desc: o.sortBy.desc ?? false })])
  return b
}
