/**
 * cluster/metadata/mirror.ts against a real PostgreSQL 15 and a real SQLite
 * registry file: an API node's registry follows the shared metadata (issue 16,
 * API nodes), read by another connection as the API reads it, while what was
 * only ever local stays.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { Registry } from '../../devices/registry.ts'
import { RuleBook } from '../../levels/book.ts'
import { RegistryMirror } from '../../cluster/metadata/mirror.ts'
import { PostgresMetadataRepository } from '../../cluster/metadata/postgres.ts'
import { freshDatabase, startLocalPostgres, type LocalPostgres } from '../helpers/postgres.ts'
import { eventually, tempDir } from '../helpers/platform.ts'

let server: LocalPostgres
const tmp = tempDir('tidewatch-mirror-')
beforeAll(async () => {
  server = await startLocalPostgres()
})
afterAll(async () => {
  await server?.stop()
  tmp.cleanup()
})

const BD_RULE = { levels: [{ name: 'bd1', severity: 'warning', direction: 'above', threshold: 65 }] }

describe('registry mirror: PostgreSQL metadata into a node-local SQLite registry', () => {
  it('copies stations and rules at start and on every change; keeps local-only rows', async () => {
    const repo = await PostgresMetadataRepository.open({ url: await freshDatabase(server), poolMax: 2 })
    const file = join(tmp.dir, 'registry.db')
    // What the API reads (its own connection), and the mirror's connection.
    const api = Registry.open(file)
    const mirrored = Registry.open(file)
    const book = new RuleBook(api.db, api)
    try {
      await api.add({ id: 'LOCAL-1', name: 'only here', lat: 9, lon: 105 })
      await repo.addStation({ id: 'SD-01', name: 'Sông Đốc', lat: 9.04, lon: 104.83, zone: 'rice_shrimp', code: 'SD01', sensors: [{ kind: 'salinity', offset: 0.2, scale: 1 }] })
      await repo.setRule('SD-01', 'water_level', BD_RULE)
      const mirror = await RegistryMirror.start(repo, mirrored, { sightingsEveryMs: 200 })
      try {
        expect(api.get('SD-01')).toMatchObject({ name: 'Sông Đốc', zone: 'rice_shrimp', code: 'SD01', enabled: true, sensors: [{ kind: 'salinity', offset: 0.2, scale: 1 }] })
        expect(api.credentials('SD-01')?.hash).toBe((await repo.credentials('SD-01'))?.hash)
        expect(book.get('SD-01', 'water_level')?.levels[0]?.threshold).toBe(65)

        // Changes on any node arrive through the feed.
        await repo.addStation({ id: 'NC-01', name: 'Năm Căn', lat: 8.76, lon: 104.98 })
        await repo.setEnabled('SD-01', false)
        await repo.setCalibration('SD-01', 'salinity', { offset: 0.5, scale: 1.1 })
        await repo.rotate('NC-01')
        await repo.setRule('SD-01', 'water_level', { levels: [{ name: 'bd1', severity: 'warning', direction: 'above', threshold: 70 }] })
        expect(
          await eventually(
            async () =>
              api.get('NC-01')?.name === 'Năm Căn' &&
              api.get('SD-01')?.enabled === false &&
              api.get('SD-01')?.sensors[0]?.offset === 0.5 &&
              api.credentials('NC-01')?.hash === (await repo.credentials('NC-01'))?.hash &&
              book.get('SD-01', 'water_level')?.levels[0]?.threshold === 70,
            5_000,
          ),
        ).toBe(true)

        // Last seen is written by the edges without a notification: polled.
        await repo.touchStations(new Map([['SD-01', { lastSeenAt: 5_000, clockOffsetMs: 2_000 }]]))
        expect(await eventually(() => api.get('SD-01')?.lastSeenAt === 5_000 && api.get('SD-01')?.clockOffsetSec === 2, 5_000)).toBe(true)

        await repo.removeStation('NC-01')
        await repo.deleteRule('SD-01', 'water_level')
        const storedRules = (): number => (api.db.prepare("SELECT count(*) AS n FROM alert_rules WHERE scope = 'SD-01'").get() as { n: number }).n
        expect(await eventually(() => api.get('NC-01') === undefined && storedRules() === 0, 5_000)).toBe(true)

        // A full copy (the feed came back) deletes only what it had copied.
        await repo.addStation({ id: 'CM-01', name: 'Cà Mau', lat: 9.17, lon: 105.15 })
        ;(repo as unknown as { fanout: { emit(c: unknown): void } }).fanout.emit({ kind: 'resync' })
        expect(await eventually(() => api.get('CM-01') !== undefined && mirror.counters.reloads >= 2, 5_000)).toBe(true)
        await mirror.idle()
        expect(api.list().map((s) => s.id)).toEqual(['CM-01', 'LOCAL-1', 'SD-01'])
        expect(mirror.counters.failures).toBe(0)
      } finally {
        mirror.stop()
      }
    } finally {
      await repo.close()
      mirrored.close()
      api.close()
    }
  })
})
