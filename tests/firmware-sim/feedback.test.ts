/**
 * The simulator listens to stations/<id>/feedback and counts what the real
 * ingest refused: the tidewatch platform (embedded Aedes broker, its ACLs and
 * the ingest) on ephemeral ports. InfluxDB is not needed: feedback follows
 * the spool, not the database, so its port is left closed.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { freePort } from '../../core/free-port.ts'
import { createSimulator, type Simulator } from '../../firmware-sim/simulator.ts'
import { startTestPlatform, type TestPlatform } from '../helpers/platform.ts'
import { log, tempDir, waitFor } from './helpers.ts'

describe('simulator feedback', () => {
  let tmp: ReturnType<typeof tempDir>
  let tp: TestPlatform
  let sim: Simulator | undefined

  beforeEach(async () => {
    tmp = tempDir()
    tp = await startTestPlatform({ dir: tmp.dir, influxUrl: `http://127.0.0.1:${await freePort()}`, parts: { broker: true, ingest: 'embedded' } })
  })

  afterEach(async () => {
    await sim?.stop()
    sim = undefined
    await tp.stop()
    tmp.cleanup()
  })

  it('counts the readings the ingest refused, by reason code, from its own feedback topic only', async () => {
    const a = await tp.platform.registry.add({ id: 'cm-simfb-01', name: 'A', lat: 9, lon: 105 })
    const b = await tp.platform.registry.add({ id: 'cm-simfb-02', name: 'B', lat: 9, lon: 105 })
    sim = createSimulator({
      brokerUrl: tp.mqttUrl,
      stations: [
        { id: a.id, secret: a.password },
        { id: b.id, secret: b.password },
      ],
      intervalSec: 900,
      speed: 900 * 20, // a 15-minute reading every 50 ms
      seed: 5,
      // Every reading carries one out-of-range value: each payload earns feedback.
      faults: { outOfRange: 1 },
      backoff: { baseMs: 20, capMs: 200 },
      dataDir: tmp.dir,
      log,
    })
    await sim.start()
    await waitFor(() => sim!.stats().stations.every((s) => s.feedback >= 3), 'three feedback messages to each station')
    await sim.stop()

    const stats = sim.stats()
    for (const s of stats.stations) {
      // Only out-of-range values were injected, and only its own payloads are reported to a station.
      expect(Object.keys(s.refusedByCode)).toEqual(['VALUE_OUT_OF_RANGE'])
      expect(s.refused).toBe(s.refusedByCode.VALUE_OUT_OF_RANGE)
      expect(s.refused).toBeLessThanOrEqual(s.faults.out_of_range)
      // A batch (after a reconnect) or a reading with two bad values carries more than one.
      expect(s.refused).toBeGreaterThanOrEqual(s.feedback)
    }
    expect(stats.refused).toBe(stats.stations.reduce((n, s) => n + s.refused, 0))
    expect(tp.platform.broker!.counters.subscribeDenied).toBe(0)
  })
})
