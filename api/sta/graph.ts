import type { Station } from '../../devices/registry.ts'
import type { RuleLookup } from '../board/data.ts'
import type { EvalContext } from './evaluate.ts'
import { datastreamsOf, DERIVED_SALINITY_SENSOR, propertiesOf, type DatastreamRec, type EntityType, type PropertyRec, type Rec, type SensorRec, type ThingRec } from './model.ts'

/**
 * The metadata entities of one request, built from the registry's enabled
 * stations: a province has 10^2–10^3 stations (FIELD-NOTES), so the whole
 * graph is a few thousand small objects and filtering it in memory is cheap.
 * Observations are not here: they stay in InfluxDB (observations.ts).
 */
export class Graph implements EvalContext {
  readonly byType = new Map<EntityType, Map<string, Rec>>()
  readonly datastreams = new Map<string, DatastreamRec>()
  private readonly dsByStation = new Map<string, DatastreamRec[]>()
  private readonly propsCache = new WeakMap<Rec, Record<string, unknown>>()

  constructor(
    stations: readonly Station[],
    private readonly rules: RuleLookup,
    /** now() in $filter: set per request, the graph itself is reused (routes.ts). */
    public now: number,
  ) {
    for (const t of ['Thing', 'Location', 'HistoricalLocation', 'FeatureOfInterest', 'Datastream', 'Sensor', 'ObservedProperty'] as const) this.byType.set(t, new Map())
    const sensors = new Map<string, SensorRec>()
    const props = new Map<string, PropertyRec>()
    for (const station of [...stations].sort((a, b) => (a.id < b.id ? -1 : 1))) {
      for (const type of ['Thing', 'Location', 'HistoricalLocation', 'FeatureOfInterest'] as const) {
        this.byType.get(type)!.set(station.id, { type, id: station.id, station } satisfies ThingRec)
      }
      const list = datastreamsOf(station)
      this.dsByStation.set(station.id, list)
      for (const ds of list) {
        this.datastreams.set(ds.id, ds)
        this.byType.get('Datastream')!.set(ds.id, ds)
        if (!sensors.has(ds.sensorId)) sensors.set(ds.sensorId, { type: 'Sensor', id: ds.sensorId, kind: ds.kind, derived: ds.sensorId === DERIVED_SALINITY_SENSOR })
        if (!props.has(ds.kind)) props.set(ds.kind, { type: 'ObservedProperty', id: ds.kind, kind: ds.kind })
      }
    }
    // Only Sensors and ObservedProperties some published Datastream uses.
    for (const s of [...sensors.values()].sort((a, b) => (a.id < b.id ? -1 : 1))) this.byType.get('Sensor')!.set(s.id, s)
    for (const p of [...props.values()].sort((a, b) => (a.id < b.id ? -1 : 1))) this.byType.get('ObservedProperty')!.set(p.id, p)
  }

  all(type: Exclude<EntityType, 'Observation'>): Rec[] {
    return [...this.byType.get(type)!.values()]
  }

  get(type: Exclude<EntityType, 'Observation'>, id: string): Rec | undefined {
    return this.byType.get(type)!.get(id)
  }

  props(rec: Rec): Record<string, unknown> {
    let p = this.propsCache.get(rec)
    if (!p) {
      p = propertiesOf(rec, this.rules)
      this.propsCache.set(rec, p)
    }
    return p
  }

  /** "station:sensor" of every published Datastream: the series InfluxDB holds them under. */
  seriesKeys(): string[] {
    return [...this.datastreams.values()].map((d) => `${d.station.id}:${d.kind}`)
  }

  stationDatastreams(stationId: string): DatastreamRec[] {
    return this.dsByStation.get(stationId) ?? []
  }

  /** Related metadata entities; Observations are asked from InfluxDB through observationScope. */
  navigate(rec: Rec, nav: string): Rec[] {
    const of = (type: Exclude<EntityType, 'Observation'>, id: string) => {
      const r = this.get(type, id)
      return r ? [r] : []
    }
    switch (rec.type) {
      case 'Thing':
        if (nav === 'Locations') return of('Location', rec.id)
        if (nav === 'HistoricalLocations') return of('HistoricalLocation', rec.id)
        if (nav === 'Datastreams') return this.stationDatastreams(rec.id)
        break
      case 'Location':
        if (nav === 'Things') return of('Thing', rec.id)
        if (nav === 'HistoricalLocations') return of('HistoricalLocation', rec.id)
        break
      case 'HistoricalLocation':
        if (nav === 'Thing') return of('Thing', rec.id)
        if (nav === 'Locations') return of('Location', rec.id)
        break
      case 'Datastream':
        if (nav === 'Thing') return of('Thing', rec.station.id)
        if (nav === 'Sensor') return of('Sensor', rec.sensorId)
        if (nav === 'ObservedProperty') return of('ObservedProperty', rec.kind)
        break
      case 'Sensor':
        return nav === 'Datastreams' ? this.all('Datastream').filter((d) => (d as DatastreamRec).sensorId === rec.id) : []
      case 'ObservedProperty':
        return nav === 'Datastreams' ? this.all('Datastream').filter((d) => (d as DatastreamRec).kind === rec.kind) : []
      case 'Observation':
        if (nav === 'Datastream') return [rec.ds]
        if (nav === 'FeatureOfInterest') return of('FeatureOfInterest', rec.ds.station.id)
        break
      case 'FeatureOfInterest':
        break
    }
    return []
  }

  /** The datastreams whose observations a navigation to Observations covers. */
  observationScope(rec: Rec): DatastreamRec[] {
    if (rec.type === 'Datastream') return [rec]
    if (rec.type === 'FeatureOfInterest') return this.stationDatastreams(rec.id)
    return []
  }
}
