/**
 * Practical Salinity Scale 1978 (UNESCO 1983, Technical Papers in Marine
 * Science 44, "Algorithms for computation of fundamental properties of
 * seawater"). Converts conductivity (mS/cm), temperature and pressure to
 * practical salinity, which is what the delta's stations report as ‰.
 *
 * PSS-78 itself is defined for 2 <= S <= 42. Below 2 this module applies the
 * low-salinity extension of Hill, Dauphinee & Woods (1986, IEEE J. Oceanic
 * Eng. 11, 109-112) in the form TEOS-10 GSW's `gsw_SP_from_C` uses (GSW-C
 * toolbox/gsw_sp_from_c.c and gsw_hill_ratio_at_sp2.c): the Hill formula
 * scaled by a ratio that makes it equal PSS-78 exactly at S = 2, so fresh
 * and brackish canal water is as accurate as sea water. Checked against GSW
 * 3.6.16 in tests/unit/fixtures/gsw-sp-from-c.json. Above 42 the polynomial
 * is an extrapolation, so callers flag such values rather than trust them.
 */

/** C(35, 15 °C, 0 dbar) in mS/cm, the reference conductivity of the scale (Culkin & Smith 1980). */
export const C35_15_0 = 42.914

// PSS-78 coefficients, UNESCO (1983) eqs. (1)-(3); GSW's GSW_SP_COEFFICIENTS.
const A = [0.008, -0.1692, 25.3851, 14.0941, -7.0261, 2.7081] as const
const B = [0.0005, -0.0056, -0.0066, -0.0375, 0.0636, -0.0144] as const
const C = [0.6766097, 2.00564e-2, 1.104259e-4, -6.9698e-7, 1.0031e-9] as const
const D = [3.426e-2, 4.464e-4, 4.215e-1, -3.107e-3] as const
const E = [2.07e-5, -6.37e-10, 3.989e-15] as const
const K = 0.0162

/**
 * GSW's fit of sqrt(Rt) at S = 2 as a polynomial in t68 (gsw_hill_ratio_at_sp2,
 * g0..g9): the starting point of one Newton step that lands on S = 2 exactly.
 */
const G = [
  2.641463563366498e-1, 2.007883247811176e-4, -4.107694432853053e-6, 8.401670882091225e-8, -1.71139202198921e-9,
  3.37419389337738e-11, -5.923731174730784e-13, 8.057771569962299e-15, -7.054313817447962e-17, 2.859992717347235e-19,
] as const

export const PSS78_MIN = 2
export const PSS78_MAX = 42

/** ITS-90 -> IPTS-68, the temperature scale the PSS-78 coefficients use (GSW: t68 = 1.00024 t90). */
export function t68FromT90(t90: number): number {
  return 1.00024 * t90
}

/** The temperature term f(t) = (t68 - 15) / (1 + k (t68 - 15)) of UNESCO (1983) eq. (2). */
function ft(t68: number): number {
  return (t68 - 15) / (1 + K * (t68 - 15))
}

/** PSS-78 S(Rt) at sqrt(Rt) = x; and its derivative dS/dx, for the Newton step. */
function sOfRtx(x: number, f: number): number {
  return A[0] + x * (A[1] + x * (A[2] + x * (A[3] + x * (A[4] + x * A[5])))) + f * (B[0] + x * (B[1] + x * (B[2] + x * (B[3] + x * (B[4] + x * B[5])))))
}
function dsOfRtx(x: number, f: number): number {
  return A[1] + x * (2 * A[2] + x * (3 * A[3] + x * (4 * A[4] + x * 5 * A[5]))) + f * (B[1] + x * (2 * B[2] + x * (3 * B[3] + x * (4 * B[4] + x * 5 * B[5]))))
}

/** Hill et al. (1986) correction terms removed from PSS-78 below S = 2: a0 / (1 + 1.5x + x²) + b0 f / (1 + y^½ + y + y^1.5), x = 400 Rt, y = 100 Rt. */
function hillRaw(sPss78: number, rtx: number, f: number): number {
  const x = 400 * rtx * rtx
  const sqrty = 10 * rtx
  return sPss78 - A[0] / (1 + x * (1.5 + x)) - (B[0] * f) / (1 + sqrty * (1 + sqrty * (1 + sqrty)))
}

/**
 * The factor that makes the Hill formula equal PSS-78 at S = 2 for this
 * temperature: 2 / Hill(Rt at which PSS-78 gives exactly 2). Rt at S = 2 is
 * found as GSW does, with one modified Newton-Raphson step from the G fit
 * (GSW: the remaining error is equivalent to 9e-16 in S).
 */
export function hillRatioAtSp2(t68: number): number {
  const f = ft(t68)
  let rtx0 = G[9]
  for (let i = 8; i >= 0; i--) rtx0 = G[i]! + t68 * rtx0
  const sEst = sOfRtx(rtx0, f)
  const rtx1 = rtx0 - (sEst - 2) / dsOfRtx(rtx0, f)
  const rtx = rtx0 - (sEst - 2) / dsOfRtx(0.5 * (rtx1 + rtx0), f)
  return 2 / hillRaw(2, rtx, f)
}

/** Rt = C(S,t,0) / C(35,t,0): R corrected for pressure (Rp) and divided by rt(t), UNESCO (1983) eqs. (3)-(4). */
function rtFromRatio(r: number, t68: number, p: number): number {
  const rt = C[0] + t68 * (C[1] + t68 * (C[2] + t68 * (C[3] + t68 * C[4])))
  const rp = 1 + (p * (E[0] + p * (E[1] + p * E[2]))) / (1 + D[0] * t68 + D[1] * t68 * t68 + (D[2] + D[3] * t68) * r)
  return r / (rp * rt)
}

/**
 * Practical salinity from the conductivity ratio R = C / C(35,15,0) by the
 * PSS-78 polynomial alone (no low-salinity extension): the function UNESCO
 * (1983) publishes check values for.
 * @param t68 temperature on IPTS-68, °C
 * @param p sea pressure, dbar (0 at the surface, which is where delta stations sit)
 */
export function salinityFromRatio(r: number, t68: number, p = 0): number {
  if (r <= 0) return 0
  return sOfRtx(Math.sqrt(rtFromRatio(r, t68, p)), ft(t68))
}

/**
 * Practical salinity from R, with the Hill et al. (1986) extension below
 * S = 2 exactly as `gsw_SP_from_C` applies it. Returns 0 for R <= 0 (GSW
 * returns its invalid value for a negative Rt; a dry or disconnected cell
 * reads 0 and the sensor range check refuses negative conductivity).
 */
export function salinityFromRatioExtended(r: number, t68: number, p = 0): number {
  if (r <= 0) return 0
  const rtx = Math.sqrt(rtFromRatio(r, t68, p))
  const f = ft(t68)
  const s = sOfRtx(rtx, f)
  if (s >= PSS78_MIN) return s
  return Math.max(0, hillRatioAtSp2(t68) * hillRaw(s, rtx, f))
}

export interface SalinityResult {
  salinity: number
  /**
   * False above 42, where neither PSS-78 nor the Hill extension is defined
   * and the value is an extrapolation. Values below 2 are in range: the
   * extension covers them.
   */
  inRange: boolean
}

/** Practical salinity from conductivity in mS/cm and water temperature in °C (ITS-90), as TEOS-10 `gsw_SP_from_C`. */
export function salinityFromConductivity(conductivityMsCm: number, temperatureC: number, pressureDbar = 0): SalinityResult {
  const salinity = salinityFromRatioExtended(conductivityMsCm / C35_15_0, t68FromT90(temperatureC), pressureDbar)
  return { salinity, inRange: salinity <= PSS78_MAX }
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
