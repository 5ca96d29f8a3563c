/**
 * The demo's first-start backfill against real servers: influxd (Debian
 * 1.6.7) and the platform's embedded Aedes broker + ingest. The history goes
 * in as store-and-forward batches with each station's own credentials.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BACKFILL_MARKER, startDemoBackfill } from '../../cli/demo-backfill.ts'
import { eventually, startTestInflux, startTestPlatform, tempDir, type TestInflux, type TestPlatform } from '../helpers/platform.ts'
import { log } from './helpers.ts'

const DAY = 86_400_000
const IDS = ['cm-namcan-01', 'cm-camau-01', 'cm-songdoc-01'] as const

let tmp: ReturnType<typeof tempDir>
let influx: TestInflux
let tp: TestPlatform
let stations: Array<{ id: string; secret: string }>

beforeAll(async () => {
  tmp = tempDir()
  influx = await startTestInflux(tmp.dir)
  tp = await startTestPlatform({ dir: tmp.dir, influxUrl: influx.server.url, parts: { broker: true, ingest: 'embedded' } })
  stations = []
  for (const id of IDS) {
    const creds = await tp.platform.registry.add({ id, name: id, lat: 9, lon: 105 })
    stations.push({ id, secret: creds.password })
  }
})

afterAll(async () => {
  await tp?.stop()
  await influx?.server.stop()
  tmp?.cleanup()
})

/** Count, first and last time of one station's readings of one sensor, and how many are not late. */
async function history(id: string): Promise<{ count: number; first: number; last: number; onTime: number }> {
  const sensor = id === 'cm-namcan-01' ? 'conductivity' : 'water_level'
  const where = `"station" = '${id}'`
  const [series = []] = await influx.query.query(`SELECT count("${sensor}") FROM "station_reading" WHERE ${where}`)
  const count = (series[0]?.values[0]?.[1] as number | undefined) ?? 0
  const [firstS = []] = await influx.query.query(`SELECT first("${sensor}") FROM "station_reading" WHERE ${where}`)
  const [lastS = []] = await influx.query.query(`SELECT last("${sensor}") FROM "station_reading" WHERE ${where}`)
  const onTime = await influx.values(`${where} AND "late" = false`, [sensor])
  return { count, first: firstS[0]?.values[0]?.[0] as number, last: lastS[0]?.values[0]?.[0] as number, onTime }
}

describe('demo backfill on first start', () => {
  it('sends 7 days of 15-minute readings per station through the broker, all late, then writes the marker', async () => {
    const now = Date.now()
    const lateAfterSec = tp.config.ingest.lateAfterSec
    const backfill = startDemoBackfill({ dataDir: tp.dataDir, brokerUrl: tp.mqttUrl, stations, lateAfterSec, pauseMs: 20, now, log })
    expect(backfill).toBeDefined()
    // Started in the background: the marker appears only once every batch is acknowledged.
    expect(existsSync(join(tp.dataDir, BACKFILL_MARKER))).toBe(false)
    await backfill!.done
    const marker = JSON.parse(readFileSync(join(tp.dataDir, BACKFILL_MARKER), 'utf8')) as { acked: Record<string, number> }

    // 7 days at 15 minutes, less the last ~16 minutes that are left to the live simulator.
    const expected = Math.floor((7 * DAY - lateAfterSec * 1000 - 60_000) / 900_000)
    for (const id of IDS) {
      expect(marker.acked[id], id).toBeGreaterThanOrEqual(expected - 1)
      expect(marker.acked[id], id).toBeLessThanOrEqual(expected + 1)
      const h = await eventually(async () => {
        const r = await history(id)
        return r.count === marker.acked[id] ? r : undefined
      }, 30_000)
      expect(h, `${id}: every acknowledged reading stored`).toBeDefined()
      expect(h!.first).toBeGreaterThanOrEqual(now - 7 * DAY)
      expect(h!.first).toBeLessThan(now - 7 * DAY + 900_000)
      expect(h!.last).toBeLessThan(now - lateAfterSec * 1000)
      // Late, so the alerter never sends an SMS for history.
      expect(h!.onTime).toBe(0)
    }
  })

  it('does not backfill again on a second start', async () => {
    const before = await Promise.all(IDS.map((id) => history(id)))
    expect(startDemoBackfill({ dataDir: tp.dataDir, brokerUrl: tp.mqttUrl, stations, lateAfterSec: 900, log })).toBeUndefined()
    expect(await Promise.all(IDS.map((id) => history(id)))).toEqual(before)
  })

  it('leaves no marker when the broker refuses the station, so the next start tries again', async () => {
    const other = tempDir()
    try {
      const backfill = startDemoBackfill({
        dataDir: other.dir,
        brokerUrl: tp.mqttUrl,
        stations: [{ id: 'cm-namcan-01', secret: 'wrong-secret' }],
        lateAfterSec: 900,
        days: 1,
        log,
      })
      await backfill!.done
      expect(existsSync(join(other.dir, BACKFILL_MARKER))).toBe(false)
    } finally {
      other.cleanup()
    }
  })
})
