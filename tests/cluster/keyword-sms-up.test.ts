/**
 * Keyword SMS on a single-process alerter in cluster mode (what `tidewatch
 * up` with cluster.postgres.url runs: its alerter gets the mirror's
 * subscriber writer, platform/platform.ts). Real PostgreSQL 15, a real
 * registry mirror on its own connection, a real SMSC (smpp.createServer);
 * the alerter is created directly (createAlerter), not through the whole
 * platform, which would need InfluxDB.
 *
 * DK and HUY reach PostgreSQL, the node's copy shows them under
 * PostgreSQL's id before the SMSC gets its acknowledgement, and the node's
 * SQLite, which the mirror owns, is never written by the alerter.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { createAlerter } from '../../alerts/alerter.ts'
import { startClusterRegistryMirror } from '../../cluster/metadata/mirror.ts'
import { PostgresMetadataRepository } from '../../cluster/metadata/postgres.ts'
import { silentLogger } from '../../core/log.ts'
import { Registry } from '../../devices/registry.ts'
import { freshDatabase, startLocalPostgres, type LocalPostgres } from '../helpers/postgres.ts'
import { eventually, tempDir } from '../helpers/platform.ts'
import { smppConfig } from '../alerts/helpers.ts'
import { startSmsc, type Smsc } from '../alerts/smsc.ts'

let server: LocalPostgres
let smsc: Smsc
const tmp = tempDir('tidewatch-keywords-up-')

beforeAll(async () => {
  ;[server, smsc] = await Promise.all([startLocalPostgres(), startSmsc()])
}, 60_000)

afterAll(async () => {
  await smsc?.close()
  await server?.stop()
  tmp.cleanup()
})

describe('keyword SMS on tidewatch up in cluster mode', () => {
  it('DK and HUY change PostgreSQL, read back into the copy before the SMSC gets the ack', async () => {
    const url = await freshDatabase(server)
    const file = join(tmp.dir, 'up.db')
    const repo = await PostgresMetadataRepository.open({ url, poolMax: 2 })
    await repo.addStation({ id: 'CM-UP1', name: 'Trạm Cái Nước', lat: 8.95, lon: 105.0, sensors: ['salinity'], code: 'CN01' })
    const cluster = await startClusterRegistryMirror({ url, registry: () => Registry.open(file), log: silentLogger })
    const registry = Registry.open(file)
    const alerter = await createAlerter({ db: registry.db, registry, config: smppConfig(smsc.port), log: silentLogger, subscriberWriter: cluster.subscribers })
    try {
      expect(await cluster.ready).toBeDefined()
      await alerter.start()
      expect(await eventually(() => alerter.channels.get('smpp')!.ready(), 10_000)).toBe(true)
      const farmer = '84910000501'
      expect(await smsc.moUntilAcked(farmer, 'dk cn01')).toEqual([0])
      const inPostgres = (await repo.listSubscribers()).find((s) => s.phone === `+${farmer}`)
      expect(inPostgres?.stations).toEqual(['CM-UP1'])
      expect(alerter.subscribers.byPhone(`+${farmer}`), "the node's copy, under PostgreSQL's id").toEqual(inPostgres)
      expect(await smsc.moUntilAcked(farmer, 'HUY CN01')).toEqual([0])
      expect((await repo.getSubscriber(inPostgres!.id))?.active).toBe(false)
      expect(await eventually(() => (smsc.messages().get(farmer) ?? []).length === 2, 10_000)).toBe(true)
      expect(smsc.messages().get(farmer)).toEqual([
        'Da dang ky nhan canh bao tram Tram Cai Nuoc (CN01). Soan TT CN01 de xem so lieu, HUY CN01 de huy.',
        'Da huy nhan canh bao tram CN01.',
      ])
    } finally {
      await alerter.stop()
      registry.close()
      await cluster.stop()
      await repo.close()
    }
  }, 60_000)
})
