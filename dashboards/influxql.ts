import type { Builder, Dataquery } from '@grafana/grafana-foundation-sdk/cog'
import type { DataSourceRef } from '@grafana/grafana-foundation-sdk/common'

/**
 * An InfluxQL target as Grafana's InfluxDB data source stores it (raw mode).
 * The foundation SDK ships no InfluxDB query type, so this follows the SDK's
 * `examples/typescript/custom-query`: a plain object that declares itself a
 * Dataquery variant, built by a small fluent builder.
 *
 * Field names are those of Grafana's `InfluxQuery` (public/app/plugins/
 * datasource/influxdb/types.ts); the annotation fields are the ones its
 * annotation editor writes.
 */
export type InfluxResultFormat = 'time_series' | 'table' | 'logs'

export interface InfluxQLQuery {
  refId?: string
  hide?: boolean
  datasource?: DataSourceRef
  /** The InfluxQL text with Grafana macros ($timeFilter, $__interval, $var). */
  query: string
  /** Always true here: raw InfluxQL, not the visual query editor's model. */
  rawQuery: boolean
  resultFormat: InfluxResultFormat
  /** Series name pattern, e.g. `$tag_station`; Grafana expands it, not InfluxDB. */
  alias?: string
  // Annotation queries only.
  fromAnnotations?: boolean
  textEditor?: boolean
  textColumn?: string
  tagsColumn?: string
  titleColumn?: string
  _implementsDataqueryVariant(): void
}

export class InfluxQLQueryBuilder implements Builder<Dataquery> {
  private readonly internal: InfluxQLQuery

  constructor(query = '') {
    this.internal = { query, rawQuery: true, resultFormat: 'time_series', _implementsDataqueryVariant() {} }
  }

  build(): InfluxQLQuery {
    return this.internal
  }

  query(query: string): this {
    this.internal.query = query
    return this
  }

  rawQuery(raw: boolean): this {
    this.internal.rawQuery = raw
    return this
  }

  resultFormat(format: InfluxResultFormat): this {
    this.internal.resultFormat = format
    return this
  }

  alias(alias: string): this {
    this.internal.alias = alias
    return this
  }

  refId(refId: string): this {
    this.internal.refId = refId
    return this
  }

  hide(hide: boolean): this {
    this.internal.hide = hide
    return this
  }

  datasource(ref: DataSourceRef): this {
    this.internal.datasource = ref
    return this
  }

  /** Marks the target as an annotation query and names the columns Grafana turns into text and tags. */
  annotationColumns(cols: { text: string; tags?: string[]; title?: string }): this {
    this.internal.fromAnnotations = true
    this.internal.textEditor = true
    this.internal.textColumn = cols.text
    if (cols.tags) this.internal.tagsColumn = cols.tags.join(',')
    if (cols.title) this.internal.titleColumn = cols.title
    return this
  }
}
