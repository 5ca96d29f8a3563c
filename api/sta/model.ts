import { SENSOR_KINDS, SENSORS, type SensorKind } from '../../core/sensors.ts'
import type { Station } from '../../devices/registry.ts'
import { unitOf, type RuleLookup } from '../board/data.ts'
import { levelsInForce } from '../routes/open-v1.ts'

/**
 * The SensorThings data model (OGC 18-088 §8.2) over tidewatch's registry:
 *
 *   station            → Thing, its Location, one HistoricalLocation (registration),
 *                        and a FeatureOfInterest (the water at the station)
 *   station's sensor   → Datastream (with its unitOfMeasurement)
 *   sensor kind        → Sensor and ObservedProperty
 *   stored reading value → Observation (from InfluxDB, observations.ts)
 *
 * Ids are strings, stable as long as the station id is (docs/OPEN-DATA.md):
 *   Thing, Location, HistoricalLocation, FeatureOfInterest: the station id ("cm-od-01")
 *   Datastream: station:sensor ("cm-od-01:salinity")
 *   Sensor: the sensor kind, or "salinity-pss78" for salinity computed from conductivity
 *   ObservedProperty: the sensor kind
 *   Observation: station:sensor:epoch-ms of the device time ("cm-od-01:salinity:1733990400000")
 */
export type EntityType = 'Thing' | 'Location' | 'HistoricalLocation' | 'Datastream' | 'Sensor' | 'ObservedProperty' | 'Observation' | 'FeatureOfInterest'

export const ENTITY_SETS: Readonly<Record<string, EntityType>> = Object.freeze({
  Things: 'Thing',
  Locations: 'Location',
  HistoricalLocations: 'HistoricalLocation',
  Datastreams: 'Datastream',
  Sensors: 'Sensor',
  ObservedProperties: 'ObservedProperty',
  Observations: 'Observation',
  FeaturesOfInterest: 'FeatureOfInterest',
})

export const SET_NAME: Readonly<Record<EntityType, string>> = Object.freeze(
  Object.fromEntries(Object.entries(ENTITY_SETS).map(([set, type]) => [type, set])) as Record<EntityType, string>,
)

export interface Nav {
  target: EntityType
  many: boolean
}

/** Navigation properties of each entity type (OGC 18-088 Figure 2 and §8.2). */
export const NAVS: Readonly<Record<EntityType, Readonly<Record<string, Nav>>>> = Object.freeze({
  Thing: { Locations: { target: 'Location', many: true }, HistoricalLocations: { target: 'HistoricalLocation', many: true }, Datastreams: { target: 'Datastream', many: true } },
  Location: { Things: { target: 'Thing', many: true }, HistoricalLocations: { target: 'HistoricalLocation', many: true } },
  HistoricalLocation: { Thing: { target: 'Thing', many: false }, Locations: { target: 'Location', many: true } },
  Datastream: {
    Thing: { target: 'Thing', many: false },
    Sensor: { target: 'Sensor', many: false },
    ObservedProperty: { target: 'ObservedProperty', many: false },
    Observations: { target: 'Observation', many: true },
  },
  Sensor: { Datastreams: { target: 'Datastream', many: true } },
  ObservedProperty: { Datastreams: { target: 'Datastream', many: true } },
  Observation: { Datastream: { target: 'Datastream', many: false }, FeatureOfInterest: { target: 'FeatureOfInterest', many: false } },
  FeatureOfInterest: { Observations: { target: 'Observation', many: true } },
})

/** Properties of each entity type, in the order they are written (§8.2 tables). */
export const PROPERTIES: Readonly<Record<EntityType, readonly string[]>> = Object.freeze({
  Thing: ['name', 'description', 'properties'],
  Location: ['name', 'description', 'encodingType', 'location', 'properties'],
  HistoricalLocation: ['time'],
  Datastream: ['name', 'description', 'unitOfMeasurement', 'observationType', 'observedArea', 'properties'],
  Sensor: ['name', 'description', 'encodingType', 'metadata', 'properties'],
  ObservedProperty: ['name', 'definition', 'description', 'properties'],
  Observation: ['phenomenonTime', 'resultTime', 'result', 'resultQuality'],
  FeatureOfInterest: ['name', 'description', 'encodingType', 'feature', 'properties'],
})

/** Properties holding an instant: compared as date-times in $filter and $orderby. */
export const TIME_PROPERTIES: ReadonlySet<string> = new Set(['phenomenonTime', 'resultTime', 'time'])

export const GEOJSON = 'application/geo+json'
/** OGC 18-088 Table 12: a numeric result. */
export const OM_MEASUREMENT = 'http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement'

/**
 * What each quantity is. tidewatch's own namespace: one URN per quantity,
 * defined here and in docs/OPEN-DATA.md. Units point at QUDT unit URIs.
 */
export const OBSERVED_PROPERTIES: Readonly<Record<SensorKind, { name: string; definition: string; description: string; unit: { name: string; definition: string } }>> = Object.freeze({
  salinity: {
    name: 'Salinity',
    definition: 'urn:tidewatch:def:observed-property:salinity',
    description: 'Practical salinity of the water (PSS-78, UNESCO 1983), reported in ‰ (1 ‰ ≈ 1 PSU ≈ 1 g/L).',
    unit: { name: 'Parts per thousand', definition: 'http://qudt.org/vocab/unit/PPTH' },
  },
  water_level: {
    name: 'Water level',
    definition: 'urn:tidewatch:def:observed-property:water_level',
    description: 'Height of the water surface above the national height datum (Hòn Dấu), in cm.',
    unit: { name: 'Centimetre', definition: 'http://qudt.org/vocab/unit/CentiM' },
  },
  ph: {
    name: 'pH',
    definition: 'urn:tidewatch:def:observed-property:ph',
    description: 'pH of the water.',
    unit: { name: 'pH', definition: 'http://qudt.org/vocab/unit/PH' },
  },
  no2: {
    name: 'Nitrite (as NO2⁻)',
    definition: 'urn:tidewatch:def:observed-property:nitrite-as-no2',
    // The basis matters: 1 mg/L as NO2⁻ ≈ 0.304 mg/L as N (core/sensors.ts); QCVN 08:2023 limits are written as N.
    description: 'Mass concentration of nitrite in the water, expressed as the nitrite ion NO2⁻ (not as N: 1 mg/L NO2⁻ = 0.304 mg/L N).',
    unit: { name: 'Milligram per litre as NO2⁻', definition: 'http://qudt.org/vocab/unit/MilliGM-PER-L' },
  },
  temperature: {
    name: 'Water temperature',
    definition: 'urn:tidewatch:def:observed-property:water_temperature',
    description: 'Temperature of the water, in °C.',
    unit: { name: 'Degree Celsius', definition: 'http://qudt.org/vocab/unit/DEG_C' },
  },
  conductivity: {
    name: 'Electrical conductivity',
    definition: 'urn:tidewatch:def:observed-property:conductivity',
    description: 'Electrical conductivity of the water, in mS/cm.',
    unit: { name: 'Millisiemens per centimetre', definition: 'http://qudt.org/vocab/unit/MilliS-PER-CentiM' },
  },
})

/** Sensor id of salinity computed by the ingest from conductivity and temperature (ingest/parse/validate.ts). */
export const DERIVED_SALINITY_SENSOR = 'salinity-pss78'

export interface ThingRec {
  type: 'Thing' | 'Location' | 'HistoricalLocation' | 'FeatureOfInterest'
  id: string
  station: Station
}
export interface DatastreamRec {
  type: 'Datastream'
  id: string
  station: Station
  kind: SensorKind
  sensorId: string
}
export interface SensorRec {
  type: 'Sensor'
  id: string
  kind: SensorKind
  derived: boolean
}
export interface PropertyRec {
  type: 'ObservedProperty'
  id: string
  kind: SensorKind
}
export interface ObservationRec {
  type: 'Observation'
  id: string
  ds: DatastreamRec
  ts: number
  value: number
  late: boolean
  flags: string[]
  delayS: number | null
}
export type Rec = ThingRec | DatastreamRec | SensorRec | PropertyRec | ObservationRec

export function datastreamId(stationId: string, kind: string): string {
  return `${stationId}:${kind}`
}

export function observationId(ds: DatastreamRec, ts: number): string {
  return `${ds.id}:${ts}`
}

/**
 * The Datastreams of a station: its registered sensors, plus salinity when
 * the ingest derives it (PSS-78 from conductivity and temperature) and the
 * station has no salinity probe of its own.
 */
export function datastreamsOf(station: Station): DatastreamRec[] {
  const kinds = new Set(station.sensors.map((s) => s.kind))
  const derived = !kinds.has('salinity') && kinds.has('conductivity') && kinds.has('temperature')
  if (derived) kinds.add('salinity')
  return SENSOR_KINDS.filter((k) => kinds.has(k)).map((kind) => ({
    type: 'Datastream',
    id: datastreamId(station.id, kind),
    station,
    kind,
    sensorId: kind === 'salinity' && derived ? DERIVED_SALINITY_SENSOR : kind,
  }))
}

const iso = (ms: number): string => new Date(ms).toISOString()
const point = (s: Station) => ({ type: 'Point', coordinates: [s.lon, s.lat] })
const where = (s: Station) => [s.commune, s.district].filter(Boolean).join(', ')

/** Results are rounded to 0.001 (every sensor's resolution or finer) so 16.863999999999997 reads 16.864. */
export const roundResult = (v: number): number => Math.round(v * 1000) / 1000

/** The entity's own properties (no control information, no navigation links). */
export function propertiesOf(rec: Rec, rules: RuleLookup): Record<string, unknown> {
  switch (rec.type) {
    case 'Thing': {
      const s = rec.station
      return {
        name: s.name,
        description: `Trạm quan trắc ${s.name}${where(s) ? ` (${where(s)})` : ''}`,
        properties: { stationId: s.id, code: s.code, zone: s.zone, commune: s.commune, district: s.district, coast: s.coast, reportingIntervalSec: s.intervalSec },
      }
    }
    case 'Location':
      return {
        name: rec.station.name,
        description: where(rec.station) || `Vị trí trạm ${rec.station.name}`,
        encodingType: GEOJSON,
        location: point(rec.station),
        properties: { commune: rec.station.commune, district: rec.station.district },
      }
    case 'HistoricalLocation':
      // One per station: the registry keeps its current position only, set at registration.
      return { time: iso(rec.station.createdAt) }
    case 'FeatureOfInterest':
      return {
        name: `Nước tại trạm ${rec.station.name}`,
        description: `The canal or river water sampled at station ${rec.station.name}${where(rec.station) ? `, ${where(rec.station)}` : ''}`,
        encodingType: GEOJSON,
        feature: point(rec.station),
        properties: { stationId: rec.station.id },
      }
    case 'Datastream': {
      const op = OBSERVED_PROPERTIES[rec.kind]
      const spec = SENSORS[rec.kind]
      const levels = levelsInForce(rules, rec.station, [rec.kind])[rec.kind]
      return {
        name: `${rec.station.name} — ${op.name}`,
        description: `${spec.label} (${op.name}) tại trạm ${rec.station.name}`,
        unitOfMeasurement: { name: op.unit.name, symbol: unitOf(rec.kind), definition: op.unit.definition },
        observationType: OM_MEASUREMENT,
        observedArea: point(rec.station),
        properties: {
          stationId: rec.station.id,
          sensor: rec.kind,
          label: spec.label,
          ...(spec.basis ? { basis: spec.basis } : {}),
          ...(rec.sensorId === DERIVED_SALINITY_SENSOR ? { derivedFrom: ['conductivity', 'temperature'], method: 'PSS-78' } : {}),
          levels: levels?.levels ?? [],
        },
      }
    }
    case 'Sensor': {
      const spec = SENSORS[rec.kind]
      const op = OBSERVED_PROPERTIES[rec.kind]
      return rec.derived
        ? {
            name: 'Salinity from conductivity (PSS-78)',
            description: 'Salinity computed by tidewatch from the station\'s conductivity and temperature with PSS-78 (UNESCO 1983), Hill et al. (1986) below 2.',
            encodingType: 'text/plain',
            metadata: 'Observations carry resultQuality "derived_pss78"; "pss78_out_of_range" when above 42, where PSS-78 is extrapolated.',
            properties: { sensor: rec.kind },
          }
        : {
            name: `${op.name} sensor`,
            description: `${spec.label}: station probe measuring ${op.name.toLowerCase()} in ${unitOf(rec.kind)}.`,
            encodingType: 'text/plain',
            metadata: `Accepted range ${spec.min} to ${spec.max} ${unitOf(rec.kind)}; values outside are quarantined and never published. Calibrated per station (offset and scale).`,
            properties: { sensor: rec.kind, min: spec.min, max: spec.max },
          }
    }
    case 'ObservedProperty': {
      const op = OBSERVED_PROPERTIES[rec.kind]
      return { name: op.name, definition: op.definition, description: op.description, properties: { sensor: rec.kind, label: SENSORS[rec.kind].label } }
    }
    case 'Observation':
      return {
        phenomenonTime: iso(rec.ts),
        // The arrival at the data center, when the ingest recorded the delay (docs/DATA.md delay_s).
        resultTime: rec.delayS === null ? null : iso(rec.ts + Math.round(rec.delayS * 1000)),
        result: roundResult(rec.value),
        resultQuality: [...rec.flags, ...(rec.late ? ['late'] : [])],
      }
  }
}
