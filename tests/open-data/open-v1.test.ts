/**
 * Open data v1 against real servers: readings published over MQTT, stored
 * by the ingest in influxd, served by /open/v1 (docs/OPEN-DATA.md).
 */
import Fastify from 'fastify'
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../../core/log.ts'
import { Registry } from '../../devices/registry.ts'
import { openDatabase } from '../../core/sqlite.ts'
import { errorHandler } from '../../api/errors.ts'
import { openV1Routes } from '../../api/routes/open-v1.ts'
import type { ApiDeps } from '../../api/server.ts'
import { startTestInflux, startTestPlatform, tempDir, type TestInflux, type TestPlatform } from '../helpers/platform.ts'
import { localDateOf, localTime, stationWithReadings, type Reading } from '../board/pipeline.ts'

let tmp: ReturnType<typeof tempDir>
let influx: TestInflux
let tp: TestPlatform
let base: string

const DAY = 86_400_000
/** A local day three days ago: old enough to be complete, young enough for the ingest's max age. */
const D = localDateOf(Date.now() - 3 * DAY)
const NEXT = localDateOf(Date.parse(`${D}T12:00:00+07:00`) + DAY)

/**
 * Day D, salinity: 00–08 h at 1.0 ‰; 09 h two readings 0.4 and 4.6 (hourly mean 2.5:
 * a warning hour, not a danger hour, though the raw max passes 4); 10–15 h at 3.0
 * (warning); 16–19 h at 5.0 (danger); 20–23 h at 1.5. pH 7.0 every hour.
 * Then 00:10 on the next local day at 9.0 ‰, which must not land in D.
 */
function dayD(): Reading[] {
  const out: Reading[] = []
  for (let h = 0; h < 24; h++) {
    const salinity = h < 9 ? 1 : h === 9 ? 0.4 : h < 16 ? 3 : h < 20 ? 5 : 1.5
    out.push({ ts: localTime(D, h), values: { salinity, ph: 7 } })
    if (h === 9) out.push({ ts: localTime(D, 9, 30), values: { salinity: 4.6 } })
  }
  out.push({ ts: localTime(NEXT, 0, 10), values: { salinity: 9, ph: 7.2 } })
  return out
}

async function get(path: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}${path}`, { headers })
  const text = await res.text()
  let body: any = text
  if ((res.headers.get('content-type') ?? '').includes('json')) body = JSON.parse(text)
  return { status: res.status, headers: res.headers, text, body }
}

beforeAll(async () => {
  tmp = tempDir()
  influx = await startTestInflux(tmp.dir)
  tp = await startTestPlatform({ dir: tmp.dir, influxUrl: influx.server.url })
  base = tp.apiUrl
  await stationWithReadings(tp, { id: 'cm-od-01', name: 'Cống Cái Đôi Vàm', commune: 'Xã Cái Đôi Vàm', district: 'Huyện Phú Tân', lat: 8.86, lon: 104.81 }, dayD())
  await tp.platform.registry.add({ id: 'cm-od-empty', name: 'Trạm chưa có số liệu', lat: 9, lon: 105 })
  expect(await tp.platform.ingest!.drained()).toBe(true)
})

afterAll(async () => {
  await tp?.stop()
  await influx?.server.stop()
  tmp?.cleanup()
})

describe('GET /open/v1', () => {
  it('is an index of the open data documents, each link answering, with the licence', async () => {
    for (const base of ['/open/v1', '/open/v1/']) {
      const r = await get(base)
      expect(r.status).toBe(200)
      expect(r.body.license).toBe('CC-BY-4.0')
      const hrefs = r.body.links.map((l: { href: string }) => l.href)
      expect(hrefs).toContain('/open/v1/stations.geojson')
      for (const href of hrefs) {
        const followed = await get(href.replace('{id}', 'cm-od-01'))
        expect(followed.status, href).toBe(200)
      }
    }
  })
})

describe('GET /open/v1/stations', () => {
  it('lists stations with coordinates, sensors with units, latest values with level, and the licence', async () => {
    const r = await get('/open/v1/stations')
    expect(r.status).toBe(200)
    expect(r.body.license).toBe('CC-BY-4.0')
    expect(r.body.licenseUrl).toBe('https://creativecommons.org/licenses/by/4.0/')
    expect(r.body.attribution).toMatch(/tidewatch/)
    const s = r.body.stations.find((x: { id: string }) => x.id === 'cm-od-01')
    // A station registered without a zone is rice (levels/zones.ts DEFAULT_ZONE): 2 ‰ warning, 4 ‰ danger.
    expect(s.zone).toBe('rice')
    expect(s.levels.salinity).toEqual({
      unit: '‰',
      levels: [
        { name: 'warning', severity: 'warning', direction: 'above', threshold: 2 },
        { name: 'danger', severity: 'danger', direction: 'above', threshold: 4 },
      ],
    })
    expect(s).toMatchObject({ name: 'Cống Cái Đôi Vàm', commune: 'Xã Cái Đôi Vàm', district: 'Huyện Phú Tân', lat: 8.86, lon: 104.81 })
    expect(s.sensors).toContainEqual({ kind: 'salinity', label: 'Độ mặn', unit: '‰' })
    // Nitrite's basis is in its unit: mg/L as the ion NO2⁻, not as N.
    expect(s.sensors).toContainEqual({ kind: 'no2', label: 'Nitrit (NO2⁻)', unit: 'mg/L NO2⁻' })
    expect(s.latest.salinity).toEqual({ value: 9, unit: '‰', time: new Date(localTime(NEXT, 0, 10)).toISOString(), level: 'danger', levelName: 'danger' })
    expect(s.latest.ph).toEqual({ value: 7.2, unit: 'pH', time: new Date(localTime(NEXT, 0, 10)).toISOString(), level: 'ok', levelName: null })
    expect(s.lastUpdate).toBe(new Date(localTime(NEXT, 0, 10)).toISOString())
    const empty = r.body.stations.find((x: { id: string }) => x.id === 'cm-od-empty')
    expect(empty.latest).toEqual({})
    expect(empty.lastUpdate).toBeNull()
    expect(JSON.stringify(r.body)).not.toMatch(/password|hash|scrypt/i)
  })

  it('is cacheable: strong ETag, Cache-Control, 304 on If-None-Match', async () => {
    const a = await get('/open/v1/stations')
    const etag = a.headers.get('etag')
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/)
    expect(a.headers.get('cache-control')).toBe('public, max-age=60')
    const b = await get('/open/v1/stations')
    expect(b.headers.get('etag')).toBe(etag)
    const c = await get('/open/v1/stations', { 'if-none-match': etag! })
    expect(c.status).toBe(304)
    expect(c.text).toBe('')
    expect(c.headers.get('etag')).toBe(etag)
    expect(c.headers.get('cache-control')).toBe('public, max-age=60')
    // Weak comparison and lists (RFC 9110 §13.1.2).
    expect((await get('/open/v1/stations', { 'if-none-match': `"nope", W/${etag}` })).status).toBe(304)
    expect((await get('/open/v1/stations', { 'if-none-match': '"nope"' })).status).toBe(200)
  })

  it('allows any origin, including preflight', async () => {
    const r = await get('/open/v1/stations', { origin: 'https://lgsp.camau.gov.vn' })
    expect(r.headers.get('access-control-allow-origin')).toBe('*')
    expect(r.headers.get('access-control-expose-headers')).toMatch(/etag/i)
    const pre = await fetch(`${base}/open/v1/stations/cm-od-01/readings.csv`, {
      method: 'OPTIONS',
      headers: { origin: 'https://example.org', 'access-control-request-method': 'GET' },
    })
    expect(pre.status).toBe(204)
    expect(pre.headers.get('access-control-allow-origin')).toBe('*')
    expect(pre.headers.get('access-control-allow-methods')).toMatch(/GET/)
  })
})

describe('GET /open/v1/stations/:id/readings.{json,csv}', () => {
  const from = encodeURIComponent(`${D}T00:00:00+07:00`)
  const to = encodeURIComponent(`${NEXT}T00:00:00+07:00`)

  it('returns raw readings in a range', async () => {
    const r = await get(`/open/v1/stations/cm-od-01/readings.json?from=${from}&to=${to}`)
    expect(r.status).toBe(200)
    expect(r.body).toMatchObject({ station: 'cm-od-01', every: null, license: 'CC-BY-4.0', from: new Date(localTime(D, 0)).toISOString(), to: new Date(localTime(NEXT, 0)).toISOString() })
    const sal = r.body.series.find((s: { sensor: string }) => s.sensor === 'salinity')
    expect(sal.unit).toBe('‰')
    expect(sal.points).toHaveLength(25)
    expect(sal.points[0]).toEqual({ time: new Date(localTime(D, 0)).toISOString(), value: 1, late: true })
    expect(sal.points.map((p: { value: number }) => p.value)).not.toContain(9)
    expect(r.headers.get('etag')).toBeTruthy()
    expect(r.headers.get('access-control-allow-origin')).toBe('*')
  })

  it('aggregates with every, on local-day boundaries for 1d', async () => {
    const hourly = await get(`/open/v1/stations/cm-od-01/readings.json?from=${from}&to=${to}&every=1h&sensor=salinity`)
    expect(hourly.status).toBe(200)
    expect(hourly.body.series).toHaveLength(1)
    const pts = hourly.body.series[0].points
    expect(pts).toHaveLength(24)
    expect(pts[9]).toEqual({ time: new Date(localTime(D, 9)).toISOString(), mean: 2.5, min: 0.4, max: 4.6, count: 2 })
    const daily = await get(`/open/v1/stations/cm-od-01/readings.json?from=${from}&to=${to}&every=1d&sensor=salinity`)
    expect(daily.body.series[0].points).toEqual([{ time: new Date(localTime(D, 0)).toISOString(), mean: 2.32, min: 0.4, max: 5, count: 25 }])
  })

  it('accepts epoch milliseconds, and a "+" offset that arrived as a space', async () => {
    const r = await get(`/open/v1/stations/cm-od-01/readings.json?from=${localTime(D, 9)}&to=${D}T10:00:00+07:00&sensor=salinity`)
    expect(r.status).toBe(200)
    expect(r.body.series[0].points.map((p: { value: number }) => p.value)).toEqual([0.4, 4.6])
  })

  it('serves CSV with a header row, one row per point, and a download name', async () => {
    const r = await get(`/open/v1/stations/cm-od-01/readings.csv?from=${from}&to=${to}`)
    expect(r.status).toBe(200)
    expect(r.headers.get('content-type')).toBe('text/csv; charset=utf-8')
    expect(r.headers.get('content-disposition')).toBe('attachment; filename="tidewatch-cm-od-01-raw.csv"')
    expect(r.headers.get('x-license')).toBe('CC-BY-4.0')
    // fetch's text() drops the UTF-8 BOM every CSV starts with (tests/open-data/polish.test.ts reads the bytes).
    const lines = r.text.trimEnd().split('\r\n')
    expect(lines[0]).toBe('station,station_name,sensor,unit,time,value,late')
    expect(lines).toContain(`cm-od-01,Cống Cái Đôi Vàm,salinity,‰,${new Date(localTime(D, 9, 30)).toISOString()},4.6,true`)
    expect(lines).toContain(`cm-od-01,Cống Cái Đôi Vàm,ph,pH,${new Date(localTime(D, 0)).toISOString()},7,true`)
    expect(lines).toHaveLength(1 + 25 + 24)
    const agg = await get(`/open/v1/stations/cm-od-01/readings.csv?from=${from}&to=${to}&every=1d`)
    expect(agg.text.split('\r\n')[0]).toBe('station,station_name,sensor,unit,time,mean,min,max,count')
    expect(agg.text).toContain(`cm-od-01,Cống Cái Đôi Vàm,salinity,‰,${new Date(localTime(D, 0)).toISOString()},2.32,0.4,5,25`)
    const c = await get(`/open/v1/stations/cm-od-01/readings.csv?from=${from}&to=${to}`, { 'if-none-match': r.headers.get('etag')! })
    expect(c.status).toBe(304)
  })

  it('answers 400 naming the parameter', async () => {
    const cases: Array<[string, string]> = [
      ['from=yesterday', 'from'],
      ['to=2025-13-01T00:00:00Z', 'to'],
      ['from=2025-03-01T00:00:00', 'from'], // no offset: ambiguous
      ['every=5x', 'every'],
      ['every=0m', 'every'],
      ['sensor=oxygen', 'sensor'],
      [`from=${to}&to=${from}`, 'from'],
      ['from=0&to=1700000000000', 'from'], // more than 366 days
      ['from=1700000000000&to=1725000000000', 'from'], // raw: too many points
      ['from=1700000000000&to=1725000000000&every=1m', 'every'],
    ]
    for (const [qs, parameter] of cases) {
      const r = await get(`/open/v1/stations/cm-od-01/readings.json?${qs}`)
      expect(r.status, qs).toBe(400)
      expect(r.body.error.code, qs).toBe('BAD_REQUEST')
      expect(r.body.error.message, qs).toContain(parameter)
      expect(JSON.stringify(r.body.error.details), qs).toContain(parameter)
      expect(r.headers.get('cache-control'), qs).toBe('no-store')
    }
    const unknown = await get('/open/v1/stations/cm-od-01/readings.json?frm=1')
    expect(unknown.status).toBe(400)
    expect(unknown.body.error.message).toContain('frm')
    const badId = await get('/open/v1/stations/bad%20id!/readings.json')
    expect(badId.status).toBe(400)
    expect(badId.body.error.message).toContain('id')
  })

  it('answers 404 for an unknown station', async () => {
    for (const path of ['/open/v1/stations/cm-nope/readings.json', '/open/v1/stations/cm-nope/readings.csv', '/open/v1/stations/cm-nope/daily.json']) {
      const r = await get(path)
      expect(r.status, path).toBe(404)
      expect(r.body.error.code, path).toBe('STATION_NOT_FOUND')
    }
  })
})

describe('GET /open/v1/stations/:id/daily.{json,csv}', () => {
  it('summarises each local day: min, max, mean, count and hours at each salinity level', async () => {
    const r = await get(`/open/v1/stations/cm-od-01/daily.json?from=${D}&to=${NEXT}`)
    expect(r.status).toBe(200)
    expect(r.body).toMatchObject({ station: 'cm-od-01', from: D, to: NEXT, timeZone: 'Asia/Ho_Chi_Minh', utcOffset: '+07:00', license: 'CC-BY-4.0' })
    expect(r.body.zone).toBe('rice')
    expect(r.body.levels.salinity.levels.map((l: { threshold: number }) => l.threshold)).toEqual([2, 4])
    expect(r.body.days.map((d: { date: string }) => d.date)).toEqual([D, NEXT])
    const [day, next] = r.body.days
    expect(day.sensors.salinity).toEqual({ unit: '‰', min: 0.4, max: 5, mean: 2.32, count: 25, hoursWithData: 24, hoursWarning: 11, hoursDanger: 4 })
    expect(day.sensors.ph).toEqual({ unit: 'pH', min: 7, max: 7, mean: 7, count: 24, hoursWithData: 24, hoursWarning: 0, hoursDanger: 0 })
    expect(next.sensors.salinity).toMatchObject({ max: 9, count: 1, hoursWithData: 1, hoursWarning: 1, hoursDanger: 1 })
  })

  it('serves the summary as CSV', async () => {
    const r = await get(`/open/v1/stations/cm-od-01/daily.csv?from=${D}&to=${D}`)
    expect(r.status).toBe(200)
    expect(r.headers.get('content-type')).toBe('text/csv; charset=utf-8')
    const lines = r.text.trimEnd().split('\r\n')
    expect(lines).toEqual([
      'station,station_name,date,sensor,unit,min,max,mean,count,hours_with_data,hours_warning,hours_danger',
      `cm-od-01,Cống Cái Đôi Vàm,${D},salinity,‰,0.4,5,2.32,25,24,11,4`,
      `cm-od-01,Cống Cái Đôi Vàm,${D},ph,pH,7,7,7,24,24,0,0`,
    ])
  })

  it('defaults to the last 30 local days and answers 400 on bad dates', async () => {
    const r = await get('/open/v1/stations/cm-od-01/daily.json')
    expect(r.status).toBe(200)
    expect(r.body.to).toBe(localDateOf(Date.now()))
    expect(r.body.days.map((d: { date: string }) => d.date)).toContain(D)
    for (const [qs, parameter] of [
      ['from=2025-02-30', 'from'],
      ['to=03/01/2025', 'to'],
      [`from=${NEXT}&to=${D}`, 'from'],
      ['from=2020-01-01&to=2025-01-01', 'from'],
      ['sensor=salt', 'sensor'],
    ] as const) {
      const bad = await get(`/open/v1/stations/cm-od-01/daily.json?${qs}`)
      expect(bad.status, qs).toBe(400)
      expect(bad.body.error.message, qs).toContain(parameter)
    }
  })
})

describe('bounds are checked before InfluxDB is asked', () => {
  it('rejects a too-large request without a single query', async () => {
    const queries: string[] = []
    const registry = new Registry(openDatabase(':memory:'))
    await registry.add({ id: 'cm-b-01', name: 'B', lat: 9, lon: 105 })
    const deps = {
      registry,
      log: silentLogger,
      query: { url: 'http://unused', database: 'x', query: async (q: string) => (queries.push(q), [[]]) },
    } as unknown as ApiDeps
    const app = Fastify()
    app.setValidatorCompiler(validatorCompiler)
    app.setSerializerCompiler(serializerCompiler)
    app.setErrorHandler(errorHandler)
    await app.register(openV1Routes(deps), { prefix: '/open/v1' })
    const r = await app.inject({ url: '/open/v1/stations/cm-b-01/readings.json?from=1700000000000&to=1725000000000' })
    expect(r.statusCode).toBe(400)
    expect(r.json().error.details).toMatchObject({ parameter: 'from', maxPoints: 100_000 })
    expect(queries).toEqual([])
    const ok = await app.inject({ url: '/open/v1/stations/cm-b-01/readings.json?from=1700000000000&to=1700086400000' })
    expect(ok.statusCode).toBe(200)
    expect(queries).toHaveLength(1)
    await app.close()
    registry.close()
  })
})
