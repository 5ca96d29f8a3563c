import type { DataSourceRef } from '@grafana/grafana-foundation-sdk/common'
import { DS } from '../common.ts'
import type { Builder, Dataquery } from './sdk.ts'

/** What every data panel is given: its title, what it shows, its unit and its queries. */
export interface PanelBasics {
  title: string
  description: string
  unit: string
  targets: Builder<Dataquery>[]
}

/** The setters every SDK panel builder has for the basics. */
interface BasicsSetters<B> {
  title(title: string): B
  description(description: string): B
  datasource(datasource: DataSourceRef): B
  targets(targets: Builder<Dataquery>[]): B
  unit(unit: string): B
}

/** Sets the basics on a panel builder, reading from the tidewatch data source; each panel factory adds its own options after. */
export function withBasics<B extends BasicsSetters<B>>(b: B, o: PanelBasics): B {
  return b.title(o.title).description(o.description).datasource(DS).targets(o.targets).unit(o.unit)
}
