/**
 * The latest-values snapshot (api/sta/latest-cache.ts) against a real
 * influxd, with an injected clock: fresh snapshots are served as they are,
 * stale ones while one refresh runs, too-old ones and new series wait.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { LatestCache } from '../../api/sta/latest-cache.ts'
import { eventually, startTestInflux, tempDir, type TestInflux } from '../helpers/platform.ts'

let tmp: ReturnType<typeof tempDir>
let influx: TestInflux
beforeAll(async () => {
  tmp = tempDir()
  influx = await startTestInflux(tmp.dir)
})
afterAll(async () => {
  await influx?.server.stop()
  tmp?.cleanup()
})

const T0 = Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000

async function write(lines: string[]): Promise<void> {
  const res = await fetch(`${influx.server.url}/write?db=tidewatch&precision=ms`, { method: 'POST', body: lines.join('\n') })
  expect(res.status).toBe(204)
}

it('serves a fresh snapshot, revalidates a stale one in the background, waits when too old or a series is new', async () => {
  let now = Date.now()
  let queries = 0
  const counted = { ...influx.query, query: (q: string, o?: Parameters<typeof influx.query.query>[1]) => (queries++, influx.query.query(q, o)) }
  const cache = new LatestCache(counted, { freshMs: 30_000, staleMs: 300_000, clock: () => now })
  await write([`station_reading,station=a salinity=1.5,late=false,delay_s=2.0 ${T0}`, `station_reading,station=a salinity=1.75,salinity_flags="derived_pss78",late=true,delay_s=90.0 ${T0 + 60_000}`])
  const all = () => ['a:salinity']

  const first = await cache.get(['a:salinity'], all)
  expect(first.get('a:salinity')).toEqual({ station: 'a', sensor: 'salinity', ts: T0 + 60_000, value: 1.75, late: true, flags: ['derived_pss78'], delayS: 90 })
  const asked = queries

  // A newer reading within freshMs: the snapshot is served as it is, InfluxDB is not asked.
  await write([`station_reading,station=a salinity=2.0,late=false,delay_s=1.0 ${T0 + 120_000}`])
  now += 10_000
  expect((await cache.get(['a:salinity'], all)).get('a:salinity')!.value).toBe(1.75)
  expect(queries).toBe(asked)

  // Stale: the old answer now, the refreshed one right after.
  now += 30_000
  expect((await cache.get(['a:salinity'], all)).get('a:salinity')!.value).toBe(1.75)
  expect(await eventually(async () => (await cache.get(['a:salinity'], all)).get('a:salinity')!.value === 2)).toBe(true)

  // A series the snapshot did not cover (a new station) waits for a refresh; one silent for days is found further back.
  await write([`station_reading,station=b ph=7.25,late=false,delay_s=1.0 ${T0 - 5 * 86_400_000}`])
  const withB = await cache.get(['b:ph'], () => ['a:salinity', 'b:ph'])
  expect(withB.get('b:ph')!.value).toBe(7.25)

  // Past staleMs the request waits for fresh data.
  await write([`station_reading,station=a salinity=3.0,late=false,delay_s=1.0 ${T0 + 180_000}`])
  now += 400_000
  expect((await cache.get(['a:salinity'], () => ['a:salinity', 'b:ph'])).get('a:salinity')!.value).toBe(3)
})
