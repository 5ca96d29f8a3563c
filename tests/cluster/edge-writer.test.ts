/**
 * Issue 16, the spine of cluster mode against real servers: stations publish
 * QoS 1 through an edge (Aedes) whose PUBACK waits for a 3-replica JetStream
 * commit; writers drain each InfluxDB target's consumer. Counted in both
 * InfluxDBs from the stations' ledgers of PUBACKs: lost must be 0.
 */
import { describe, expect, it } from 'vitest'
import { LoadGenerator } from '../chaos/lib/load.ts'
import { clusterPerFile, scenario, until } from './fixture.ts'

const world = clusterPerFile()

async function settle(load: LoadGenerator): Promise<void> {
  load.stopGenerating()
  expect(await load.flush(30_000)).toBe(true)
}

describe('edge → JetStream R3 → writers → both InfluxDBs', () => {
  it('every acknowledged reading reaches both InfluxDBs', async () => {
    const s = await scenario(world, 'happy', 20)
    try {
      const edge = await s.startEdge()
      await s.startWriters()
      const load = new LoadGenerator({ url: edge.mqttUrl, stations: s.stations, ratePerStation: 10 })
      load.start(500)
      await until(() => load.snapshot().acked >= 300, 30_000)
      await settle(load)
      const acked = load.snapshot().acked
      expect(acked).toBeGreaterThanOrEqual(300)
      expect(await until(async () => (await s.tallyIn('primary', load)).stored >= acked && (await s.tallyIn('dr', load)).stored >= acked)).toBe(true)
      for (const target of ['primary', 'dr'] as const) {
        const t = await s.tallyIn(target, load)
        expect(t, target).toMatchObject({ lost: 0, phantom: 0, acknowledged: acked })
      }
      const stats = edge.stats()
      expect(stats.log.publishedRecords).toBeGreaterThanOrEqual(acked)
      expect(stats.log.fallbackRecords).toBe(0)
      await load.close()
    } finally {
      await s.close()
    }
  })
})
