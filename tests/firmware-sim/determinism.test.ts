import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { Clock, TimerHandle } from '../../firmware-sim/clock.ts'
import { historyReadings } from '../../firmware-sim/backfill.ts'
import { DEMO_STATIONS, demoProfile } from '../../firmware-sim/demo-stations.ts'
import { createStation } from '../../firmware-sim/station.ts'
import { log, tempDir } from './helpers.ts'

/** A clock that only moves when told to; its timers never fire on their own. */
function fakeClock(start: number): Clock & { advance(ms: number): void } {
  let now = start
  let n = 0
  return {
    now: () => now,
    setTimeout: () => ({ id: ++n }) as unknown as TimerHandle,
    clearTimeout: () => {},
    advance: (ms) => {
      now += ms
    },
  }
}

describe('station determinism', () => {
  const dirs: Array<ReturnType<typeof tempDir>> = []
  afterEach(() => {
    for (const d of dirs.splice(0)) d.cleanup()
  })

  async function run(seed: number): Promise<string[]> {
    const tmp = tempDir()
    dirs.push(tmp)
    const clock = fakeClock(Date.UTC(2025, 2, 15))
    const s = createStation({
      brokerUrl: 'mqtt://127.0.0.1:1', // offline: everything stays in the outbox
      credentials: { id: 'cm-det-01', secret: 'x' },
      dataDir: tmp.dir,
      intervalMs: 900_000,
      seed,
      faults: { spike: 0.1, outOfRange: 0.05, stuck: 0.02, malformed: 0.05 },
      log,
      clock,
    })
    s.start()
    for (let i = 0; i < 200; i++) {
      s.sample()
      clock.advance(900_000)
    }
    await s.stop()
    return readFileSync(join(tmp.dir, 'cm-det-01', 'outbox.log'), 'utf8').trim().split('\n')
  }

  it('produces byte-identical readings (with faults) for the same seed and clock', async () => {
    const a = await run(99)
    expect(a).toHaveLength(200)
    expect(await run(99)).toEqual(a)
    expect(await run(100)).not.toEqual(a)
  })
})

describe('backfill determinism', () => {
  it('regenerates the same history for the same seed, on the 15-minute grid, and another for another seed', () => {
    const p = demoProfile(DEMO_STATIONS.find((s) => s.id === 'cm-namcan-01')!)
    const to = Date.UTC(2025, 11, 16, 3, 7)
    const from = to - 86_400_000
    const a = historyReadings(p, from, to, 900_000, 5)
    expect(a).toHaveLength(96)
    expect(historyReadings(p, from, to, 900_000, 5)).toEqual(a)
    expect(historyReadings(p, from, to, 900_000, 6)).not.toEqual(a)
    for (const r of a) expect((r.ts as number) % 900_000).toBe(0)
  })
})
