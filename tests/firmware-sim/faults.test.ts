import { describe, expect, it } from 'vitest'
import { SENSORS } from '../../core/sensors.ts'
import { corruptJson, createFaultInjector, SENTINEL } from '../../firmware-sim/faults.ts'
import { createRng } from '../../firmware-sim/prng.ts'

const values = { salinity: 20, water_level: 50, ph: 7.6, no2: 0.1, temperature: 30 }

describe('fault injection', () => {
  it('is off by default and leaves values untouched', () => {
    const f = createFaultInjector(undefined, createRng(1))
    for (let i = 0; i < 1000; i++) {
      const r = f.apply(values)
      expect(r.values).toEqual(values)
      expect(r.malformed).toBe(false)
    }
    expect(Object.values(f.counts()).every((n) => n === 0)).toBe(true)
  })

  it('injects every kind, deterministically by seed', () => {
    const run = (seed: number) => {
      const f = createFaultInjector({ spike: 0.05, stuck: 0.01, outOfRange: 0.05, malformed: 0.05 }, createRng(seed))
      const out = Array.from({ length: 2000 }, () => f.apply(values))
      return { out, counts: f.counts() }
    }
    const a = run(11)
    expect(run(11)).toEqual(a)
    expect(run(12).out).not.toEqual(a.out)
    for (const n of Object.values(a.counts)) expect(n).toBeGreaterThan(0)
    const oor = a.out.filter((r) => r.faults.includes('out_of_range'))
    for (const r of oor) {
      const bad = Object.entries(r.values).some(([k, v]) => v === SENTINEL || v > SENSORS[k as keyof typeof SENSORS].max)
      expect(bad).toBe(true)
    }
  })

  it('holds a stuck value for several readings', () => {
    const f = createFaultInjector({ stuck: 1, stuckReadings: 5 }, createRng(2))
    const first = f.apply(values)
    const kind = Object.keys(values).find((k) => true && first.faults.includes('stuck') && k)!
    const later = f.apply({ ...values, [kind]: 999 })
    expect(later.faults).toContain('stuck')
  })

  it('corrupts JSON so that it never parses', () => {
    const rng = createRng(3)
    const text = JSON.stringify({ ts: 1_700_000_000_000, seq: 4, values, battery: 12.7, rssi: -80 })
    for (let i = 0; i < 200; i++) expect(() => JSON.parse(corruptJson(text, rng))).toThrow()
  })
})
