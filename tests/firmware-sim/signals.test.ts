import { describe, expect, it } from 'vitest'
import { salinityFromConductivity } from '../../core/pss78.ts'
import { SENSORS, HEALTH_RANGES, type SensorKind } from '../../core/sensors.ts'
import { DEMO_STATIONS, demoProfile } from '../../firmware-sim/demo-stations.ts'
import { createRng } from '../../firmware-sim/prng.ts'
import {
  K1_PERIOD_H,
  localHour,
  M2_PERIOD_H,
  O1_PERIOD_H,
  S2_PERIOD_H,
  salinityPpt,
  sampleSignals,
  springFactor,
  tideProfile,
  waterLevelCm,
  type StationProfile,
} from '../../firmware-sim/signals.ts'

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

/** Highest sampled (noisy) water level per local day and the spring factor at its noon. */
function dailyHighs(p: StationProfile, start: number, days: number): Array<{ day: number; high: number; spring: number }> {
  const rng = createRng(4)
  const out: Array<{ day: number; high: number; spring: number }> = []
  for (let d = 0; d < days; d++) {
    let high = -Infinity
    for (let t = 0; t < DAY; t += 10 * 60_000) high = Math.max(high, sampleSignals(p, start + d * DAY + t, rng).values.water_level!)
    out.push({ day: d, high, spring: springFactor(tideProfile(p), start + d * DAY + DAY / 2) })
  }
  return out
}

/** Difference between the two high waters of each day (cm), for `days` days from 1 Dec. */
function dailyInequalities(p: StationProfile, days: number): number[] {
  const step = 10 * 60_000
  const start = YEAR_START + 334 * DAY
  const lv = (t: number) => waterLevelCm(p, start + t)
  const out: number[] = []
  for (let d = 0; d < days; d++) {
    const highs: number[] = []
    for (let t = d * DAY + step; t < (d + 1) * DAY; t += step) if (lv(t) > lv(t - step) && lv(t) >= lv(t + step)) highs.push(lv(t))
    if (highs.length >= 2) out.push(Math.max(...highs) - Math.min(...highs))
  }
  return out
}

/**
 * Least-squares harmonic analysis of 60 days of hourly noisy samples: the
 * amplitudes of M2, S2, K1 and O1 (60 days resolves both fortnightly beats,
 * the Rayleigh criterion), then F = (K1 + O1) / (M2 + S2).
 */
function formFactorOf(p: StationProfile): number {
  const periods = [M2_PERIOD_H, S2_PERIOD_H, K1_PERIOD_H, O1_PERIOD_H]
  const rng = createRng(8)
  const n = 1 + 2 * periods.length
  const ata = Array.from({ length: n }, () => new Array<number>(n).fill(0))
  const atb = new Array<number>(n).fill(0)
  const start = YEAR_START + 30 * DAY
  for (let h = 0; h < 60 * 24; h++) {
    const t = start + h * 3_600_000
    const y = sampleSignals(p, t, rng).values.water_level!
    const row = [1, ...periods.flatMap((per) => [Math.cos((2 * Math.PI * h) / per), Math.sin((2 * Math.PI * h) / per)])]
    for (let i = 0; i < n; i++) {
      atb[i]! += row[i]! * y
      for (let j = 0; j < n; j++) ata[i]![j]! += row[i]! * row[j]!
    }
  }
  const x = solve(ata, atb)
  const amp = periods.map((_, k) => Math.hypot(x[1 + 2 * k]!, x[2 + 2 * k]!))
  return (amp[2]! + amp[3]!) / (amp[0]! + amp[1]!)
}

/** Gaussian elimination with partial pivoting. */
function solve(a: number[][], b: number[]): number[] {
  const n = b.length
  const m = a.map((row, i) => [...row, b[i]!])
  for (let c = 0; c < n; c++) {
    let piv = c
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[piv]![c]!)) piv = r
    ;[m[c], m[piv]] = [m[piv]!, m[c]!]
    for (let r = c + 1; r < n; r++) {
      const f = m[r]![c]! / m[c]![c]!
      for (let k = c; k <= n; k++) m[r]![k]! -= f * m[c]![k]!
    }
  }
  const x = new Array<number>(n).fill(0)
  for (let r = n - 1; r >= 0; r--) {
    let acc = m[r]![n]!
    for (let k = r + 1; k < n; k++) acc -= m[r]![k]! * x[k]!
    x[r] = acc / m[r]![r]!
  }
  return x
}

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

  it('has an irregular semi-diurnal East Sea tide: 3–4 m at springs, two unequal highs a day', () => {
    const p = profile('east-1', 'east')
    const ranges = dailyRanges(p)
    const at = (d: number) => springFactor(tideProfile(p), YEAR_START + d * DAY + DAY / 2)
    const springs = ranges.filter((_, d) => at(d) > 0.8)
    const neaps = ranges.filter((_, d) => at(d) < -0.8)
    // FIELD-NOTES "Tides in Cà Mau": East Sea coast range 3–4 m (at springs).
    expect(mean(springs)).toBeGreaterThan(3)
    expect(mean(springs)).toBeLessThan(4)
    expect(Math.max(...ranges)).toBeLessThan(4)
    // The spring–neap cycle: neaps are much smaller.
    expect(mean(neaps)).toBeLessThan(mean(springs) - 1)
    // Semi-diurnal: about two high waters a day (5–6 in three days).
    expect(highWaters(p, 3)).toBeGreaterThanOrEqual(5)
    // Diurnal inequality: on some days the two highs differ by more than 50 cm.
    const ineq = dailyInequalities(p, 30)
    expect(Math.max(...ineq)).toBeGreaterThan(50)
  })

  it('has a diurnal tide of about 1 m on the Gulf of Thailand coast', () => {
    const ranges = dailyRanges(profile('west-1', 'west'))
    expect(mean(ranges)).toBeGreaterThan(0.7)
    expect(mean(ranges)).toBeLessThan(1.3)
    expect(Math.max(...ranges)).toBeLessThan(1.6)
  })

  it('has the tide type of each coast by harmonic analysis of the sampled series (Courtier form factor)', () => {
    // F = (K1 + O1) / (M2 + S2): 0.25–1.5 irregular (mixed, mainly)
    // semi-diurnal, > 3 diurnal (Courtier 1938; see Pugh & Woodworth 2014).
    const east = formFactorOf(profile('east-1', 'east'))
    expect(east).toBeGreaterThan(0.5)
    expect(east).toBeLessThan(0.8)
    expect(formFactorOf(profile('west-1', 'west'))).toBeGreaterThan(3)
    // The demo gauges keep their coast's type.
    const byId = (id: string) => demoProfile(DEMO_STATIONS.find((s) => s.id === id)!)
    for (const id of ['cm-namcan-01', 'cm-tanthuan-01', 'cm-camau-01']) {
      const f = formFactorOf(byId(id))
      expect(f, id).toBeGreaterThan(0.25)
      expect(f, id).toBeLessThan(1.5)
    }
    for (const id of ['cm-songdoc-01', 'cm-datmui-01']) expect(formFactorOf(byId(id)), id).toBeGreaterThan(3)
  })

  // Alarm levels BĐ1, cm above Hòn Dấu, from Cà Mau's tide bulletin of
  // 2024-12-16 (FIELD-NOTES "Water-level alarm levels").
  const BD1 = { 'cm-namcan-01': 140, 'cm-camau-01': 65, 'cm-songdoc-01': 75 } as const
  for (const [id, bd1] of Object.entries(BD1)) {
    it(`${id} reaches BĐ1 (${bd1} cm) on spring tides only, in the high-water season and not in the dry season`, () => {
      const p = demoProfile(DEMO_STATIONS.find((s) => s.id === id)!)
      // A simulated month of the high-water season (Nov–Dec 2025), with noise.
      const nov = dailyHighs(p, Date.UTC(2025, 10, 15) - 7 * 3_600_000, 30)
      const over = nov.filter((d) => d.high >= bd1)
      expect(over.length).toBeGreaterThanOrEqual(2)
      // Over BĐ1 only within 3½ days of a spring tide: springFactor > cos(2π·3.5/14.77) ≈ 0.08.
      for (const d of over) expect(d.spring, `day ${d.day} over BĐ1 at spring factor ${d.spring.toFixed(2)}`).toBeGreaterThan(Math.cos((2 * Math.PI * 3.5) / 14.77))
      const neaps = nov.filter((d) => d.spring < -0.5)
      expect(neaps.length).toBeGreaterThanOrEqual(4)
      for (const d of neaps) expect(d.high, `neap day ${d.day}`).toBeLessThan(bd1 - 5)
      // Springs stay within a believable band above BĐ1 (well under the 2024-12-16 extremes).
      expect(Math.max(...nov.map((d) => d.high))).toBeLessThan(bd1 + 25)
      // The dry season (March–April): no alarm at all.
      const dry = dailyHighs(p, Date.UTC(2025, 2, 1) - 7 * 3_600_000, 60)
      expect(Math.max(...dry.map((d) => d.high))).toBeLessThan(bd1)
    })
  }

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

  it('gives each demo site believable salinity: brackish shrimp water 10–30 ‰, the city canal 0.5–3.5 ‰ in the dry season', () => {
    // Brackish aquaculture ponds live at about 10–25 ‰ (issue 11; FIELD-NOTES
    // "Salinity": black tiger shrimp best at 15–20 ‰); the city canal at
    // Phường 8 is fresher. Dry season = December–May, here January–April.
    const range = (id: string, fromDay: number, toDay: number) => {
      const p = demoProfile(DEMO_STATIONS.find((s) => s.id === id)!)
      const v: number[] = []
      for (let t = YEAR_START + fromDay * DAY; t < YEAR_START + toDay * DAY; t += 3_600_000) v.push(salinityPpt(p, t))
      return { min: Math.min(...v), max: Math.max(...v), mean: mean(v) }
    }
    for (const id of ['cm-songdoc-01', 'cm-tanthuan-01', 'cm-namcan-01', 'cm-datmui-01']) {
      const dry = range(id, 0, 120)
      expect(dry.min, id).toBeGreaterThan(10)
      expect(dry.max, id).toBeLessThan(31)
      // Fresher in the rains (October), still brackish.
      const rainy = range(id, 273, 304)
      expect(rainy.mean, id).toBeLessThan(dry.mean - 3)
      expect(rainy.min, id).toBeGreaterThan(8)
    }
    const city = range('cm-camau-01', 0, 120)
    expect(city.min).toBeGreaterThan(0.5)
    expect(city.max).toBeGreaterThan(2) // the salt season reaches the rice line
    expect(city.max).toBeLessThan(4)
    expect(range('cm-camau-01', 273, 304).max).toBeLessThan(2)
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
