/**
 * OGC SensorThings API 1.1 (OGC 18-088), conformance class A.1 Sensing Core:
 * one test per requirement, named by its id under
 * http://www.opengis.net/spec/iot_sensing/1.1/. Real broker, ingest, influxd.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { platformPerFile } from '../helpers/platform.ts'
import { BASE, list, loadStations, ONE, ONE_HOURS, OFF, salinityOne, sta, THREE, TWO } from './fixture.ts'

const f = platformPerFile()
beforeAll(async () => loadStations(f.tp), 120_000)

const SETS = ['Things', 'Locations', 'HistoricalLocations', 'Datastreams', 'Sensors', 'ObservedProperties', 'Observations', 'FeaturesOfInterest']
const NAVS: Record<string, string[]> = {
  Things: ['Locations', 'HistoricalLocations', 'Datastreams'],
  Locations: ['Things', 'HistoricalLocations'],
  HistoricalLocations: ['Thing', 'Locations'],
  Datastreams: ['Thing', 'Sensor', 'ObservedProperty', 'Observations'],
  Sensors: ['Datastreams'],
  ObservedProperties: ['Datastreams'],
  Observations: ['Datastream', 'FeatureOfInterest'],
  FeaturesOfInterest: ['Observations'],
}
const root = () => `${f.tp.apiUrl}/sta/v1.1`
const HOUR = 3_600_000

describe('A.1 Sensing Core', () => {
  it('req/datamodel/thing/properties: a station is a Thing with name, description and properties (zone, code, commune, district)', async () => {
    const t = (await sta(f.tp, `/Things('${ONE.id}')`)).body
    expect(t.name).toBe(ONE.name)
    expect(typeof t.description).toBe('string')
    expect(t.properties).toMatchObject({ stationId: ONE.id, code: 'CD01', zone: 'rice', commune: ONE.commune, district: ONE.district })
  })

  it('req/datamodel/thing/relations: a Thing links to its Locations, HistoricalLocations and Datastreams', async () => {
    const t = (await sta(f.tp, `/Things('${ONE.id}')`)).body
    for (const nav of NAVS.Things!) expect(t[`${nav}@iot.navigationLink`]).toBe(`${root()}/Things('${ONE.id}')/${nav}`)
    expect((await list(f.tp, `/Things('${ONE.id}')/Locations`)).value.map((l: any) => l['@iot.id'])).toEqual([ONE.id])
    expect((await list(f.tp, `/Things('${ONE.id}')/HistoricalLocations`)).value).toHaveLength(1)
    expect((await list(f.tp, `/Things('${ONE.id}')/Datastreams`)).value.map((d: any) => d['@iot.id']).sort()).toEqual(['no2', 'ph', 'salinity', 'water_level'].map((k) => `${ONE.id}:${k}`).sort())
  })

  it('req/datamodel/location/properties: the Location is a GeoJSON point [lon, lat] with encodingType application/geo+json', async () => {
    const l = (await sta(f.tp, `/Locations('${ONE.id}')`)).body
    expect(l).toMatchObject({ name: ONE.name, encodingType: 'application/geo+json', location: { type: 'Point', coordinates: [ONE.lon, ONE.lat] } })
    expect(typeof l.description).toBe('string')
  })

  it('req/datamodel/location/relations: a Location links to its Things and HistoricalLocations', async () => {
    const l = (await sta(f.tp, `/Locations('${ONE.id}')`)).body
    for (const nav of NAVS.Locations!) expect(l[`${nav}@iot.navigationLink`]).toBeTruthy()
    expect((await list(f.tp, `/Locations('${ONE.id}')/Things`)).value[0]['@iot.id']).toBe(ONE.id)
    expect((await list(f.tp, `/Locations('${ONE.id}')/HistoricalLocations`)).value[0]['@iot.id']).toBe(ONE.id)
  })

  it('req/datamodel/historical-location/properties: time is the registration instant (ISO 8601)', async () => {
    const h = (await sta(f.tp, `/HistoricalLocations('${ONE.id}')`)).body
    expect(h.time).toBe(new Date(f.tp.platform.registry.get(ONE.id)!.createdAt).toISOString())
  })

  it('req/datamodel/historical-location/relations: a HistoricalLocation links to one Thing and its Locations', async () => {
    const h = (await sta(f.tp, `/HistoricalLocations('${ONE.id}')`)).body
    expect(h['Thing@iot.navigationLink']).toBeTruthy()
    expect((await sta(f.tp, `/HistoricalLocations('${ONE.id}')/Thing`)).body['@iot.id']).toBe(ONE.id)
    expect((await list(f.tp, `/HistoricalLocations('${ONE.id}')/Locations`)).value[0]['@iot.id']).toBe(ONE.id)
  })

  it('req/datamodel/datastream/properties: unitOfMeasurement {name, symbol, definition}, observationType; nitrite as NO2⁻', async () => {
    const d = (await sta(f.tp, `/Datastreams('${ONE.id}:salinity')`)).body
    expect(d.unitOfMeasurement).toEqual({ name: 'Parts per thousand', symbol: '‰', definition: 'http://qudt.org/vocab/unit/PPTH' })
    expect(d.observationType).toBe('http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement')
    expect(typeof d.name).toBe('string')
    expect(typeof d.description).toBe('string')
    // The levels in force (rice zone: 2 ‰ warning, 4 ‰ danger; levels/zones.ts).
    expect(d.properties.levels.map((l: any) => l.threshold)).toEqual([2, 4])
    const no2 = (await sta(f.tp, `/Datastreams('${ONE.id}:no2')`)).body
    expect(no2.unitOfMeasurement.symbol).toBe('mg/L NO2⁻')
    expect(no2.properties.basis).toBe('NO2⁻')
  })

  it('req/datamodel/datastream/relations: a Datastream links to one Thing, Sensor, ObservedProperty and its Observations', async () => {
    const base = `/Datastreams('${ONE.id}:salinity')`
    expect((await sta(f.tp, `${base}/Thing`)).body['@iot.id']).toBe(ONE.id)
    expect((await sta(f.tp, `${base}/Sensor`)).body['@iot.id']).toBe('salinity')
    expect((await sta(f.tp, `${base}/ObservedProperty`)).body['@iot.id']).toBe('salinity')
    expect((await list(f.tp, `${base}/Observations`)).value).toHaveLength(ONE_HOURS)
    // A station with conductivity and temperature gets a salinity Datastream from the PSS-78 Sensor.
    expect((await sta(f.tp, `/Datastreams('${TWO.id}:salinity')/Sensor`)).body['@iot.id']).toBe('salinity-pss78')
  })

  it('req/datamodel/sensor/properties: name, description, encodingType, metadata', async () => {
    const s = (await sta(f.tp, `/Sensors('salinity')`)).body
    for (const p of ['name', 'description', 'encodingType', 'metadata']) expect(typeof s[p], p).toBe('string')
  })

  it('req/datamodel/sensor/relations: a Sensor links to the Datastreams it produces', async () => {
    const ids = (await list(f.tp, `/Sensors('salinity')/Datastreams`)).value.map((d: any) => d['@iot.id'])
    expect(ids).toEqual([`${ONE.id}:salinity`])
    expect((await list(f.tp, `/Sensors('salinity-pss78')/Datastreams`)).value.map((d: any) => d['@iot.id'])).toEqual([`${TWO.id}:salinity`])
  })

  it('req/datamodel/observed-property/properties: name, definition URI, description; nitrite says "as NO2⁻"', async () => {
    const op = (await sta(f.tp, `/ObservedProperties('no2')`)).body
    expect(op.name).toBe('Nitrite (as NO2⁻)')
    expect(op.definition).toMatch(/^urn:tidewatch:def:observed-property:/)
    expect(op.description).toContain('NO2⁻')
  })

  it('req/datamodel/observed-property/relations: an ObservedProperty links to its Datastreams', async () => {
    const ids = (await list(f.tp, `/ObservedProperties('water_level')/Datastreams`)).value.map((d: any) => d['@iot.id'])
    expect(ids.sort()).toEqual([ONE.id, TWO.id, THREE.id].map((s) => `${s}:water_level`).sort())
  })

  it('req/datamodel/observation/properties: phenomenonTime (device time), resultTime (arrival), result, resultQuality flags', async () => {
    const obs = (await list(f.tp, `/Datastreams('${ONE.id}:salinity')/Observations?$top=1`)).value[0]
    expect(obs.phenomenonTime).toBe(new Date(BASE - HOUR).toISOString())
    expect(obs.result).toBe(salinityOne(1))
    expect(Date.parse(obs.resultTime)).toBeGreaterThanOrEqual(Date.parse(obs.phenomenonTime))
    // Sent an hour after its device time: the ingest marked it late.
    expect(obs.resultQuality).toContain('late')
    const derived = (await list(f.tp, `/Datastreams('${TWO.id}:salinity')/Observations?$top=1`)).value[0]
    expect(derived.resultQuality).toContain('derived_pss78')
    expect(derived.result).toBeGreaterThan(3.5)
    expect(derived.result).toBeLessThan(4.5)
  })

  it('req/datamodel/observation/relations: an Observation links to one Datastream and one FeatureOfInterest', async () => {
    const obs = (await list(f.tp, `/Datastreams('${ONE.id}:ph')/Observations?$top=1`)).value[0]
    expect((await sta(f.tp, `/Observations('${obs['@iot.id']}')/Datastream`)).body['@iot.id']).toBe(`${ONE.id}:ph`)
    expect((await sta(f.tp, `/Observations('${obs['@iot.id']}')/FeatureOfInterest`)).body['@iot.id']).toBe(ONE.id)
  })

  it('req/datamodel/feature-of-interest/properties: name, description, encodingType, feature (the water at the station)', async () => {
    const foi = (await sta(f.tp, `/FeaturesOfInterest('${ONE.id}')`)).body
    expect(foi).toMatchObject({ encodingType: 'application/geo+json', feature: { type: 'Point', coordinates: [ONE.lon, ONE.lat] } })
    expect(typeof foi.name).toBe('string')
    expect(typeof foi.description).toBe('string')
  })

  it('req/datamodel/feature-of-interest/relations: a FeatureOfInterest links to the Observations made of it', async () => {
    const r = await list(f.tp, `/FeaturesOfInterest('${TWO.id}')/Observations?$count=true`)
    // 6 readings × (conductivity, temperature, water level, derived salinity).
    expect(r['@iot.count']).toBe(24)
    expect(new Set(r.value.map((o: any) => o['@iot.id'].split(':')[1]))).toEqual(new Set(['conductivity', 'temperature', 'water_level', 'salinity']))
  })

  it('req/datamodel/entity-control-information/common-control-information (1.0: req/entity-control-information/common-control-information): every entity has @iot.id, a resolvable @iot.selfLink and navigationLinks', async () => {
    for (const set of SETS) {
      const r = await list(f.tp, `/${set}?$top=2`)
      expect(r.value.length, set).toBeGreaterThan(0)
      for (const e of r.value) {
        expect(typeof e['@iot.id'], set).toBe('string')
        expect(e['@iot.selfLink']).toBe(`${root()}/${set}('${e['@iot.id']}')`)
        const self = await sta(f.tp, e['@iot.selfLink'])
        expect(self.status, e['@iot.selfLink']).toBe(200)
        expect(self.body['@iot.id']).toBe(e['@iot.id'])
        for (const nav of NAVS[set]!) {
          const link = e[`${nav}@iot.navigationLink`]
          expect(link, `${set} ${nav}`).toBe(`${e['@iot.selfLink']}/${nav}`)
          expect((await sta(f.tp, link)).status, link).toBe(200)
        }
      }
    }
  })

  it('req/resource-path/resource-path-to-entities: service root, sets, entity by id, navigation, property, $value, $ref, nested paths', async () => {
    const rootDoc = await list(f.tp, '')
    expect(rootDoc.value.map((v: any) => v.name).sort()).toEqual([...SETS].sort())
    expect(rootDoc.serverSettings.conformance).toContain('http://www.opengis.net/spec/iot_sensing/1.1/req/request-data')
    // Property and its raw $value.
    expect((await sta(f.tp, `/Things('${ONE.id}')/name`)).body).toEqual({ name: ONE.name })
    const raw = await sta(f.tp, `/Things('${ONE.id}')/name/$value`)
    expect(raw.text).toBe(ONE.name)
    expect(raw.headers.get('content-type')).toMatch(/^text\/plain/)
    expect(JSON.parse((await sta(f.tp, `/Locations('${ONE.id}')/location/$value`)).text)).toEqual({ type: 'Point', coordinates: [ONE.lon, ONE.lat] })
    // $ref of a collection and of a single entity.
    const refs = await list(f.tp, `/Things('${ONE.id}')/Datastreams/$ref`)
    expect(refs.value).toHaveLength(4)
    expect(Object.keys(refs.value[0])).toEqual(['@iot.selfLink'])
    expect((await sta(f.tp, `/Datastreams('${ONE.id}:ph')/Sensor/$ref`)).body).toEqual({ '@iot.selfLink': `${root()}/Sensors('ph')` })
    // Key on a navigated collection, then further.
    const op = await sta(f.tp, `/Things('${ONE.id}')/Datastreams('${ONE.id}:no2')/ObservedProperty`)
    expect(op.body['@iot.id']).toBe('no2')
    const obs = (await list(f.tp, `/Things('${ONE.id}')/Datastreams('${ONE.id}:ph')/Observations?$top=1`)).value[0]
    expect((await sta(f.tp, `/Datastreams('${ONE.id}:ph')/Observations('${obs['@iot.id']}')/FeatureOfInterest/Observations?$top=1`)).status).toBe(200)
    // A Datastream of another Thing is not under this one.
    expect((await sta(f.tp, `/Things('${ONE.id}')/Datastreams('${TWO.id}:water_level')`)).status).toBe(404)
  })

  it('public: no token, CORS for any origin, disabled stations and their data never appear', async () => {
    const r = await sta(f.tp, '/Things', { origin: 'https://lgsp.camau.gov.vn' })
    expect(r.status).toBe(200)
    expect(r.headers.get('access-control-allow-origin')).toBe('*')
    expect(r.body.value.map((t: any) => t['@iot.id'])).toEqual([ONE.id, TWO.id, THREE.id])
    expect((await sta(f.tp, `/Things('${OFF.id}')`)).status).toBe(404)
    expect((await sta(f.tp, `/Observations('${OFF.id}:salinity:${BASE - HOUR}')`)).status).toBe(404)
    const all = await list(f.tp, `/Observations?$filter=phenomenonTime ge ${new Date(BASE - 2 * HOUR).toISOString()}&$top=1000`)
    expect(all.value.some((o: any) => o['@iot.id'].startsWith(OFF.id))).toBe(false)
    expect(all.value.length).toBeGreaterThan(0)
  })

  it('large answers are gzipped for clients that accept it, plain for those that do not', async () => {
    const path = `/Datastreams('${THREE.id}:water_level')/Observations?$top=1000`
    const zipped = await sta(f.tp, path, { 'accept-encoding': 'gzip' })
    expect(zipped.headers.get('content-encoding')).toBe('gzip')
    expect(zipped.body.value).toHaveLength(1000)
    const plain = await sta(f.tp, path, { 'accept-encoding': 'identity' })
    expect(plain.headers.get('content-encoding')).toBeNull()
    expect(plain.body).toEqual(zipped.body)
  })

  it('the latest values of every station in one request: Things?$expand=Datastreams($expand=Observations($top=1;$orderby=phenomenonTime desc))', async () => {
    const r = await list(f.tp, `/Things?$expand=Datastreams($expand=Observations($top=1;$orderby=phenomenonTime desc))`)
    const latest = Object.fromEntries(r.value.flatMap((t: any) => t.Datastreams.map((d: any) => [d['@iot.id'], d.Observations[0]?.result])))
    expect(latest).toMatchObject({ [`${ONE.id}:salinity`]: salinityOne(1), [`${ONE.id}:water_level`]: 51, [`${THREE.id}:water_level`]: 102 })
    for (const t of r.value) for (const d of t.Datastreams) expect(d.Observations, d['@iot.id']).toHaveLength(1)
    expect(r.value.map((t: any) => t['@iot.id'])).toEqual([ONE.id, TWO.id, THREE.id])
  })
})
