/**
 * Issue 11 part 6: every endpoint that offers `every=` cuts days (and 6 h /
 * 12 h buckets) on Asia/Ho_Chi_Minh wall-clock boundaries, not at 00:00Z
 * (07:00 local). Readings go over MQTT through the ingest into a real
 * influxd; each endpoint is asked as JSON and as CSV where it has both.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LOCAL_TZ, localBucketOffsetMs, localDate, localDayStart } from '../../core/local-time.ts'
import { startTestInflux, startTestPlatform, tempDir, type TestInflux, type TestPlatform } from '../helpers/platform.ts'
import { localDateOf, localTime, stationWithReadings, type Reading } from '../board/pipeline.ts'

const DAY = 86_400_000
const HOUR = 3_600_000
const STATION = 'cm-ld-01'
/** A local day three days ago: complete, and young enough for the ingest's max age. */
const D = localDateOf(Date.now() - 3 * DAY)
const NEXT = localDateOf(localTime(D, 12) + DAY)
const iso = (ms: number) => new Date(ms).toISOString()

/**
 * Local D 05:30 → 5, D 06:30 → 7, D 23:30 → 1, NEXT 00:30 → 3 (salinity, ‰).
 * In UTC these are D-1 22:30Z, D-1 23:30Z, D 16:30Z and D 17:30Z: UTC days
 * would group {5, 7} and {1, 3}; local days group {5, 7, 1} and {3}. 6 h
 * buckets at 00/06/12/18 local keep 05:30 and 06:30 apart (UTC-aligned ones,
 * 18Z–24Z, would not).
 */
const READINGS: Reading[] = [
  { ts: localTime(D, 5, 30), values: { salinity: 5 } },
  { ts: localTime(D, 6, 30), values: { salinity: 7 } },
  { ts: localTime(D, 23, 30), values: { salinity: 1 } },
  { ts: localTime(NEXT, 0, 30), values: { salinity: 3 } },
]
/** Range starts mid-morning local, so a bucket time at local midnight comes from the bucketing, not from `from`. */
const FROM = encodeURIComponent(new Date(localTime(D, 3)).toISOString())
const TO = encodeURIComponent(new Date(localTime(NEXT, 12)).toISOString())
const RANGE = `sensor=salinity&from=${FROM}&to=${TO}`

/** Expected [bucket start, min, max] for each bucket width. */
const EXPECTED: Record<string, Array<[number, number, number]>> = {
  '1d': [
    [localDayStart(D), 1, 7],
    [localDayStart(NEXT), 3, 3],
  ],
  '12h': [
    [localTime(D, 0), 5, 7],
    [localTime(D, 12), 1, 1],
    [localTime(NEXT, 0), 3, 3],
  ],
  '6h': [
    [localTime(D, 0), 5, 5],
    [localTime(D, 6), 7, 7],
    [localTime(D, 18), 1, 1],
    [localTime(NEXT, 0), 3, 3],
  ],
}

let tmp: ReturnType<typeof tempDir>
let influx: TestInflux
let tp: TestPlatform

async function get(path: string): Promise<{ status: number; text: string; body: any; type: string }> {
  const res = await fetch(`${tp.apiUrl}${path}`)
  const text = await res.text()
  const type = res.headers.get('content-type') ?? ''
  return { status: res.status, text, type, body: type.includes('json') ? JSON.parse(text) : text }
}

/** CSV rows as objects by header; every CSV here is plain (no quoted fields), LF or CRLF. */
function parseCsv(text: string): Array<Record<string, string>> {
  const [header, ...rows] = text.trim().split(/\r?\n/).map((l) => l.split(','))
  return rows.map((r) => Object.fromEntries(header!.map((h, i) => [h, r[i]!])))
}

beforeAll(async () => {
  tmp = tempDir()
  influx = await startTestInflux(tmp.dir)
  tp = await startTestPlatform({ dir: tmp.dir, influxUrl: influx.server.url })
  await stationWithReadings(tp, { id: STATION, name: 'Trạm ngày địa phương', lat: 8.9, lon: 105.1 }, READINGS)
  expect(await tp.platform.ingest!.drained()).toBe(true)
  expect(await influx.values(`"station" = '${STATION}'`)).toBe(READINGS.length)
})

afterAll(async () => {
  await tp?.stop()
  await influx?.server.stop()
  tmp?.cleanup()
})

describe('core/local-time', () => {
  it('puts InfluxQL bucket boundaries on local wall-clock boundaries', () => {
    // 1d and 12h: boundaries at 17:00Z (local midnight); 6h: 05/11/17/23Z; 1h and below: no shift.
    expect(localBucketOffsetMs(DAY)).toBe(17 * HOUR)
    expect(localBucketOffsetMs(12 * HOUR)).toBe(5 * HOUR)
    expect(localBucketOffsetMs(6 * HOUR)).toBe(5 * HOUR)
    expect(localBucketOffsetMs(HOUR)).toBe(0)
    expect(localBucketOffsetMs(15 * 60_000)).toBe(0)
    expect(localBucketOffsetMs(7 * DAY)).toBe(7 * DAY - 7 * HOUR)
    expect(() => localBucketOffsetMs(0)).toThrow(RangeError)
  })

  it('maps instants to local dates and back', () => {
    expect(localDayStart('2025-03-01')).toBe(Date.parse('2025-02-28T17:00:00Z'))
    expect(localDate(Date.parse('2025-02-28T16:59:59.999Z'))).toBe('2025-02-28')
    expect(localDate(Date.parse('2025-02-28T17:00:00Z'))).toBe('2025-03-01')
  })
})

describe('GET /api/v1/stations/:id/readings', () => {
  it.each(Object.keys(EXPECTED))('every=%s: JSON buckets start on local boundaries and say the zone', async (every) => {
    const r = await get(`/api/v1/stations/${STATION}/readings?${RANGE}&every=${every}`)
    expect(r.status).toBe(200)
    expect(r.body).toMatchObject({ every, timeZone: LOCAL_TZ, utcOffset: '+07:00' })
    const [series] = r.body.series
    expect(series.columns).toEqual(['ts', 'value', 'min', 'max'])
    expect(series.values.map(([ts, , min, max]: [string, number, number, number]) => [ts, min, max])).toEqual(EXPECTED[every]!.map(([t, min, max]) => [iso(t), min, max]))
  })

  it('every=1d: CSV rows are local days, timed at local midnight', async () => {
    const r = await get(`/api/v1/stations/${STATION}/readings.csv?${RANGE}&every=1d`)
    expect(r.status).toBe(200)
    expect(r.type).toContain('text/csv')
    const rows = parseCsv(r.text)
    expect(rows.map((x) => [x.time, Number(x.min), Number(x.max)])).toEqual(EXPECTED['1d']!.map(([t, min, max]) => [iso(t), min, max]))
    expect(rows[0]!.time).toBe(`${localDateOf(localTime(D, 0) - DAY)}T17:00:00.000Z`)
  })

  it('refuses a bucket longer than a year with 400, not an InfluxDB failure', async () => {
    const r = await get(`/api/v1/stations/${STATION}/readings?every=999999d`)
    expect(r.status).toBe(400)
    expect(r.body.error.code).toBe('BAD_REQUEST')
  })
})

describe('GET /api/v1/open/readings.csv', () => {
  it('every=1d: rows are local days, timed at local midnight, with the count of each', async () => {
    const r = await get(`/api/v1/open/readings.csv?station=${STATION}&${RANGE}&every=1d`)
    expect(r.status).toBe(200)
    expect(r.type).toContain('text/csv')
    expect(parseCsv(r.text).map((x) => [x.time, Number(x.min), Number(x.max), Number(x.count)])).toEqual([
      [iso(localDayStart(D)), 1, 7, 3],
      [iso(localDayStart(NEXT)), 3, 3, 1],
    ])
  })
})

describe('GET /open/v1/stations/:id/readings', () => {
  it.each(Object.keys(EXPECTED))('every=%s: JSON buckets start on local boundaries', async (every) => {
    const r = await get(`/open/v1/stations/${STATION}/readings.json?${RANGE}&every=${every}`)
    expect(r.status).toBe(200)
    const [series] = r.body.series
    expect(series.points.map((p: { time: string; min: number; max: number }) => [p.time, p.min, p.max])).toEqual(EXPECTED[every]!.map(([t, min, max]) => [iso(t), min, max]))
  })

  it('every=1d: CSV rows are local days', async () => {
    const r = await get(`/open/v1/stations/${STATION}/readings.csv?${RANGE}&every=1d`)
    expect(r.status).toBe(200)
    expect(parseCsv(r.text).map((x) => [x.time, Number(x.count)])).toEqual([
      [iso(localDayStart(D)), 3],
      [iso(localDayStart(NEXT)), 1],
    ])
  })

  it('the daily summary agrees: 23:30 and 00:30 local fall on different dates', async () => {
    const r = await get(`/open/v1/stations/${STATION}/daily.json?from=${D}&to=${NEXT}&sensor=salinity`)
    expect(r.status).toBe(200)
    expect(r.body.days.map((d: { date: string; sensors: { salinity: { count: number; min: number; max: number } } }) => [d.date, d.sensors.salinity.count, d.sensors.salinity.min, d.sensors.salinity.max])).toEqual([
      [D, 3, 1, 7],
      [NEXT, 1, 3, 3],
    ])
  })
})
