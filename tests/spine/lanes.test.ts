/**
 * The ingest's two spool lanes, against a real broker and a real InfluxDB
 * that starts late: while InfluxDB is down the lanes hold what they were
 * given — a station's replayed batch and a late reading in the backlog lane,
 * the current single reading in the live lane — and once it is up both drain
 * into the same database. Values stay below every alert level, so no alert
 * points join the live lane.
 */
import { afterAll, expect, it } from 'vitest'
import type { ManagedInflux } from '../../influx/managed.ts'
import { createQueryClient } from '../../influx/query.ts'
import { startWithInfluxDown, tempDir, type TestPlatform } from '../helpers/platform.ts'

const tmp = tempDir()
let tp: TestPlatform | undefined
let influx: ManagedInflux | undefined
afterAll(async () => {
  await tp?.stop()
  await influx?.stop()
  tmp.cleanup()
})

it('routes batches and late readings to the backlog lane and live readings to the live lane; both reach InfluxDB', async () => {
  const started = await startWithInfluxDown(tmp.dir, 'cm-lane-01')
  tp = started.tp
  const station = started.station
  const now = Date.now()
  const backlog = Array.from({ length: 200 }, (_, i) => ({ ts: now - 3_600_000 + i * 15_000, values: { salinity: 0.5 + i / 1000 } }))
  await station.publishAsync('stations/cm-lane-01/readings', JSON.stringify({ readings: backlog }), { qos: 1 })
  await station.publishAsync('stations/cm-lane-01/readings', JSON.stringify({ ts: now - 2 * 3_600_000, values: { salinity: 1.5 } }), { qos: 1 })
  await station.publishAsync('stations/cm-lane-01/readings', JSON.stringify({ ts: now, values: { salinity: 0.8 } }), { qos: 1 })
  await station.endAsync()

  const ingest = tp.platform.ingest!
  expect(ingest.spool.lag('primary')).toBe(201)
  expect(ingest.liveSpool.lag('primary')).toBe(1)
  expect(ingest.lag('primary')).toBe(202)

  influx = await started.startInflux()
  expect(await ingest.drained(60_000)).toBe(true)
  const q = createQueryClient({ url: influx.url, database: 'tidewatch' })
  const [rows = []] = await q.query(`SELECT count("salinity") FROM "raw"."station_reading" WHERE "station" = 'cm-lane-01'`)
  expect(rows[0]!.values[0]![1]).toBe(202)
})
