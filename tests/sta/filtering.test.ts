/**
 * OGC SensorThings API 1.1 (OGC 18-088), the Filtering conformance class
 * (req/request-data/*): one test per requirement, named by its id.
 * Real broker, ingest and influxd (tests/sta/fixture.ts).
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { platformPerFile } from '../helpers/platform.ts'
import { BASE, list, loadStations, ONE, ONE_HOURS, q, salinityOne, sta, THREE, THREE_COUNT, TWO } from './fixture.ts'

const f = platformPerFile()
beforeAll(async () => loadStations(f.tp), 120_000)

const HOUR = 3_600_000
const ids = (r: any): string[] => r.value.map((e: any) => e['@iot.id'])
const SAL = `/Datastreams('${ONE.id}:salinity')/Observations`
const iso = (ms: number) => new Date(ms).toISOString()

/** The ids a filter selects among Things. */
async function things(filter: string): Promise<string[]> {
  return ids(await list(f.tp, `/Things?$filter=${q(filter)}`))
}

describe('Filtering (req/request-data)', () => {
  it('req/request-data/order: $filter, then $count, $orderby, $skip, $top', async () => {
    const r = await list(f.tp, `/Datastreams?$filter=${q("properties/sensor eq 'water_level'")}&$count=true&$orderby=${q('@iot.id desc')}&$skip=1&$top=1`)
    // Count is of the filtered set, before skip and top; the page is the second of the ordered set.
    expect(r['@iot.count']).toBe(3)
    expect(ids(r)).toEqual([`${TWO.id}:water_level`])
  })

  it('req/request-data/expand: related entities inline, nested with options, and the path form', async () => {
    const r = await list(f.tp, `/Things('${ONE.id}')/Datastreams?$expand=${q('Sensor,ObservedProperty($select=definition),Observations($top=2;$orderby=result desc;$count=true)')}&$orderby=@iot.id`)
    const sal = r.value.find((d: any) => d['@iot.id'] === `${ONE.id}:salinity`)
    expect(sal.Sensor['@iot.id']).toBe('salinity')
    expect(sal.ObservedProperty).toEqual({ definition: 'urn:tidewatch:def:observed-property:salinity' })
    expect(sal.Observations.map((o: any) => o.result)).toEqual([salinityOne(24), salinityOne(23)])
    expect(sal['Observations@iot.count']).toBe(ONE_HOURS)
    expect(sal['Observations@iot.nextLink']).toContain('$skip=2')
    // Datastreams/Thing is Datastreams($expand=Thing).
    const t = (await sta(f.tp, `/Things('${ONE.id}')?$expand=${q('Datastreams/ObservedProperty,Locations')}`)).body
    expect(t.Locations[0]['@iot.id']).toBe(ONE.id)
    expect(t.Datastreams.map((d: any) => d.ObservedProperty['@iot.id']).sort()).toEqual(['no2', 'ph', 'salinity', 'water_level'])
    // From an Observation upwards.
    const o = (await list(f.tp, `${SAL}?$top=1&$expand=${q('Datastream($expand=Thing($select=name)),FeatureOfInterest')}`)).value[0]
    expect(o.Datastream.Thing).toEqual({ name: ONE.name })
    expect(o.FeatureOfInterest['@iot.id']).toBe(ONE.id)
    // An expanded collection is paged with its own nextLink, which works.
    const ds = (await sta(f.tp, `/Datastreams('${ONE.id}:ph')?$expand=${q('Observations($top=5)')}`)).body
    expect(ds.Observations).toHaveLength(5)
    const next = await list(f.tp, ds['Observations@iot.nextLink'])
    expect(next.value).toHaveLength(5)
    expect(next.value[0]['@iot.id']).not.toBe(ds.Observations[0]['@iot.id'])
  })

  it('req/request-data/select: only the selected properties; a selected navigation property gives its link', async () => {
    const t = (await list(f.tp, `/Things?$select=name,Datastreams&$top=1`)).value[0]
    expect(Object.keys(t).sort()).toEqual(['Datastreams@iot.navigationLink', 'name'])
    const o = (await list(f.tp, `${SAL}?$select=id,result&$top=1`)).value[0]
    expect(o).toEqual({ '@iot.id': `${ONE.id}:salinity:${BASE - HOUR}`, result: salinityOne(1) })
    const bad = await sta(f.tp, `/Things?$select=nonsense`)
    expect(bad.status).toBe(400)
    expect(bad.body.error.code).toBe('STA_QUERY_INVALID')
  })

  it('req/request-data/status-code: 200 on success, 404 for an entity or set that does not exist', async () => {
    expect((await sta(f.tp, '/Things')).status).toBe(200)
    for (const p of [`/Things('nope')`, `/Datastreams('${ONE.id}:oxygen')`, `/Observations('${ONE.id}:salinity:1')`, '/Thingz', `/Things('${ONE.id}')/Sensor`, `/Things('${ONE.id}')/nosuch`]) {
      const r = await sta(f.tp, p)
      expect(r.status, p).toBe(404)
      expect(r.body.error.code).toBe('NOT_FOUND')
    }
  })

  it('req/request-data/query-status-code: a wrong query is a 400 with code STA_QUERY_INVALID, an unimplemented one a 501', async () => {
    const bad = [
      `$filter=${q('name eq')}`,
      `$filter=${q("name eq 'unterminated")}`,
      `$filter=${q('nosuch eq 1')}`,
      `$filter=${q('unknownfn(name) eq 1')}`,
      `$filter=${q('length(name, name) eq 1')}`,
      `$filter=${q('(((((((((((((((((((((((((((((((((((name eq 1)))))))))))))))))))))))))))))))))))')}`,
      `$orderby=${q('name sideways')}`,
      '$top=-1',
      '$top=abc',
      '$count=maybe',
      '$expand=Nowhere',
      '$expand=Datastreams(',
      '$foo=1',
      '$top=1&$top=2',
    ]
    for (const query of bad) {
      const r = await sta(f.tp, `/Things?${query}`)
      expect(r.status, query).toBe(400)
      expect(r.body.error.code, query).toBe('STA_QUERY_INVALID')
      expect(r.body.error.message.length).toBeGreaterThan(5)
    }
    // On a single entity too; and no shared cache keeps an error.
    const single = await sta(f.tp, `/Things('${ONE.id}')?$select=nonsense`)
    expect(single.status).toBe(400)
    expect(single.headers.get('cache-control')).toBe('no-store')
    expect((await sta(f.tp, `/Things('nope')`)).headers.get('cache-control')).toBe('no-store')
    const long = await sta(f.tp, `/Things?$filter=${q(`name eq '${'x'.repeat(9000)}'`)}`)
    expect(long.status).toBe(400)
    for (const query of [`$filter=${q("st_within(location, geography'POLYGON((0 0, 1 0, 1 1, 0 0))')")}`, '$resultFormat=dataArray']) {
      const r = await sta(f.tp, `/Locations?${query}`)
      expect(r.status, query).toBe(501)
      expect(r.body.error.code).toBe('STA_QUERY_INVALID')
    }
  })

  it('req/request-data/orderby: one or more terms, asc and desc, on entities and on Observations', async () => {
    const names = (await list(f.tp, `/Things?$orderby=${q('name desc')}`)).value.map((t: any) => t.name)
    expect(names).toEqual([...names].sort().reverse())
    const two = await list(f.tp, `/Datastreams?$orderby=${q('properties/sensor asc, @iot.id desc')}&$select=id`)
    expect(ids(two).slice(0, 1)).toEqual([`${TWO.id}:conductivity`])
    expect(ids(two).filter((i) => i.endsWith(':water_level'))).toEqual([THREE.id, TWO.id, ONE.id].map((s) => `${s}:water_level`))
    const asc = (await list(f.tp, `${SAL}?$orderby=${q('phenomenonTime asc')}&$top=3`)).value.map((o: any) => o.phenomenonTime)
    expect(asc).toEqual([24, 23, 22].map((h) => iso(BASE - h * HOUR)))
    const byResult = (await list(f.tp, `${SAL}?$orderby=${q('result desc')}&$top=2`)).value.map((o: any) => o.result)
    expect(byResult).toEqual([salinityOne(24), salinityOne(23)])
  })

  it('req/request-data/top: at most $top entities; a $top above the server limit (1000) is capped and paged', async () => {
    expect((await list(f.tp, `/Things?$top=2`)).value).toHaveLength(2)
    expect((await list(f.tp, `${SAL}?$top=3`)).value).toHaveLength(3)
    const big = await list(f.tp, `/Datastreams('${THREE.id}:water_level')/Observations?$top=5000`)
    expect(big.value).toHaveLength(1000)
    expect(big['@iot.nextLink']).toMatch(/\$top=4000/)
    expect(big['@iot.nextLink']).toMatch(/\$skip=1000/)
  })

  it('req/request-data/skip: $skip leaves out the first entities of the ordered set', async () => {
    expect(ids(await list(f.tp, `/Things?$skip=1`))).toEqual([TWO.id, THREE.id])
    const all = ids(await list(f.tp, `${SAL}`))
    expect(ids(await list(f.tp, `${SAL}?$skip=20`))).toEqual(all.slice(20))
  })

  it('req/request-data/count: @iot.count is the size of the filtered set, on sets, navigation and expansions', async () => {
    expect((await list(f.tp, `/Things?$count=true&$top=1`))['@iot.count']).toBe(3)
    expect((await list(f.tp, `/Things?$count=false`))['@iot.count']).toBeUndefined()
    expect((await list(f.tp, `/Datastreams('${THREE.id}:water_level')/Observations?$count=true&$top=1`))['@iot.count']).toBe(THREE_COUNT)
    expect((await list(f.tp, `${SAL}?$count=true&$filter=${q('result gt 5')}`))['@iot.count']).toBe(ONE_HOURS - 16)
    const t = (await sta(f.tp, `/Things('${ONE.id}')?$expand=${q('Datastreams($count=true)')}`)).body
    expect(t['Datastreams@iot.count']).toBe(4)
  })

  it('req/request-data/filter: $filter on properties, on related entities, on time and result (pushed down to InfluxDB)', async () => {
    expect(await things(`properties/code eq 'SD01'`)).toEqual([TWO.id])
    expect(await things(`Datastreams/ObservedProperty/@iot.id eq 'conductivity'`)).toEqual([TWO.id])
    expect(await things(`Locations/location/type eq 'Point' and name ne 'Sông Đốc'`)).toEqual([ONE.id, THREE.id])
    const from = BASE - 5 * HOUR - 1
    const r = await list(f.tp, `${SAL}?$filter=${q(`phenomenonTime gt ${iso(from)} and phenomenonTime le ${iso(BASE)}`)}`)
    expect(r.value.map((o: any) => o.result)).toEqual([1, 2, 3, 4, 5].map(salinityOne))
    const high = await list(f.tp, `${SAL}?$filter=${q('result ge 6.5')}&$orderby=phenomenonTime`)
    expect(high.value.map((o: any) => o.result)).toEqual([24, 23, 22].map(salinityOne))
    // Across all Observations, scoped by Datastream and Thing, plus a residual function filter.
    const across = await list(f.tp, `/Observations?$filter=${q(`Datastream/Thing/properties/code eq 'CD01' and Datastream/ObservedProperty/@iot.id eq 'ph' and round(result) eq 7 and phenomenonTime ge ${iso(BASE - 6 * HOUR)}`)}`)
    expect(across.value.map((o: any) => o['@iot.id'].split(':').slice(0, 2).join(':'))).toEqual(Array(across.value.length).fill(`${ONE.id}:ph`))
    expect(across.value).toHaveLength(6)
    // resultQuality is filterable as a JSON value.
    const flagged = await list(f.tp, `/Datastreams('${TWO.id}:salinity')/Observations?$filter=${q('resultTime ge phenomenonTime')}&$count=true`)
    expect(flagged['@iot.count']).toBe(6)
  })

  it('req/request-data/built-in-filter-operations: eq ne gt ge lt le, and or not, add sub mul div mod, grouping', async () => {
    const r = async (filter: string) => (await list(f.tp, `${SAL}?$filter=${q(filter)}&$select=result&$orderby=phenomenonTime`)).value.map((o: any) => o.result)
    expect(await r('result eq 1.25')).toEqual([1.25])
    expect((await r('result ne 1.25')).length).toBe(ONE_HOURS - 1)
    expect(await r('result gt 6.75')).toEqual([7])
    expect(await r('result ge 6.75')).toEqual([7, 6.75])
    expect(await r('result lt 1.5')).toEqual([1.25])
    expect(await r('result le 1.5')).toEqual([1.5, 1.25])
    expect(await r('result lt 1.5 or result gt 6.75')).toEqual([7, 1.25])
    expect(await r('not (result ge 1.5) and result gt 0')).toEqual([1.25])
    expect(await r('result add 1 eq 2.25')).toEqual([1.25])
    expect(await r('result sub 1 eq 0.25')).toEqual([1.25])
    expect(await r('result mul 4 eq 5')).toEqual([1.25])
    expect(await r('result div 5 eq 0.25')).toEqual([1.25])
    expect(await r('result mod 1 eq 0.25 and result lt 2')).toEqual([1.25])
    expect(await r('(result add 1) mul 2 eq 4.5')).toEqual([1.25])
    expect(await r('-result eq -1.25')).toEqual([1.25])
  })

  it('req/request-data/built-in-query-functions: string, date and math functions', async () => {
    // Strings on Things: names are "Cống Cái Đôi Vàm", "Sông Đốc", "Năm Căn".
    expect(await things(`substringof('Đốc', name)`)).toEqual([TWO.id])
    expect(await things(`endswith(name, 'Căn')`)).toEqual([THREE.id])
    expect(await things(`startswith(name, 'Cống')`)).toEqual([ONE.id])
    expect(await things(`length(name) eq 7`)).toEqual([THREE.id])
    expect(await things(`indexof(name, 'Căn') eq 4`)).toEqual([THREE.id])
    expect(await things(`substring(name, 4) eq 'Căn'`)).toEqual([THREE.id])
    expect(await things(`substring(name, 0, 3) eq 'Năm'`)).toEqual([THREE.id])
    expect(await things(`tolower(name) eq 'sông đốc'`)).toEqual([TWO.id])
    expect(await things(`toupper(properties/code) eq 'SD01'`)).toEqual([TWO.id])
    expect(await things(`trim(concat(' ', name)) eq 'Năm Căn'`)).toEqual([THREE.id])
    expect(await things(`concat(concat(properties/code, '-'), name) eq 'SD01-Sông Đốc'`)).toEqual([TWO.id])
    // Dates on the newest salinity observation of station one.
    const t = new Date(BASE - HOUR)
    const newest = async (filter: string) => (await list(f.tp, `${SAL}?$filter=${q(filter)}&$top=1`)).value.map((o: any) => o.phenomenonTime)
    const expectNewest = async (filter: string) => expect(await newest(filter), filter).toEqual([t.toISOString()])
    await expectNewest(`year(phenomenonTime) eq ${t.getUTCFullYear()}`)
    await expectNewest(`month(phenomenonTime) eq ${t.getUTCMonth() + 1}`)
    await expectNewest(`day(phenomenonTime) eq ${t.getUTCDate()}`)
    await expectNewest(`hour(phenomenonTime) eq ${t.getUTCHours()}`)
    await expectNewest(`minute(phenomenonTime) eq ${t.getUTCMinutes()}`)
    await expectNewest(`second(phenomenonTime) eq 0 and fractionalseconds(phenomenonTime) eq 0`)
    await expectNewest(`date(phenomenonTime) eq ${t.toISOString().slice(0, 10)}`)
    await expectNewest(`time(phenomenonTime) eq ${t.toISOString().slice(11, 19)}`)
    await expectNewest(`totaloffsetminutes(phenomenonTime) eq 0`)
    await expectNewest(`phenomenonTime lt now() and phenomenonTime gt mindatetime() and phenomenonTime lt maxdatetime()`)
    // A literal with an offset keeps its own wall clock: 07:00 in Cà Mau is 00:00Z.
    expect((await list(f.tp, `/Things?$filter=${q('hour(2025-03-01T07:00:00+07:00) eq 7')}`)).value).toHaveLength(3)
    // Math on results (1.25 … 7 in steps of 0.25).
    const count = async (filter: string) => (await list(f.tp, `${SAL}?$filter=${q(filter)}&$count=true&$top=0`))['@iot.count']
    expect(await count('round(result) eq 2')).toBe(4) // 1.5, 1.75, 2, 2.25
    expect(await count('floor(result) eq 2')).toBe(4) // 2, 2.25, 2.5, 2.75
    expect(await count('ceiling(result) eq 2')).toBe(4) // 1.25, 1.5, 1.75, 2
  })

  it('req/request-data/pagination: @iot.nextLink while more remains; following it returns every entity exactly once', async () => {
    const seen: string[] = []
    let url: string | undefined = `/Datastreams('${THREE.id}:water_level')/Observations?$top=400`
    let pages = 0
    while (url) {
      const r = await list(f.tp, url)
      seen.push(...ids(r))
      url = r['@iot.nextLink']
      pages++
    }
    expect(pages).toBe(3)
    expect(seen).toHaveLength(THREE_COUNT)
    expect(new Set(seen).size).toBe(THREE_COUNT)
    // Server-driven paging with no $top: 1000 (STA_LIMITS.defaultTop), then the rest.
    const first = await list(f.tp, `/Datastreams('${THREE.id}:water_level')/Observations`)
    expect(first.value).toHaveLength(1000)
    const rest = await list(f.tp, first['@iot.nextLink'])
    expect(rest.value).toHaveLength(THREE_COUNT - 1000)
    expect(rest['@iot.nextLink']).toBeUndefined()
    // Entities too.
    const p1 = await list(f.tp, `/Things?$top=2`)
    const p2 = await list(f.tp, p1['@iot.nextLink'])
    expect([...ids(p1), ...ids(p2)]).toEqual([ONE.id, TWO.id, THREE.id])
    expect(p2['@iot.nextLink']).toBeUndefined()
  })
})
