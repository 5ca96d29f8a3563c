/**
 * Open data polish (issue 14) against real servers: the GeoJSON under
 * /open/v1 with CORS and caching (and the old /api/v1/open path with the same
 * document, CORS and caching), values at each sensor's precision in every API
 * (core/sensors.ts decimals), station names and a UTF-8 BOM in every CSV.
 */
import { expect, it } from 'vitest'
import { SENSORS } from '../../core/sensors.ts'
import { getJson, platformPerFile } from '../helpers/platform.ts'
import { stationWithReadings } from '../board/pipeline.ts'

const env = platformPerFile()
const HOUR = 3_600_000

/** Readings whose means and sums come out as 16.863999999999997 and friends in binary floating point. */
async function seed(): Promise<number> {
  const end = Math.floor(Date.now() / HOUR) * HOUR - HOUR
  const readings = [0, 1, 2].map((i) => ({ ts: end - i * 600_000, values: { salinity: 16.864 + i * 0.1, ph: 7.123 + i * 0.011, water_level: 101.37 + i, no2: 0.1234 } }))
  await stationWithReadings(env.tp, { id: 'cm-pol-01', name: 'Cống Hộ Phòng, "Giá Rai"', lat: 9.23, lon: 105.45 }, readings)
  expect(await env.tp.platform.ingest!.drained()).toBe(true)
  return end
}

let seeded: Promise<number> | null = null
const ready = () => (seeded ??= seed())

const decimals = (v: number) => (String(v).split('.')[1] ?? '').length

it('GET /open/v1/stations.geojson: a FeatureCollection with CORS, ETag and Cache-Control, values at sensor precision', async () => {
  await ready()
  const res = await fetch(`${env.tp.apiUrl}/open/v1/stations.geojson`, { headers: { origin: 'https://lgsp.example' } })
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toBe('application/geo+json; charset=utf-8')
  expect(res.headers.get('access-control-allow-origin')).toBe('*')
  expect(res.headers.get('cache-control')).toBe('public, max-age=60')
  const etag = res.headers.get('etag')!
  expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/)
  const geo = await res.json()
  expect(geo).toMatchObject({ type: 'FeatureCollection', license: 'CC-BY-4.0' })
  const f = geo.features.find((x: { id: string }) => x.id === 'cm-pol-01')
  expect(f.geometry).toEqual({ type: 'Point', coordinates: [105.45, 9.23] })
  expect(f.properties.name).toBe('Cống Hộ Phòng, "Giá Rai"')
  const latest = f.properties.latest
  expect(latest.salinity.value).toBe(16.86) // the newest of 16.864 / 16.964 / 17.064
  expect(latest.ph.value).toBe(7.12)
  expect(latest.water_level.value).toBe(101)
  expect(latest.no2.value).toBe(0.12)
  expect((await fetch(`${env.tp.apiUrl}/open/v1/stations.geojson`, { headers: { 'if-none-match': etag } })).status).toBe(304)
})

it('GET /api/v1/open/stations.geojson still answers, with the same document, CORS and caching', async () => {
  await ready()
  const [old, now] = await Promise.all([fetch(`${env.tp.apiUrl}/api/v1/open/stations.geojson`), fetch(`${env.tp.apiUrl}/open/v1/stations.geojson`)])
  expect(old.status).toBe(200)
  expect(old.headers.get('access-control-allow-origin')).toBe('*')
  expect(old.headers.get('cache-control')).toBe('public, max-age=60')
  expect(old.headers.get('etag')).toBeTruthy()
  expect(await old.json()).toEqual(await now.json())
})

it('every API rounds values to the sensor precision: /open/v1 raw, aggregated and daily; /api/v1 readings', async () => {
  const end = await ready()
  const from = end - 2 * HOUR
  const to = end + HOUR
  const check = (kind: string, v: unknown, where: string) => {
    expect(typeof v, where).toBe('number')
    expect(decimals(v as number), `${where}: ${v}`).toBeLessThanOrEqual(SENSORS[kind as keyof typeof SENSORS].decimals)
  }
  const raw = await getJson(`${env.tp.apiUrl}/open/v1/stations/cm-pol-01/readings.json?from=${from}&to=${to}`)
  const agg = await getJson(`${env.tp.apiUrl}/open/v1/stations/cm-pol-01/readings.json?from=${from}&to=${to}&every=1h`)
  for (const s of raw.body.series) for (const p of s.points) check(s.sensor, p.value, `raw ${s.sensor}`)
  for (const s of agg.body.series) for (const p of s.points) for (const k of ['mean', 'min', 'max']) check(s.sensor, p[k], `1h ${s.sensor} ${k}`)
  const salinityMean = agg.body.series.find((s: { sensor: string }) => s.sensor === 'salinity').points[0].mean
  expect(salinityMean).toBe(17.01) // the hour before `end` holds 16.964 and 17.064: mean 17.014000000000003 in floating point
  const daily = await getJson(`${env.tp.apiUrl}/open/v1/stations/cm-pol-01/daily.json`)
  for (const d of daily.body.days) for (const [k, v] of Object.entries(d.sensors as Record<string, Record<string, number>>)) for (const x of ['min', 'max', 'mean']) check(k, v[x], `daily ${k} ${x}`)
  const api = await getJson(`${env.tp.apiUrl}/api/v1/stations/cm-pol-01/readings?from=${from}&to=${to}&every=1h`, env.tp.adminToken)
  expect(api.status).toBe(200)
  expect(api.body.stationName).toBe('Cống Hộ Phòng, "Giá Rai"')
  for (const s of api.body.series) for (const row of s.values) for (const v of row.slice(1)) check(s.sensor, v, `api ${s.sensor}`)
})

it('every CSV download starts with a UTF-8 BOM and names the station', async () => {
  const end = await ready()
  const q = `from=${end - 2 * HOUR}&to=${end + HOUR}`
  for (const [path, header] of [
    [`/open/v1/stations/cm-pol-01/readings.csv?${q}`, 'station,station_name,sensor,unit,time,value,late'],
    [`/open/v1/stations/cm-pol-01/daily.csv`, 'station,station_name,date,sensor,unit,min,max,mean,count,hours_with_data,hours_warning,hours_danger'],
    [`/api/v1/open/readings.csv?station=cm-pol-01&${q}`, 'station,station_name,sensor,unit,time,mean,min,max,count'],
    [`/api/v1/stations/cm-pol-01/readings.csv?${q}`, 'station,station_name,sensor,unit,time,value,late'],
  ] as const) {
    const res = await fetch(`${env.tp.apiUrl}${path}`, { headers: { authorization: `Bearer ${env.tp.adminToken}` } })
    expect(res.status, path).toBe(200)
    const bytes = Buffer.from(await res.arrayBuffer())
    expect([...bytes.subarray(0, 3)], path).toEqual([0xef, 0xbb, 0xbf])
    const lines = bytes.subarray(3).toString('utf8').trimEnd().split(/\r?\n/)
    expect(lines[0], path).toBe(header)
    // The name has a comma and quotes: quoted as RFC 4180 says.
    expect(lines[1], path).toMatch(/^cm-pol-01,"Cống Hộ Phòng, ""Giá Rai""",/)
    expect(lines.slice(1).join('\n'), path).not.toMatch(/\d\.\d{4,}/)
  }
})
