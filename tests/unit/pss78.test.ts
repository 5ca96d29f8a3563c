import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { C35_15_0, conductivityFromSalinity, hillRatioAtSp2, salinityFromConductivity, salinityFromRatio, t68FromT90 } from '../../core/pss78.ts'

// Check values published with the algorithm: UNESCO (1983), Technical Papers
// in Marine Science 44, p. 9 (Fofonoff & Millard), temperatures on IPTS-68.
describe('PSS-78 (UNESCO 1983)', () => {
  it('gives S = 35 at the reference point R = 1, T = 15 °C, P = 0', () => {
    expect(salinityFromRatio(1, 15, 0)).toBeCloseTo(35, 6)
  })
  it('matches the published check value S = 40.0000 at R = 1.888091, T = 40 °C, P = 10000 dbar', () => {
    expect(salinityFromRatio(1.888091, 40, 10000)).toBeCloseTo(40, 4)
  })
  it('uses C(35,15,0) = 42.914 mS/cm as the reference conductivity', () => {
    expect(salinityFromConductivity(C35_15_0, 15 / 1.00024).salinity).toBeCloseTo(35, 4)
  })
  it('matches the delta rule of thumb: at 25 °C, 2 ‰ ≈ 3.8 mS/cm and 4 ‰ ≈ 7.3 mS/cm', () => {
    expect(conductivityFromSalinity(2, 25)).toBeCloseTo(3.8, 1)
    expect(conductivityFromSalinity(4, 25)).toBeCloseTo(7.3, 1)
  })
  it('flags only results above 42, where the scale is extrapolated; below 2 the Hill extension covers it', () => {
    expect(salinityFromConductivity(1.0, 25).inRange).toBe(true)
    expect(salinityFromConductivity(0, 25)).toEqual({ salinity: 0, inRange: true })
    expect(salinityFromConductivity(30, 25).inRange).toBe(true)
    expect(salinityFromConductivity(75, 30).inRange).toBe(false)
  })
  it('round-trips through the inverse, fresh water included', () => {
    for (const s of [0.1, 1, 2, 5, 15, 30, 40]) expect(salinityFromConductivity(conductivityFromSalinity(s, 28), 28).salinity).toBeCloseTo(s, 6)
  })
})

describe('Hill et al. (1986) extension below S = 2', () => {
  it('joins PSS-78 at S = 2: the Hill ratio makes both give 2 at the same conductivity', () => {
    for (const t of [20, 25, 30, 35]) {
      const c2 = conductivityFromSalinity(2, t)
      // Just above 2 is plain PSS-78, just below is the extension: no step between them.
      const above = salinityFromConductivity(c2 * (1 + 1e-9), t).salinity
      const below = salinityFromConductivity(c2 * (1 - 1e-9), t).salinity
      expect(above - below).toBeGreaterThanOrEqual(0)
      expect(above - below).toBeLessThan(1e-7)
      expect(hillRatioAtSp2(t68FromT90(t))).toBeGreaterThan(0.99)
      expect(hillRatioAtSp2(t68FromT90(t))).toBeLessThan(1.01)
    }
  })
  it('stays positive and goes to 0 with conductivity, where bare PSS-78 does not', () => {
    // PSS-78's constant term a0 + b0 f(t) leaves ~0.008 at zero conductivity;
    // Hill's correction terms remove it.
    expect(salinityFromRatio(1e-6, t68FromT90(25))).toBeGreaterThan(0.008)
    expect(salinityFromConductivity(1e-6 * C35_15_0, 25).salinity).toBeLessThan(1e-4)
    expect(salinityFromConductivity(0.01, 25).salinity).toBeGreaterThan(0)
  })
})

// Reference values from TEOS-10 GSW's SP_from_C; how they were made (script,
// GSW version) is in tests/unit/fixtures/gsw-sp-from-c.py and the JSON's "source".
const fixture = JSON.parse(readFileSync(new URL('./fixtures/gsw-sp-from-c.json', import.meta.url), 'utf8')) as {
  source: string
  points: Array<{ c: number; t: number; p: number; sp: number }>
}

describe(`agreement with TEOS-10 GSW SP_from_C to 1e-4 (${fixture.source.split(';')[0]})`, () => {
  it('covers fresh, brackish and marine water at several temperatures and pressures', () => {
    const sp = fixture.points.map((x) => x.sp)
    expect(fixture.points.length).toBeGreaterThanOrEqual(20)
    expect(sp.filter((s) => s < 2).length).toBeGreaterThanOrEqual(5)
    expect(sp.filter((s) => s >= 2 && s < 10).length).toBeGreaterThanOrEqual(5)
    expect(sp.filter((s) => s >= 10).length).toBeGreaterThanOrEqual(5)
    expect(new Set(fixture.points.map((x) => x.t)).size).toBeGreaterThanOrEqual(4)
    expect(fixture.points.filter((x) => x.p > 0).length).toBeGreaterThanOrEqual(3)
  })
  it.each(fixture.points)('C = $c mS/cm, t = $t °C, p = $p dbar -> SP $sp', ({ c, t, p, sp }) => {
    expect(Math.abs(salinityFromConductivity(c, t, p).salinity - sp)).toBeLessThan(1e-4)
  })
})
