import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startManagedInflux, type ManagedInflux } from '../../influx/managed.ts'
import { createQueryClient, type InfluxQueryClient } from '../../influx/query.ts'
import { ROLLUP_CQ, applyRetention, durationMs } from '../../influx/retention.ts'
import { writeLines } from './fixtures.ts'

const DB = 'tidewatch'
let influx: ManagedInflux
let client: InfluxQueryClient
let dir: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tidewatch-rp-'))
  influx = await startManagedInflux({ dir })
  client = createQueryClient({ url: influx.url, database: DB })
})
afterAll(async () => {
  await influx?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

async function rps() {
  const [[s]] = (await client.query(`SHOW RETENTION POLICIES ON "${DB}"`)) as any
  return Object.fromEntries(s.values.map((v: any[]) => [v[0], { duration: v[1], default: v[4] }]))
}
async function cqs(): Promise<string[]> {
  const [series] = await client.query('SHOW CONTINUOUS QUERIES')
  return (series!.find((s) => s.name === DB)?.values ?? []).map((v) => String(v[0]))
}

describe('applyRetention on InfluxDB 1.x', () => {
  it('parses InfluxQL and SHOW durations', () => {
    expect(durationMs('400d')).toBe(400 * 86_400_000)
    expect(durationMs('9600h0m0s')).toBe(400 * 86_400_000)
    expect(durationMs('1h30m')).toBe(5_400_000)
    expect(durationMs('INF')).toBe(0)
    expect(() => durationMs('400 days')).toThrow()
  })

  it('creates the database, raw (default) and long (infinite) RPs and the rollup CQ, and re-runs cleanly', async () => {
    await applyRetention(client, { database: DB, rawRetention: '400d' })
    await applyRetention(client, { database: DB, rawRetention: '400d' })
    expect(await rps()).toMatchObject({ raw: { duration: '9600h0m0s', default: true }, long: { duration: '0s', default: false } })
    expect(await cqs()).toEqual([ROLLUP_CQ])
  })

  it('alters the raw duration when the configuration changes', async () => {
    await applyRetention(client, { database: DB, rawRetention: '30d' })
    expect((await rps()).raw).toEqual({ duration: '720h0m0s', default: true })
  })

  it('rejects a raw retention under 1h before touching the database', async () => {
    await expect(applyRetention(client, { database: DB, rawRetention: '30m' })).rejects.toMatchObject({ code: 'CONFIG_INVALID' })
    expect((await rps()).raw.duration).toBe('720h0m0s')
  })

  it('replaces an older rollup CQ and recreates a missing one', async () => {
    await client.query(`DROP CONTINUOUS QUERY "${ROLLUP_CQ}" ON "${DB}"`, { method: 'POST' })
    await client.query(
      `CREATE CONTINUOUS QUERY "cq_reading_1h" ON "${DB}" BEGIN SELECT mean("value") AS "mean" INTO "${DB}"."long"."reading_1h" FROM "${DB}"."raw"."reading" GROUP BY time(1h), * END`,
      { method: 'POST' },
    )
    await applyRetention(client, { database: DB, rawRetention: '30d' })
    expect(await cqs()).toEqual([ROLLUP_CQ])
  })

  it('the CQ rolls raw readings up into "long"."station_reading_1h" by station, a field per sensor and aggregate', async () => {
    const hour = 3_600_000
    const prevHour = Math.floor(Date.now() / hour) * hour - hour
    // ph only in two of the four readings: its aggregates count those two.
    const lines = [0, 15, 30, 45].map((m, i) => `station_reading,station=CQ-1 salinity=${i + 1}${i % 2 ? `,ph=${6 + i}` : ''},late=false ${prevHour + m * 60_000}`)
    await writeLines(influx.url, DB, '', lines)
    // A newly created CQ runs at the next check (run-interval 1s in the managed
    // config); recreate it so that first run sees the data just written.
    await client.query(`DROP CONTINUOUS QUERY "${ROLLUP_CQ}" ON "${DB}"`, { method: 'POST' })
    await applyRetention(client, { database: DB, rawRetention: '30d' })
    let rows: unknown[][] = []
    // Poll with a generous bound; the assertion is on content, not on how fast.
    for (let i = 0; i < 300 && rows.length === 0; i++) {
      const [series] = await client.query(
        `SELECT "salinity_mean", "salinity_min", "salinity_max", "salinity_count", "ph_mean", "ph_count", "no2_mean" FROM "long"."station_reading_1h" WHERE "station" = 'CQ-1'`,
      )
      rows = series![0]?.values ?? []
      if (rows.length === 0) await new Promise((r) => setTimeout(r, 100))
    }
    expect(rows).toEqual([[prevHour, 2.5, 1, 4, 4, 8, 2, null]])
  })
})
