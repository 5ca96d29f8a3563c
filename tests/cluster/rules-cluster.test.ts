/**
 * The stored alert rule routes (PUT/DELETE /api/v1/alerts/rules/…) on a node
 * that runs an alerter in cluster mode (`tidewatch up` with
 * cluster.postgres.url: platform/platform.ts gives alertRoutes the mirror's
 * rule writer). Real PostgreSQL 15, a real registry mirror on its own
 * connection, the alerter created directly (createAlerter, log channel), not
 * through the whole platform, which would need InfluxDB.
 *
 * A rule written through the API is in PostgreSQL, where every node's mirror
 * and `tidewatch alerts rules` read it, and the node's own alerter has it
 * when the route answers; the node's SQLite is written only by its mirror.
 */
import { join } from 'node:path'
import Fastify from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAlerter } from '../../alerts/alerter.ts'
import { alertRoutes } from '../../api/routes/alerts.ts'
import { startClusterRegistryMirror } from '../../cluster/metadata/mirror.ts'
import { PostgresMetadataRepository } from '../../cluster/metadata/postgres.ts'
import { AlertsConfigSchema } from '../../core/alerts-config.ts'
import { silentLogger } from '../../core/log.ts'
import { Registry } from '../../devices/registry.ts'
import { eventually, tempDir } from '../helpers/platform.ts'
import { freshDatabase, startLocalPostgres, type LocalPostgres } from '../helpers/postgres.ts'

let server: LocalPostgres
const tmp = tempDir('tidewatch-rules-cluster-')

beforeAll(async () => {
  server = await startLocalPostgres()
}, 60_000)

afterAll(async () => {
  await server?.stop()
  tmp.cleanup()
})

/** A salinity rule (levels/rules.ts shape); 2 and 4 ‰ are the rice thresholds of levels/zones.ts RICE_SALINITY. */
const SALINITY_RULE = { levels: [{ name: 'warning', severity: 'warning', direction: 'above', threshold: 2 }, { name: 'danger', severity: 'danger', direction: 'above', threshold: 4 }] }

describe('stored alert rules through the API of a node with an alerter, in cluster mode', () => {
  it('PUT and DELETE write PostgreSQL; the node’s alerter has the change when the route answers', async () => {
    const url = await freshDatabase(server)
    const file = join(tmp.dir, 'up.db')
    const repo = await PostgresMetadataRepository.open({ url, poolMax: 2 })
    await repo.addStation({ id: 'CM-RU1', name: 'Trạm Thới Bình', lat: 9.35, lon: 105.1, sensors: ['salinity'] })
    const cluster = await startClusterRegistryMirror({ url, registry: () => Registry.open(file), log: silentLogger })
    const registry = Registry.open(file)
    const alerter = await createAlerter({ db: registry.db, registry, config: AlertsConfigSchema.parse({}), log: silentLogger, subscriberWriter: cluster.subscribers })
    const api = Fastify()
    try {
      expect(await cluster.ready).toBeDefined()
      await api.register(alertRoutes(alerter, undefined, registry, cluster.subscribers, cluster.rules), { prefix: '/api/v1' })
      expect(await eventually(() => registry.get('CM-RU1') !== undefined, 10_000, 5), 'the station reached the node').toBe(true)

      const put = await api.inject({ method: 'PUT', url: '/api/v1/alerts/rules/CM-RU1/salinity', payload: SALINITY_RULE })
      expect(put.statusCode).toBe(200)
      expect(Object.keys(await repo.rules('CM-RU1')), 'in PostgreSQL').toEqual(['salinity'])
      expect(alerter.rules.overrides('CM-RU1').salinity, "the node's alerter, when the route answered").toBeDefined()

      // Refused by PostgreSQL's repository with the rule book's code; nothing stored.
      const invalid = await api.inject({ method: 'PUT', url: '/api/v1/alerts/rules/CM-RU1/salinity', payload: { levels: [{ name: 'x', severity: 'bad' }] } })
      expect(invalid.json().error.code).toBe('ALERT_RULE_INVALID')
      const emptyZone = await api.inject({ method: 'PUT', url: '/api/v1/alerts/rules/zone:mangrove/salinity', payload: { levels: [] } })
      expect(emptyZone.json().error?.code, 'as tests/api/zones.test.ts on one process').toBe('ALERT_RULE_INVALID')

      const del = await api.inject({ method: 'DELETE', url: '/api/v1/alerts/rules/CM-RU1/salinity' })
      expect(del.statusCode).toBe(200)
      expect(await repo.rules('CM-RU1')).toEqual({})
      expect(alerter.rules.overrides('CM-RU1').salinity).toBeUndefined()
      const again = await api.inject({ method: 'DELETE', url: '/api/v1/alerts/rules/CM-RU1/salinity' })
      expect(again.statusCode).toBe(404)
    } finally {
      await api.close()
      await alerter.stop()
      registry.close()
      await cluster.stop()
      await repo.close()
    }
  }, 60_000)
})
