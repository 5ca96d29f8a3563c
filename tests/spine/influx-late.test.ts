/**
 * InfluxDB is down when tidewatch starts: readings are acknowledged into the
 * spool, and once InfluxDB comes up the database, the retention policies and
 * the rollup are created before the first write, so nothing lands in
 * `autogen` (where it would vanish from default-RP queries later).
 */
import { afterAll, expect, it } from 'vitest'
import type { ManagedInflux } from '../../influx/managed.ts'
import { createQueryClient } from '../../influx/query.ts'
import { eventually, getJson, startWithInfluxDown, tempDir, type TestPlatform } from '../helpers/platform.ts'

const tmp = tempDir()
let tp: TestPlatform | undefined
let influx: ManagedInflux | undefined
afterAll(async () => {
  await tp?.stop()
  await influx?.stop()
  tmp.cleanup()
})

it('creates the retention policies when InfluxDB comes up late, and writes into raw', async () => {
  const started = await startWithInfluxDown(tmp.dir, 'cm-late-01')
  tp = started.tp
  const station = started.station
  const now = Date.now()
  for (let i = 0; i < 3; i++) await station.publishAsync('stations/cm-late-01/readings', JSON.stringify({ ts: now - 3000 + i, values: { salinity: 1 + i } }), { qos: 1 })
  await station.endAsync()
  expect(tp.platform.ingest!.lag('primary')).toBeGreaterThan(0)

  influx = await started.startInflux()
  expect(await tp.platform.ingest!.drained(60_000)).toBe(true)
  const q = createQueryClient({ url: influx.url, database: 'tidewatch' })
  const [rps = []] = await q.query('SHOW RETENTION POLICIES')
  const rows = rps[0]!.values.map((v) => [v[0], v[4]])
  expect(rows).toContainEqual(['raw', true])
  const [raw = []] = await q.query('SELECT count("salinity") FROM "raw"."station_reading"')
  expect(raw[0]!.values[0]![1]).toBe(3)
  const [cqs = []] = await q.query('SHOW CONTINUOUS QUERIES')
  expect(JSON.stringify(cqs)).toContain('station_reading_1h')
  const latest = await eventually(async () => (await getJson(`${tp!.apiUrl}/api/v1/stations/cm-late-01/latest`)).body.sensors?.salinity)
  expect(latest.value).toBe(3)
})
