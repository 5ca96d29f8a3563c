import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ReadingSchema } from '../../core/protocol.ts'
import { SENSORS, isSensorKind } from '../../core/sensors.ts'
import { DEMO_STATIONS } from '../../firmware-sim/demo-stations.ts'
import { createSimulator, type Simulator } from '../../firmware-sim/simulator.ts'
import { log, readingsOf, startBroker, tempDir, waitFor, watch, type TestBroker, type Watcher } from './helpers.ts'

const creds = DEMO_STATIONS.map((s) => ({ id: s.id, secret: `secret-${s.id}` }))

describe('simulator with the five demo stations', () => {
  let broker: TestBroker
  let watcher: Watcher
  let tmp: ReturnType<typeof tempDir>
  let sim: Simulator | undefined

  beforeEach(async () => {
    tmp = tempDir()
    broker = await startBroker(Object.fromEntries(creds.map((c) => [c.id, c.secret])))
    watcher = await watch(broker.url)
  })

  afterEach(async () => {
    await sim?.stop()
    sim = undefined
    await watcher.close()
    await broker.close()
    tmp.cleanup()
  })

  it('runs compressed time through a flaky link and stops cleanly', async () => {
    const simStartMs = Date.UTC(2025, 3, 1)
    sim = createSimulator({
      brokerUrl: broker.url,
      stations: creds,
      intervalSec: 900,
      speed: 900 * 20, // a 15-minute reading every 50 ms
      seed: 3,
      flaky: { latencyMs: { min: 1, max: 10 }, meanTimeBetweenCutsMs: 400 },
      backoff: { baseMs: 20, capMs: 200 },
      dataDir: tmp.dir,
      simStartMs,
      log,
    })
    await sim.start()
    await waitFor(() => sim!.stats().stations.every((s) => s.acked >= 5), 'five readings acked per station')
    // Signals run on simulated time; ts stays on the wall clock.
    expect(sim.simulatedNow()).toBeGreaterThan(simStartMs + 5 * 900_000)
    await sim.stop()

    const stats = sim.stats()
    expect(stats.connected).toBe(0)
    expect(stats.dropped).toBe(0)
    for (const station of DEMO_STATIONS) {
      const readings = readingsOf(watcher.messages, station.id)
      expect(readings.length).toBeGreaterThanOrEqual(5)
      for (const r of readings) {
        const parsed = ReadingSchema.parse(r)
        expect(Math.abs((parsed.ts as number) - Date.now())).toBeLessThan(10 * 60_000)
        for (const [kind, v] of Object.entries(parsed.values)) {
          expect(isSensorKind(kind)).toBe(true)
          if (!isSensorKind(kind)) continue
          expect(v as number).toBeGreaterThanOrEqual(SENSORS[kind].min)
          expect(v as number).toBeLessThanOrEqual(SENSORS[kind].max)
        }
        expect(Object.keys(parsed.values).sort()).toEqual([...station.sensors].sort())
      }
      const lastStatus = () => watcher.messages.filter((m) => m.topic === `stations/${station.id}/status`).at(-1)?.text
      await waitFor(() => lastStatus() === 'offline', `${station.id} offline`)
    }
  })

  it('rejects invalid options with CONFIG_INVALID', () => {
    expect(() => createSimulator({ brokerUrl: 'http://x', stations: creds, dataDir: tmp.dir, log })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    )
    expect(() =>
      createSimulator({ brokerUrl: broker.url, stations: [creds[0]!, creds[0]!], dataDir: tmp.dir, log }),
    ).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }))
  })
})
