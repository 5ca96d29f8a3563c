import { describe, expect, it } from 'vitest'
import { C35_15_0, conductivityFromSalinity, salinityFromConductivity, salinityFromRatio } from '../../core/pss78.ts'

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
  it('flags results outside 2..42 where the scale is not defined', () => {
    expect(salinityFromConductivity(1.0, 25).inRange).toBe(false)
    expect(salinityFromConductivity(30, 25).inRange).toBe(true)
    expect(salinityFromConductivity(75, 30).inRange).toBe(false)
  })
  it('round-trips through the inverse', () => {
    for (const s of [2, 5, 15, 30, 40]) expect(salinityFromConductivity(conductivityFromSalinity(s, 28), 28).salinity).toBeCloseTo(s, 6)
  })
})
