/**
 * Realistic sensor signals for a Cà Mau station, as a pure function of the
 * station profile, the simulated time and a noise source. No state: the
 * simulator may evaluate any instant (a year in a test, a compressed day in a
 * demo) and a given (profile, time, rng seed) always gives the same reading.
 *
 * Local time is Indochina Time (UTC+7, no DST); the diurnal cycles (sun, pH,
 * temperature, battery) follow it.
 */
import type { SensorKind } from '../core/sensors.ts'
import { conductivityFromSalinity } from '../core/pss78.ts'
import { hashSeed, hashUniform, type Rng } from './prng.ts'

export type Coast = 'east' | 'west' | 'inland'

export interface SalinityProfile {
  /** Mean salinity over the year, ‰. */
  readonly base: number
  /** Relative seasonal swing: 0.25 means ±25 % around base (dry-season peak, rainy-season low). */
  readonly seasonAmp: number
  /** Tidal swing, ‰, at the dry-season peak (smaller when the river runs high). */
  readonly tideAmp: number
}

export interface StationProfile {
  readonly id: string
  readonly coast: Coast
  /** What the station reports. A conductivity station sends conductivity + temperature and no salinity. */
  readonly sensors: readonly SensorKind[]
  readonly salinity?: SalinityProfile
}

export interface SignalSample {
  /** Only the kinds in profile.sensors. */
  readonly values: Partial<Record<SensorKind, number>>
  readonly battery: number
  readonly rssi: number
}

const HOUR = 3_600_000
const DAY = 24 * HOUR
const ICT_OFFSET = 7 * HOUR
const YEAR_DAYS = 365.2422

/**
 * Tidal constituents: amplitude (m) and period (h). Periods are the standard
 * astronomical ones (Doodson). Amplitudes are chosen to match the two Cà Mau
 * coasts (docs: FIELD-NOTES "Tides in Cà Mau"), not fitted to a real gauge:
 * - East Sea coast (Gành Hào, Bồ Đề): irregular semi-diurnal, range 3–4 m.
 *   M2 ± S2 gives the spring–neap cycle (4.0 m springs, ~3.0 m neaps);
 *   a small K1/O1 adds the diurnal inequality.
 * - Gulf of Thailand coast (Sông Đốc, Đất Mũi west side): diurnal, about 1 m.
 *   K1 + O1 beat over the 13.66-day tropical cycle.
 */
interface Constituent {
  readonly amp: number
  readonly periodH: number
  readonly phase: number
}
const M2 = 12.4206012
const S2 = 12.0
const K1 = 23.93446966
const O1 = 25.81934171

const TIDES: Readonly<Record<'east' | 'west', readonly Constituent[]>> = {
  east: [
    { amp: 1.66, periodH: M2, phase: 0 },
    { amp: 0.24, periodH: S2, phase: 0.3 },
    { amp: 0.12, periodH: K1, phase: 1.1 },
    { amp: 0.08, periodH: O1, phase: 0.4 },
  ],
  west: [
    { amp: 0.42, periodH: K1, phase: 0.2 },
    { amp: 0.24, periodH: O1, phase: 0.9 },
    { amp: 0.06, periodH: M2, phase: 2.0 },
  ],
}

/**
 * Inland stations on the canals (Cà Mau city) see the East Sea tide damped by
 * friction and delayed by the hours it takes to travel up the Gành Hào river.
 */
const INLAND_DAMPING = 0.22
const INLAND_LAG_H = 4

const SALINITY_DEFAULTS: Readonly<Record<Coast, SalinityProfile>> = {
  east: { base: 22, seasonAmp: 0.22, tideAmp: 2.5 },
  west: { base: 20, seasonAmp: 0.25, tideAmp: 1.2 },
  // 0.5–6 ‰: crosses the 2 ‰ (stop taking water for rice) and 4 ‰
  // (Decision 18/2021 intrusion line) thresholds in the dry season.
  inland: { base: 2.6, seasonAmp: 0.72, tideAmp: 1.0 },
}

/** Salinity peaks this long after high water (the salt wedge lags the level). */
const SALINITY_LAG_H = 1.5

/** Local (UTC+7) hour of day, 0..24. */
export function localHour(simMs: number): number {
  const local = (simMs + ICT_OFFSET) % DAY
  return ((local + DAY) % DAY) / HOUR
}

/** Local day of year, 0..366 (fractional). */
export function dayOfYear(simMs: number): number {
  const local = new Date(simMs + ICT_OFFSET)
  const yearStart = Date.UTC(local.getUTCFullYear(), 0, 1)
  return (simMs + ICT_OFFSET - yearStart) / DAY
}

/** +1 at the dry-season salinity peak (about 10 April), -1 in the rainy-season low (October). */
export function seasonFactor(simMs: number): number {
  return Math.cos((2 * Math.PI * (dayOfYear(simMs) - 100)) / YEAR_DAYS)
}

/** Per-station phase shift in hours (0–1.5 h): neighbouring gauges are not in lockstep. */
function stationPhaseH(id: string): number {
  return hashUniform(id, 'tide-phase') * 1.5
}

/** Astronomical tide in metres about mean sea level, for a coast, without noise. */
export function astronomicalTideM(coast: Coast, simMs: number, phaseH = 0): number {
  const seaCoast = coast === 'west' ? 'west' : 'east'
  const damping = coast === 'inland' ? INLAND_DAMPING : 1
  const lagH = (coast === 'inland' ? INLAND_LAG_H : 0) + phaseH
  const tH = simMs / HOUR - lagH
  let level = 0
  for (const c of TIDES[seaCoast]) level += c.amp * Math.cos((2 * Math.PI * tH) / c.periodH + c.phase)
  return damping * level
}

/** Largest possible |tide| for the coast, to normalise the tide into -1..1. */
function tideScaleM(coast: Coast): number {
  const seaCoast = coast === 'west' ? 'west' : 'east'
  const sum = TIDES[seaCoast].reduce((s, c) => s + c.amp, 0)
  return (coast === 'inland' ? INLAND_DAMPING : 1) * sum
}

/**
 * Mean sea level against the national datum (Hòn Dấu), cm: about +15 cm,
 * some 15 cm higher in the flood season (October–November) when the Mekong
 * and the north-east monsoon pile water onto the coast.
 */
function meanSeaLevelCm(simMs: number): number {
  return 15 + 15 * Math.cos((2 * Math.PI * (dayOfYear(simMs) - 305)) / YEAR_DAYS)
}

/** Water level, cm relative to datum, without noise. */
export function waterLevelCm(profile: StationProfile, simMs: number): number {
  return meanSeaLevelCm(simMs) + 100 * astronomicalTideM(profile.coast, simMs, stationPhaseH(profile.id))
}

export function salinityProfile(profile: StationProfile): SalinityProfile {
  return profile.salinity ?? SALINITY_DEFAULTS[profile.coast]
}

/** Salinity in ‰, without noise. */
export function salinityPpt(profile: StationProfile, simMs: number): number {
  const p = salinityProfile(profile)
  const season = seasonFactor(simMs)
  const tide =
    astronomicalTideM(profile.coast, simMs - SALINITY_LAG_H * HOUR, stationPhaseH(profile.id)) /
    tideScaleM(profile.coast)
  // In the rainy season the river pushes the salt front seaward, so the same
  // tide moves less salt past the station: scale the tidal swing with the season.
  const tideWeight = (1 + 0.5 * season) / 1.5
  return Math.max(0.1, p.base * (1 + p.seasonAmp * season) + p.tideAmp * tideWeight * tide)
}

/** pH: photosynthesis draws CO2 down during the day, so pH peaks mid-afternoon (~15:00). */
export function phBase(profile: StationProfile, simMs: number): number {
  const offset = (hashUniform(profile.id, 'ph') - 0.5) * 0.1
  return 7.65 + offset + 0.55 * Math.cos((2 * Math.PI * (localHour(simMs) - 15)) / 24)
}

/** Water temperature, °C: 27–33, warmest mid-afternoon and in April–May. */
export function temperatureBase(simMs: number): number {
  return (
    30 +
    1.5 * Math.cos((2 * Math.PI * (localHour(simMs) - 15)) / 24) +
    0.9 * Math.cos((2 * Math.PI * (dayOfYear(simMs) - 125)) / YEAR_DAYS)
  )
}

/**
 * Nitrite, mg/L: normally 0.02–0.3. On about 3 % of days a pond discharge or
 * a plankton die-off upstream causes an event that rises within an hour and
 * decays over a few hours; some exceed the ~1 mg/L limit. Events are drawn
 * from a hash of (station, day) so they do not depend on sampling order.
 */
export function nitriteBase(profile: StationProfile, simMs: number): number {
  const slow = 0.5 + 0.5 * Math.sin((2 * Math.PI * simMs) / (5.3 * DAY) + hashUniform(profile.id, 'no2') * 6.28)
  let level = 0.05 + 0.12 * slow
  const today = Math.floor((simMs + ICT_OFFSET) / DAY)
  for (const day of [today - 1, today]) {
    if (hashUniform(profile.id, 'no2-event', day) >= 0.03) continue
    const startMs = day * DAY - ICT_OFFSET + (6 + 12 * hashUniform(profile.id, 'no2-hour', day)) * HOUR
    const peak = 0.4 + 1.4 * hashUniform(profile.id, 'no2-peak', day)
    const dtH = (simMs - startMs) / HOUR
    if (dtH < 0) continue
    level += dtH < 1 ? peak * dtH : peak * Math.exp(-(dtH - 1) / 3)
  }
  return level
}

/**
 * Battery, V, of a 12 V lead-acid/LiFePO4 pack on a solar panel: it charges
 * from sunrise to a ~13.7 V absorption peak at noon and sags to ~12.1 V by dawn.
 */
export function batteryBase(simMs: number): number {
  const h = localHour(simMs)
  if (h >= 6 && h < 18) return 12.6 + 1.1 * Math.sin((Math.PI * (h - 6)) / 12)
  const sinceDusk = h >= 18 ? h - 18 : h + 6
  return 12.6 - 0.45 * (sinceDusk / 12)
}

/** RSSI, dBm: a per-site mean (distance to the tower) plus slow fading. */
export function rssiBase(profile: StationProfile, simMs: number): number {
  const mean = -95 + 22 * hashUniform(profile.id, 'rssi')
  const phase = hashUniform(profile.id, 'rssi-phase') * 6.28
  return mean + 5 * Math.sin((2 * Math.PI * simMs) / (3.1 * HOUR) + phase)
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v))
}

function round(v: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(v * f) / f
}

/**
 * One reading's values at simulated time simMs. Noise is drawn from rng in a
 * fixed order (always the same number of draws), so a seeded rng reproduces
 * the same sequence. Values are rounded to what a station's ADC reports and
 * clamped to the physical envelope each sensor can show.
 */
export function sampleSignals(profile: StationProfile, simMs: number, rng: Rng): SignalSample {
  const nSal = rng.gaussian()
  const nLevel = rng.gaussian()
  const nPh = rng.gaussian()
  const nNo2 = rng.gaussian()
  const nTemp = rng.gaussian()
  const nBat = rng.gaussian()
  const nRssi = rng.gaussian()

  const salinity = Math.max(0.05, salinityPpt(profile, simMs) * (1 + 0.01 * nSal) + 0.02 * nSal)
  const temperature = clamp(temperatureBase(simMs) + 0.1 * nTemp, 27, 33)
  const all: Record<SensorKind, number> = {
    salinity: round(salinity, 2),
    water_level: round(waterLevelCm(profile, simMs) + 1.0 * nLevel, 1),
    ph: round(clamp(phBase(profile, simMs) + 0.03 * nPh, 6.8, 8.5), 2),
    no2: round(Math.max(0.02, nitriteBase(profile, simMs) + 0.01 * nNo2), 3),
    temperature: round(temperature, 2),
    // The probe measures conductivity of the actual water; the ingest turns
    // it back into salinity with PSS-78, so use the exact inverse here.
    conductivity: round(conductivityFromSalinity(salinity, temperature), 3),
  }
  const values: Partial<Record<SensorKind, number>> = {}
  for (const kind of profile.sensors) values[kind] = all[kind]
  return {
    values,
    battery: round(clamp(batteryBase(simMs) + 0.02 * nBat, 12.0, 13.8), 2),
    rssi: Math.round(clamp(rssiBase(profile, simMs) + 3 * nRssi, -105, -65)),
  }
}

/** Default sensors of a station that measures salinity directly. */
export const SALINITY_SENSORS: readonly SensorKind[] = Object.freeze(['salinity', 'water_level', 'ph', 'no2', 'temperature'])
/** A station with a conductivity probe: the ingest derives salinity (PSS-78). */
export const CONDUCTIVITY_SENSORS: readonly SensorKind[] = Object.freeze(['conductivity', 'temperature', 'water_level', 'ph', 'no2'])

/** A plausible profile for a station id that has none: coast chosen by hash. */
export function defaultProfile(id: string): StationProfile {
  const coasts: readonly Coast[] = ['east', 'west', 'inland']
  const coast = coasts[hashSeed(id, 'coast') % 3]!
  return { id, coast, sensors: SALINITY_SENSORS }
}
