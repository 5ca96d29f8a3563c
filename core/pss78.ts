/**
 * Practical Salinity Scale 1978 (UNESCO 1983, Technical Papers in Marine
 * Science 44, "Algorithms for computation of fundamental properties of
 * seawater"). Converts conductivity (mS/cm), temperature and pressure to
 * practical salinity, which is what the delta's stations report as ‰.
 *
 * PSS-78 is defined for 2 <= S <= 42. Outside that range the polynomial is
 * an extrapolation, so callers flag such values rather than trust them.
 */

/** C(35, 15 °C, 0 dbar) in mS/cm, the reference conductivity of the scale. */
export const C35_15_0 = 42.914

const A = [0.008, -0.1692, 25.3851, 14.0941, -7.0261, 2.7081] as const
const B = [0.0005, -0.0056, -0.0066, -0.0375, 0.0636, -0.0144] as const
const C = [0.6766097, 2.00564e-2, 1.104259e-4, -6.9698e-7, 1.0031e-9] as const
const D = [3.426e-2, 4.464e-4, 4.215e-1, -3.107e-3] as const
const E = [2.07e-5, -6.37e-10, 3.989e-15] as const
const K = 0.0162

export const PSS78_MIN = 2
export const PSS78_MAX = 42

/** ITS-90 -> IPTS-68, the temperature scale the PSS-78 coefficients use. */
export function t68FromT90(t90: number): number {
  return 1.00024 * t90
}

/**
 * Practical salinity from the conductivity ratio R = C / C(35,15,0).
 * @param t68 temperature on IPTS-68, °C
 * @param p sea pressure, dbar (0 at the surface, which is where delta stations sit)
 */
export function salinityFromRatio(r: number, t68: number, p = 0): number {
  if (r <= 0) return 0
  const rt = C[0] + t68 * (C[1] + t68 * (C[2] + t68 * (C[3] + t68 * C[4])))
  const rp = 1 + (p * (E[0] + p * (E[1] + p * E[2]))) / (1 + D[0] * t68 + D[1] * t68 * t68 + (D[2] + D[3] * t68) * r)
  const bigRt = r / (rp * rt)
  const sq = Math.sqrt(bigRt)
  let s = 0
  let ds = 0
  for (let i = 0; i < 6; i++) {
    const term = Math.pow(sq, i)
    s += A[i]! * term
    ds += B[i]! * term
  }
  return s + ((t68 - 15) / (1 + K * (t68 - 15))) * ds
}

export interface SalinityResult {
  salinity: number
  /** False when the result lies outside 2..42, where PSS-78 is not defined. */
  inRange: boolean
}

/** Practical salinity from conductivity in mS/cm and water temperature in °C (ITS-90). */
export function salinityFromConductivity(conductivityMsCm: number, temperatureC: number, pressureDbar = 0): SalinityResult {
  const s = salinityFromRatio(conductivityMsCm / C35_15_0, t68FromT90(temperatureC), pressureDbar)
  const salinity = Math.max(0, s)
  return { salinity, inRange: salinity >= PSS78_MIN && salinity <= PSS78_MAX }
}

/** Inverse, by bisection: the conductivity (mS/cm) a probe reads for a salinity. Used by the simulator. */
export function conductivityFromSalinity(salinity: number, temperatureC: number): number {
  let lo = 0
  let hi = 120
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2
    if (salinityFromConductivity(mid, temperatureC).salinity < salinity) lo = mid
    else hi = mid
  }
  return (lo + hi) / 2
}
