import { describe, expect, it } from 'vitest'
import { salinityFromConductivity } from '../../core/pss78.ts'
import { SENSORS, HEALTH_RANGES, type SensorKind } from '../../core/sensors.ts'
import { DEMO_STATIONS, demoProfile } from '../../firmware-sim/demo-stations.ts'
import { createRng } from '../../firmware-sim/prng.ts'
import { localHour, sampleSignals, waterLevelCm, type StationProfile } from '../../firmware-sim/signals.ts'

const YEAR_START = Date.UTC(2025, 0, 1) - 7 * 3_600_000 // local midnight, 1 Jan 2025
const DAY = 86_400_000
const STEP = 15 * 60_000
const ALL: readonly SensorKind[] = ['salinity', 'water_level', 'ph', 'no2', 'temperature', 'conductivity']

function profile(id: string, coast: StationProfile['coast']): StationProfile {
  return { id, coast, sensors: ALL }
}

/** Max - min of the water level in each local day of the year, metres. */
function dailyRanges(p: StationProfile): number[] {
  const ranges: number[] = []
  for (let d = 0; d < 365; d++) {
    let lo = Infinity
    let hi = -Infinity
    for (let t = 0; t < DAY; t += 6 * 60_000) {
      const v = waterLevelCm(p, YEAR_START + d * DAY + t)
      lo = Math.min(lo, v)
      hi = Math.max(hi, v)
    }
    ranges.push((hi - lo) / 100)
  }
  return ranges
}

/** Local maxima of the water level over `days` days in April. */
function highWaters(p: StationProfile, days: number): number {
  const step = 10 * 60_000
  const lv = (t: number) => waterLevelCm(p, YEAR_START + 100 * DAY + t)
  let peaks = 0
  for (let t = step; t < days * DAY; t += step) if (lv(t) > lv(t - step) && lv(t) >= lv(t + step)) peaks++
  return peaks
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length

describe('prng and signals determinism', () => {
  it('gives the same sequence for the same seed and a different one for another seed', () => {
    const a = createRng(42)
    const b = createRng(42)
    const c = createRng(43)
    const sa = Array.from({ length: 100 }, () => a.next())
    expect(Array.from({ length: 100 }, () => b.next())).toEqual(sa)
    expect(Array.from({ length: 100 }, () => c.next())).not.toEqual(sa)
    expect(createRng('x').fork('a').gaussian()).toBe(createRng('x').fork('a').gaussian())
  })

  it('samples identical readings for the same profile, time and seed', () => {
    const p = demoProfile(DEMO_STATIONS[0]!)
    const run = (seed: number) => {
      const rng = createRng(seed)
      return Array.from({ length: 200 }, (_, i) => sampleSignals(p, YEAR_START + i * STEP, rng))
    }
    expect(run(7)).toEqual(run(7))
    expect(run(7)).not.toEqual(run(8))
  })
})

describe('signals over a simulated year', () => {
  for (const coast of ['east', 'west', 'inland'] as const) {
    it(`stays within the sensor catalog ranges (${coast})`, () => {
      const p = profile(`test-${coast}`, coast)
      const rng = createRng(1)
      // Every 40 min: covers all phases of the day and the tide over a year.
      for (let t = YEAR_START; t < YEAR_START + 365 * DAY; t += 40 * 60_000) {
        const s = sampleSignals(p, t, rng)
        for (const kind of ALL) {
          const v = s.values[kind]!
          expect(Number.isFinite(v)).toBe(true)
          expect(v).toBeGreaterThanOrEqual(SENSORS[kind].min)
          expect(v).toBeLessThanOrEqual(SENSORS[kind].max)
        }
        expect(s.battery).toBeGreaterThanOrEqual(12.0)
        expect(s.battery).toBeLessThanOrEqual(13.8)
        expect(s.rssi).toBeGreaterThanOrEqual(-105)
        expect(s.rssi).toBeLessThanOrEqual(-65)
        expect(s.battery).toBeLessThanOrEqual(HEALTH_RANGES.battery.max)
      }
    })
  }

  it('has a 3–4 m semi-diurnal tide on the East Sea coast', () => {
    const ranges = dailyRanges(profile('east-1', 'east'))
    expect(mean(ranges)).toBeGreaterThan(3)
    expect(mean(ranges)).toBeLessThan(4)
    // Springs reach ~4 m, neaps ~3 m; allow the diurnal inequality a little slack.
    expect(Math.max(...ranges)).toBeLessThan(4.3)
    expect(Math.min(...ranges)).toBeGreaterThan(2.7)
    // Semi-diurnal: about two high waters a day (5–6 in three days).
    expect(highWaters(profile('east-1', 'east'), 3)).toBeGreaterThanOrEqual(5)
  })

  it('has a diurnal tide of about 1 m on the Gulf of Thailand coast', () => {
    const ranges = dailyRanges(profile('west-1', 'west'))
    expect(mean(ranges)).toBeGreaterThan(0.7)
    expect(mean(ranges)).toBeLessThan(1.3)
    expect(Math.max(...ranges)).toBeLessThan(1.6)
    // Diurnal: about one high water a day, not two.
    expect(highWaters(profile('west-1', 'west'), 3)).toBeLessThanOrEqual(4)
  })

  it('swings pH around 7–8.3 with a mid-afternoon peak', () => {
    const p = profile('ph-1', 'east')
    const rng = createRng(3)
    const byHour: number[][] = Array.from({ length: 24 }, () => [])
    const all: number[] = []
    for (let t = YEAR_START; t < YEAR_START + 60 * DAY; t += STEP) {
      const ph = sampleSignals(p, t, rng).values.ph!
      all.push(ph)
      byHour[Math.floor(localHour(t))]!.push(ph)
    }
    const hourly = byHour.map(mean)
    expect(mean(all)).toBeGreaterThan(7.4)
    expect(mean(all)).toBeLessThan(7.9)
    expect(Math.max(...hourly) - Math.min(...hourly)).toBeGreaterThan(0.8)
    expect(Math.min(...all)).toBeGreaterThanOrEqual(6.8)
    expect(Math.max(...all)).toBeLessThanOrEqual(8.5)
    const peakHour = hourly.indexOf(Math.max(...hourly))
    expect(peakHour).toBeGreaterThanOrEqual(13)
    expect(peakHour).toBeLessThanOrEqual(17)
  })

  it('makes coastal water salty and inland water cross the 2 and 4 ‰ lines, saltiest in the dry season', () => {
    const rng = createRng(5)
    const sal = (p: StationProfile, t: number) => sampleSignals(p, t, rng).values.salinity!
    const coastal = profile('coast-1', 'east')
    const inland = profile('inland-1', 'inland')
    const cs: number[] = []
    const is: number[] = []
    const april: number[] = []
    const october: number[] = []
    for (let t = YEAR_START; t < YEAR_START + 365 * DAY; t += STEP) {
      cs.push(sal(coastal, t))
      const v = sal(inland, t)
      is.push(v)
      const month = new Date(t + 7 * 3_600_000).getUTCMonth()
      if (month === 3) april.push(v)
      if (month === 9) october.push(v)
    }
    expect(Math.min(...cs)).toBeGreaterThan(12)
    expect(Math.max(...cs)).toBeLessThan(32)
    expect(Math.min(...is)).toBeLessThan(2)
    expect(Math.max(...is)).toBeGreaterThan(4)
    expect(Math.max(...is)).toBeLessThan(7)
    expect(mean(april)).toBeGreaterThan(mean(october) + 1.5)
  })

  it('has low nitrite with rare spikes above 1 mg/L', () => {
    const p = profile('no2-1', 'inland')
    const rng = createRng(9)
    const v: number[] = []
    for (let t = YEAR_START; t < YEAR_START + 365 * DAY; t += STEP) v.push(sampleSignals(p, t, rng).values.no2!)
    const high = v.filter((x) => x > 1).length / v.length
    expect(high).toBeGreaterThan(0)
    expect(high).toBeLessThan(0.01)
    const sorted = [...v].sort((a, b) => a - b)
    expect(sorted[Math.floor(v.length * 0.5)]!).toBeLessThan(0.3)
    expect(sorted[0]!).toBeGreaterThanOrEqual(0.02)
  })

  it('reports conductivity + temperature for a conductivity station, consistent with PSS-78', () => {
    const demo = DEMO_STATIONS.filter((s) => s.sensors.includes('conductivity'))
    expect(demo).toHaveLength(1)
    const p = demoProfile(demo[0]!)
    const s = sampleSignals(p, YEAR_START + 90 * DAY, createRng(1))
    expect(s.values.salinity).toBeUndefined()
    const derived = salinityFromConductivity(s.values.conductivity!, s.values.temperature!)
    expect(derived.inRange).toBe(true)
    expect(derived.salinity).toBeGreaterThan(12)
    expect(derived.salinity).toBeLessThan(32)
  })
})

describe('demo stations', () => {
  it('has five Cà Mau stations with valid ids and coordinates', () => {
    expect(DEMO_STATIONS).toHaveLength(5)
    for (const s of DEMO_STATIONS) {
      expect(s.id).toMatch(/^cm-[a-z]+-\d{2}$/)
      expect(s.lat).toBeGreaterThan(8.5)
      expect(s.lat).toBeLessThan(9.6)
      expect(s.lon).toBeGreaterThan(104.7)
      expect(s.lon).toBeLessThan(105.5)
    }
    expect(new Set(DEMO_STATIONS.map((s) => s.coast))).toEqual(new Set(['east', 'west', 'inland']))
  })
})
