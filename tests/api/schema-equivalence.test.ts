/**
 * The readings' schema change (influx/schema.ts) against real influxd 1.6.7:
 * the same fixture stored in the new schema directly and stored in the legacy
 * one (a `reading` point per sensor value, `reading_1h` rollups) then moved by
 * migrateReadingSchema() gives the same points, and every API, open-data,
 * board and SensorThings answer (tests/api/schema-requests.ts) and every
 * dashboard panel gives the same result on both.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applyRetention } from '../../influx/retention.ts'
import { migrateReadingSchema } from '../../influx/schema-migration.ts'
import { renderDashboards } from '../../dashboards/build.ts'
import { buildFixture, writeLines, type FixtureSchema } from '../dashboards/fixtures.ts'
import { expandQuery, parseRelative } from '../dashboards/grafana-macros.ts'
import { startTestInflux, startTestPlatform, tempDir, type TestInflux, type TestPlatform } from '../helpers/platform.ts'
import { STA_LIMITS } from '../../api/sta/limits.ts'
import { REGISTRY_CHECK_MS } from '../../api/sta/routes.ts'
import { collectAnswers, registerFixtureStations } from './schema-requests.ts'

const DB = 'tidewatch'
const now = Date.now()

interface Side {
  tmp: ReturnType<typeof tempDir>
  influx: TestInflux
  tp: TestPlatform
}

async function side(schema: FixtureSchema): Promise<Side> {
  const tmp = tempDir()
  const influx = await startTestInflux(tmp.dir, DB)
  await applyRetention(influx.query, { database: DB, rawRetention: '400d' })
  const fixture = buildFixture(now, schema)
  await writeLines(influx.server.url, DB, '', fixture.raw)
  await writeLines(influx.server.url, DB, 'long', fixture.long)
  const tp = await startTestPlatform({ dir: tmp.dir, influxUrl: influx.server.url, parts: { api: true } })
  await registerFixtureStations(tp.platform.registry)
  return { tmp, influx, tp }
}

let direct: Side
let migrated: Side
let firstRun: Awaited<ReturnType<typeof migrateReadingSchema>>

beforeAll(async () => {
  ;[direct, migrated] = await Promise.all([side('station_reading'), side('legacy')])
  firstRun = await migrateReadingSchema(migrated.influx.query, { database: DB })
}, 120_000)

afterAll(async () => {
  for (const s of [direct, migrated]) {
    if (!s) continue
    await s.tp.stop()
    await s.influx.server.stop()
    s.tmp.cleanup()
  }
})

async function contents(s: Side, q: string): Promise<unknown> {
  return s.influx.query.query(q)
}

describe('migrateReadingSchema on influxd 1.6.7', () => {
  it('merges the per-value points of a reading into one point, per RP, and drops the legacy measurements', async () => {
    expect(firstRun.dropped.sort()).toEqual(['reading', 'reading_1h'])
    const [measurements] = await migrated.influx.query.query('SHOW MEASUREMENTS')
    const names = measurements![0]!.values.map((v) => v[0])
    expect(names).toContain('station_reading')
    expect(names).not.toContain('reading')
    // The rollup CQ (influx/retention.ts, RESAMPLE EVERY 1h FOR 1d) recomputes the last day's
    // rollups from the raw points whenever it runs, on the direct side only (the migrated side has
    // no station_reading until the migration), so that day depends on the clock: compare before it.
    const beforeCqWindow = `time < ${(now - 25 * 3_600_000) * 1_000_000}`
    for (const q of ['SELECT * FROM "raw"."station_reading" GROUP BY "station"', `SELECT * FROM "long"."station_reading_1h" WHERE ${beforeCqWindow} GROUP BY "station"`]) {
      const [want, got] = await Promise.all([contents(direct, q), contents(migrated, q)])
      expect(JSON.stringify(want).length, `${q} holds the fixture`).toBeGreaterThan(10_000)
      expect(got, q).toEqual(want)
    }
  })

  it('is idempotent, and moves legacy points written after it (a spool replay) on the next run', async () => {
    expect(await migrateReadingSchema(migrated.influx.query, { database: DB })).toEqual({ written: {}, dropped: [] })
    const t = Math.floor(now / 60_000) * 60_000 - 7 * 86_400_000 + 1
    await writeLines(migrated.influx.server.url, DB, '', [
      `reading,sensor=salinity,station=CM-REPLAY value=4.5,raw=4.4,late=true,delay_s=600.0,seq=9i ${t}`,
      `reading,sensor=ph,station=CM-REPLAY value=7.5,raw=7.5,late=true,delay_s=600.0,seq=9i ${t}`,
    ])
    const again = await migrateReadingSchema(migrated.influx.query, { database: DB, chunkMs: 3_600_000 })
    expect(again.dropped).toEqual(['reading'])
    const [series] = await migrated.influx.query.query(`SELECT "salinity", "salinity_raw", "ph", "late", "delay_s", "seq" FROM "station_reading" WHERE "station" = 'CM-REPLAY'`)
    expect(series![0]!.values).toEqual([[t, 4.5, 4.4, 7.5, true, 600, 9]])
    await migrated.influx.query.query(`DROP SERIES FROM "station_reading" WHERE "station" = 'CM-REPLAY'`, { method: 'POST' })
  })
})

describe('the same answers from both', () => {
  it('API, open data, board and SensorThings', async () => {
    const [want, got] = await Promise.all([collectAnswers(direct.tp.apiUrl, direct.tp.adminToken, now), collectAnswers(migrated.tp.apiUrl, migrated.tp.adminToken, now)])
    for (const [path, answer] of Object.entries(want)) {
      expect(answer.status, `${path}: ${answer.body.slice(0, 300)}`).toBe(200)
      // Non-empty: the fixture has data for every request.
      expect(answer.body.length, path).toBeGreaterThan(50)
      expect(got[path], path).toEqual(answer)
    }
  })

  it('every dashboard panel', async () => {
    for (const d of renderDashboards()) {
      const time = d.model.time as { from: string; to: string }
      const range = { from: parseRelative(time.from, now), to: parseRelative(time.to, now) }
      for (const panel of d.model.panels as Array<{ title: string; interval?: string; gridPos: { w: number }; targets?: Array<{ query: string }> }>) {
        for (const t of panel.targets ?? []) {
          const q = expandQuery(t.query, { range, vars: { station: { value: ['CM-001', 'CM-002', 'CM-003', 'CM-004'], multi: true, includeAll: true } }, resolution: 1000, minInterval: panel.interval })
          const [want, got] = await Promise.all([contents(direct, q), contents(migrated, q)])
          expect(got, `${d.uid} / ${panel.title}`).toEqual(want)
        }
      }
    }
  })
})

describe('SensorThings pages deeper than STA_LIMITS.maxScan across datastreams', () => {
  // CM-DEEP: 6,000 readings of the four core sensors a minute apart, 40 days back (before the fixture's raw days).
  const READINGS = 6000
  const SENSORS = ['no2', 'ph', 'salinity', 'water_level'] // the order within one instant, oldest first
  const start = Math.floor(now / 60_000) * 60_000 - 40 * 86_400_000
  const at = (i: number) => start + i * 60_000
  /** Observation ids in order: each reading's instant, then sensor (both reversed newest first). */
  const idsOf = (desc: boolean, skip: number, top: number) => {
    const all = Array.from({ length: READINGS * 4 }, (_, k) => `CM-DEEP:${SENSORS[k % 4]}:${at(Math.floor(k / 4))}`)
    return (desc ? all.reverse() : all).slice(skip, skip + top)
  }

  beforeAll(async () => {
    await direct.tp.platform.registry.add({ id: 'CM-DEEP', name: 'Trạm sâu', lat: 9.5, lon: 105 })
    const lines = Array.from({ length: READINGS }, (_, i) => `station_reading,station=CM-DEEP no2=0.1,ph=7.${i % 10},salinity=${(i % 50) / 10},water_level=${i % 200},late=false,delay_s=1.0 ${at(i)}`)
    await writeLines(direct.influx.server.url, DB, '', lines)
    // The API lists stations at most once per REGISTRY_CHECK_MS (api/sta/routes.ts): the requests
    // of the tests before may have listed them just now, without CM-DEEP. Wait for the next listing.
    for (let tries = 0; (await fetch(`${direct.tp.apiUrl}/sta/v1.1/FeaturesOfInterest('CM-DEEP')`)).status !== 200; tries++) {
      if (tries > 50) throw new Error('CM-DEEP never reached the SensorThings API')
      await new Promise((r) => setTimeout(r, REGISTRY_CHECK_MS))
    }
  })

  const ids = async (path: string) => {
    const res = await fetch(`${direct.tp.apiUrl}/sta/v1.1${path}`)
    expect(res.status, path).toBe(200)
    return ((await res.json()) as { value: Array<{ '@iot.id': string }> }).value.map((o) => o['@iot.id'])
  }

  it('pages one FeatureOfInterest newest and oldest first, on both sides of the limit', async () => {
    expect(READINGS * 4).toBeGreaterThan(STA_LIMITS.maxScan + 1000)
    for (const skip of [STA_LIMITS.maxScan - 10, STA_LIMITS.maxScan + 3, READINGS * 4 - 3]) {
      expect(await ids(`/FeaturesOfInterest('CM-DEEP')/Observations?$top=7&$skip=${skip}`), `desc ${skip}`).toEqual(idsOf(true, skip, 7))
      expect(await ids(`/FeaturesOfInterest('CM-DEEP')/Observations?$orderby=phenomenonTime%20asc&$top=6&$skip=${skip}`), `asc ${skip}`).toEqual(idsOf(false, skip, 6))
    }
    expect(await ids(`/FeaturesOfInterest('CM-DEEP')/Observations?$top=5&$skip=${READINGS * 4}`)).toEqual([])
  })

  it('pages the whole Observations collection narrowed by time', async () => {
    const before = new Date(at(READINGS)).toISOString()
    expect(await ids(`/Observations?$filter=phenomenonTime%20lt%20${before}&$top=5&$skip=${STA_LIMITS.maxScan + 2}`)).toEqual(idsOf(true, STA_LIMITS.maxScan + 2, 5))
  })
})
