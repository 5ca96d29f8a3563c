import { PanelBuilder as GeomapBuilder, TooltipMode } from '@grafana/grafana-foundation-sdk/geomap'
import { FrameGeometrySourceMode, type MapLayerOptions } from '@grafana/grafana-foundation-sdk/common'
import { FieldColorBuilder, FieldColorModeId } from '@grafana/grafana-foundation-sdk/dashboard'
import { DS, constant } from '../common.ts'
import type { Builder, Dataquery, ThresholdsConfigBuilder } from './sdk.ts'

/**
 * InfluxDB holds no station coordinates (docs/DATA.md), so markers are placed
 * with Geomap's "lookup" location mode: the `station` column of the query is
 * looked up in a gazetteer file that `tidewatch dashboards gazetteer` writes
 * from the station registry and Grafana serves from public/gazetteer/
 * (see docs/GRAFANA.md).
 */
export const GAZETTEER_PATH = 'public/gazetteer/tidewatch-stations.json'

// Centre of Cà Mau province; zoom 9 shows the whole province.
const CA_MAU = { lat: 9.05, lon: 105.05, zoom: 9 }

export interface StationMapOptions {
  title: string
  description: string
  unit: string
  /** A table-format query with a `station` column and a numeric value column. */
  target: Builder<Dataquery>
  valueField: string
  thresholds: ThresholdsConfigBuilder
}

export function stationMapPanel(o: StationMapOptions): GeomapBuilder {
  const markers: MapLayerOptions = {
    type: 'markers',
    name: 'Trạm quan trắc',
    tooltip: true,
    location: { mode: FrameGeometrySourceMode.Lookup, lookup: 'station', gazetteer: GAZETTEER_PATH },
    config: {
      showLegend: true,
      style: {
        // Colour comes from the value field's thresholds (the alert levels).
        color: { field: o.valueField, fixed: 'dark-green' },
        opacity: 0.9,
        size: { fixed: 10, min: 4, max: 16 },
        symbol: { fixed: 'img/icons/marker/circle.svg', mode: 'fixed' },
        text: { field: 'station', fixed: '', mode: 'field' },
        textConfig: { fontSize: 11, offsetX: 0, offsetY: -14, textAlign: 'center', textBaseline: 'middle' },
      },
    },
  }
  return new GeomapBuilder()
    .title(o.title)
    .description(o.description)
    .datasource(DS)
    .withTarget(o.target)
    .unit(o.unit)
    .thresholds(o.thresholds)
    .colorScheme(new FieldColorBuilder().mode(FieldColorModeId.Thresholds))
    .view(constant({ id: 'coords', lat: CA_MAU.lat, lon: CA_MAU.lon, zoom: CA_MAU.zoom, allLayers: true }))
    .controls(constant({ showZoom: true, mouseWheelZoom: true, showAttribution: true, showScale: true }))
    .basemap(constant({ type: 'default', name: 'Bản đồ nền' }))
    .layers([constant(markers)])
    .tooltip(constant({ mode: TooltipMode.Details }))
}
