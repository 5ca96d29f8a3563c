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
import { LOCAL_OFFSET_MS } from '../core/local-time.ts'

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
  /** Default: the site's entry in SITE_SALINITY by id, else the coast's. */
  readonly salinity?: SalinityProfile
  /** Default: the site's entry in SITE_TIDES by id, else the coast's. */
  readonly tide?: TideProfile
}

export interface SignalSample {
  /** Only the kinds in profile.sensors. */
  readonly values: Partial<Record<SensorKind, number>>
  readonly battery: number
  readonly rssi: number
}

const HOUR = 3_600_000
const DAY = 24 * HOUR
const ICT_OFFSET = LOCAL_OFFSET_MS
const YEAR_DAYS = 365.2422

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

/**
 * Salinity by kind of site, for stations without a site entry. The dry
 * season (December–May) is the salty one; the seasonal term makes the rainy
 * season (June–November) fresher.
 */
const SALINITY_DEFAULTS: Readonly<Record<Coast, SalinityProfile>> = {
  east: { base: 22, seasonAmp: 0.22, tideAmp: 2.5 },
  west: { base: 20, seasonAmp: 0.25, tideAmp: 1.2 },
  // 0.5–6 ‰: crosses the 2 ‰ (stop taking water for rice) and 4 ‰
  // (Decision 18/2021 intrusion line) thresholds in the dry season.
  inland: { base: 2.6, seasonAmp: 0.72, tideAmp: 1.0 },
}

/**
 * The demo sites. Cà Mau's estuaries and canals south and west of the city
 * are brackish shrimp country: about 10–30 ‰ in the dry season, fresher in
 * the rains (FIELD-NOTES "Salinity": black tiger shrimp do best at 15–20 ‰;
 * issue 11: ponds live at about 10–25 ‰). The city canal at Phường 8 is
 * fresher, about 0.5–3 ‰ over the dry season, rising towards April. The
 * numbers are judgments for a believable demo, not fitted to measurements.
 */
const SITE_SALINITY: Readonly<Record<string, SalinityProfile>> = {
  // Ông Đốc mouth: dry ~20–27 ‰, rainy-season low ~11 ‰.
  'cm-songdoc-01': { base: 18, seasonAmp: 0.35, tideAmp: 2 },
  // Đầm Dơi shrimp district: dry ~17–25 ‰, rainy ~10 ‰.
  'cm-tanthuan-01': { base: 17, seasonAmp: 0.35, tideAmp: 2.5 },
  // Cửa Lớn at Năm Căn: dry ~20–28 ‰, rainy ~13 ‰ (inside PSS-78's 2–42).
  'cm-namcan-01': { base: 20, seasonAmp: 0.3, tideAmp: 2.5 },
  // Phường 8: ~0.3 ‰ in the rains; at the March–May peak the tide carries it
  // past the 2 ‰ rice line (about 2–3 ‰), short of the 4 ‰ intrusion line.
  'cm-camau-01': { base: 1.3, seasonAmp: 0.8, tideAmp: 1.0 },
  // Đất Mũi at the cape, nearest the open sea: dry ~22–30 ‰, rainy ~17 ‰.
  'cm-datmui-01': { base: 23, seasonAmp: 0.25, tideAmp: 1.5 },
}

/** Salinity peaks this long after high water (the salt wedge lags the level). */
const SALINITY_LAG_H = 1.5

/**
 * Tides as a sum of the four main constituents. Periods are the standard
 * astronomical ones (Doodson); amplitudes and phases are chosen, not fitted
 * to a gauge, to give each Cà Mau coast the type and range FIELD-NOTES
 * "Tides in Cà Mau" records:
 *
 * - East Sea coast (Gành Hào, Bồ Đề): irregular semi-diurnal, range 3–4 m.
 * - Gulf of Thailand coast (Sông Đốc, Cái Đôi Vàm): diurnal, about 1 m.
 *
 * The type is set by the form factor F = (K1 + O1) / (M2 + S2) (Courtier
 * 1938; see Pugh & Woodworth, "Sea-Level Science", 2014): F < 0.25
 * semi-diurnal, 0.25–1.5 mixed mainly semi-diurnal
 * ("irregular semi-diurnal": two highs a day of unequal height),
 * 1.5–3 mixed mainly diurnal, > 3 diurnal.
 *
 * Two beats make the fortnightly cycles: M2 with S2 every 14.77 days (springs
 * near new and full moon, neaps between) and K1 with O1 every 13.66 days
 * (tropic tides at the moon's greatest declination, when the diurnal
 * inequality is largest). Every constituent peaks together at TIDE_EPOCH_MS:
 * the full moon of 15 December 2024 (09:02 UTC), near the solstice and the
 * 2024–25 major lunar standstill, one day before the extreme tide of the
 * 2024-12-16 bulletin. So simulated springs fall near real new and full moons.
 */
export interface Constituent {
  readonly name: 'M2' | 'S2' | 'K1' | 'O1'
  /** Amplitude, m, on the open coast. */
  readonly amp: number
  readonly periodH: number
}

export const M2_PERIOD_H = 12.4206012
export const S2_PERIOD_H = 12.0
export const K1_PERIOD_H = 23.93446966
export const O1_PERIOD_H = 25.81934171
/** M2–S2 beat: 1 / (1/12 − 1/12.4206) h ≈ 14.77 days. */
export const SPRING_NEAP_DAYS = 1 / (1 / S2_PERIOD_H - 1 / M2_PERIOD_H) / 24
/** K1–O1 beat ≈ 13.66 days. */
export const TROPIC_DAYS = 1 / (1 / K1_PERIOD_H - 1 / O1_PERIOD_H) / 24

/**
 * Spring high water of 2024-12-16 in the model: all constituents in phase at
 * local 04:00 on the 16th, half a day after the full moon (springs lag
 * syzygy by the "age of the tide", commonly 1–2 days; the half day and the
 * hour are judgments, not fitted phases).
 */
export const TIDE_EPOCH_MS = Date.UTC(2024, 11, 15, 21, 0)

/**
 * East: F = (0.46 + 0.34) / (1.00 + 0.40) = 0.57, irregular semi-diurnal.
 * Daily range about 3.1–3.6 m at springs (FIELD-NOTES: 3–4 m), about 1.5 m
 * at neaps; at tropic tides the two daily highs differ by a metre or more
 * (the diurnal inequality), at equatorial tides they are nearly equal.
 * West: F = (0.36 + 0.24) / (0.11 + 0.04) = 4.0, diurnal: one high a day,
 * about 0.9 m range on average, 1.2 m at tropic tides (FIELD-NOTES: ~1 m).
 */
export const TIDES: Readonly<Record<'east' | 'west', readonly Constituent[]>> = {
  east: [
    { name: 'M2', amp: 1.0, periodH: M2_PERIOD_H },
    { name: 'S2', amp: 0.4, periodH: S2_PERIOD_H },
    { name: 'K1', amp: 0.46, periodH: K1_PERIOD_H },
    { name: 'O1', amp: 0.34, periodH: O1_PERIOD_H },
  ],
  west: [
    { name: 'M2', amp: 0.11, periodH: M2_PERIOD_H },
    { name: 'S2', amp: 0.04, periodH: S2_PERIOD_H },
    { name: 'K1', amp: 0.36, periodH: K1_PERIOD_H },
    { name: 'O1', amp: 0.24, periodH: O1_PERIOD_H },
  ],
}

/** F = (K1 + O1) / (M2 + S2) of a constituent set (Courtier 1938). */
export function formFactor(constituents: readonly Constituent[]): number {
  const a = (n: Constituent['name']) => constituents.find((c) => c.name === n)?.amp ?? 0
  return (a('K1') + a('O1')) / (a('M2') + a('S2'))
}

/**
 * How the sea tide looks at one gauge: a river damps the tide by friction
 * and delays it, and not equally for the semi-diurnal and diurnal bands, so
 * each band has its own factor.
 */
export interface TideProfile {
  /** Which sea drives the gauge. */
  readonly sea: 'east' | 'west'
  /** Amplitude factor applied to M2 and S2. 1 = open coast. */
  readonly semidiurnalScale: number
  /** Amplitude factor applied to K1 and O1. */
  readonly diurnalScale: number
  /** Hours the tide arrives after the coast. */
  readonly lagH: number
  /**
   * Annual mean water level, cm above the national datum (Hòn Dấu). The
   * season adds ±15 cm around it (seasonalLevelCm).
   */
  readonly meanCm: number
}

/**
 * The demo gauges. Alarm levels BĐ1/BĐ2/BĐ3 (cm, Hòn Dấu) from Cà Mau's
 * bulletin of 2024-12-16 (FIELD-NOTES): Cà Mau city 65/75/85, Năm Căn
 * 140/150/160, Sông Đốc 75/85/95, Gành Hào 180/200/220. That day Năm Căn
 * read 171 cm and Cà Mau city 107 cm, an extreme peak. Alarm levels sit
 * where water starts to flood, so a gauge crosses BĐ1 on the spring tides
 * of the high-water season (September–January) and stays below it at neaps
 * and in the dry season. The factors are tuned to do that (checked by
 * tests/firmware-sim/signals.test.ts); they are judgments, not fitted to
 * gauge records.
 */
export const SITE_TIDES: Readonly<Record<string, TideProfile>> = {
  // Ông Đốc mouth, Gulf of Thailand: diurnal; tropic-tide highs ~75–87 cm in
  // Nov–Jan (BĐ1 75), under 50 at equatorial tides, under 60 in Mar–May.
  'cm-songdoc-01': { sea: 'west', semidiurnalScale: 1, diurnalScale: 1, lagH: 1, meanCm: -3 },
  // Vàm Hố Gùi, Đầm Dơi: a few km up from the East Sea, nearly the coastal tide.
  'cm-tanthuan-01': { sea: 'east', semidiurnalScale: 0.85, diurnalScale: 0.88, lagH: 1, meanCm: 15 },
  // Cửa Lớn at Năm Căn, ~30 km from the Bồ Đề mouth: Nov–Jan spring highs
  // ~140–155 cm (BĐ1 140), neap highs under ~110, under 130 in Mar–May.
  'cm-namcan-01': { sea: 'east', semidiurnalScale: 0.6, diurnalScale: 0.64, lagH: 2.5, meanCm: 8 },
  // Gành Hào river at Phường 8, ~60 km inland: Nov–Jan spring highs ~65–73
  // cm (BĐ1 65), neap highs under ~50; range ~0.8 m. The low mean is what
  // keeps the damped tide under BĐ1 except at springs (a tuning judgment).
  'cm-camau-01': { sea: 'east', semidiurnalScale: 0.34, diurnalScale: 0.2, lagH: 4.5, meanCm: -4 },
  // The cape, Gulf of Thailand side: like Sông Đốc, a little more M2.
  'cm-datmui-01': { sea: 'west', semidiurnalScale: 1.1, diurnalScale: 1, lagH: 0.5, meanCm: 5 },
}

/** Coast defaults for stations without a site entry. Inland = like Cà Mau city's canals. */
const COAST_TIDES: Readonly<Record<Coast, TideProfile>> = {
  east: { sea: 'east', semidiurnalScale: 1, diurnalScale: 1, lagH: 0, meanCm: 15 },
  west: { sea: 'west', semidiurnalScale: 1, diurnalScale: 1, lagH: 2, meanCm: 5 },
  inland: SITE_TIDES['cm-camau-01']!,
}

export function tideProfile(profile: StationProfile): TideProfile {
  return profile.tide ?? SITE_TIDES[profile.id] ?? COAST_TIDES[profile.coast]
}

/** The constituents as seen at a gauge (damped). */
export function gaugeConstituents(tide: TideProfile): Constituent[] {
  return TIDES[tide.sea].map((c) => ({
    ...c,
    amp: c.amp * (c.name === 'M2' || c.name === 'S2' ? tide.semidiurnalScale : tide.diurnalScale),
  }))
}

/** Astronomical tide in metres about the gauge's mean, without noise. */
export function astronomicalTideM(tide: TideProfile, simMs: number, extraLagH = 0): number {
  const tH = (simMs - TIDE_EPOCH_MS) / HOUR - tide.lagH - extraLagH
  let level = 0
  for (const c of gaugeConstituents(tide)) level += c.amp * Math.cos((2 * Math.PI * tH) / c.periodH)
  return level
}

/**
 * Where the fortnightly cycle stands: +1 at springs (M2 and S2 in phase),
 * −1 at neaps. For a diurnal (west) gauge it is the K1–O1 beat instead:
 * +1 at tropic tides, the diurnal coast's "springs".
 */
export function springFactor(tide: TideProfile, simMs: number): number {
  const tH = (simMs - TIDE_EPOCH_MS) / HOUR - tide.lagH
  const [a, b] = tide.sea === 'west' ? [K1_PERIOD_H, O1_PERIOD_H] : [M2_PERIOD_H, S2_PERIOD_H]
  return Math.cos(2 * Math.PI * tH * (1 / a - 1 / b))
}

/** Largest possible |tide| at the gauge, to normalise the tide into -1..1. */
function tideScaleM(tide: TideProfile): number {
  return gaugeConstituents(tide).reduce((s, c) => s + c.amp, 0)
}

/**
 * Seasonal swing of the mean level, cm: highest in the flood season
 * (October–November, +15) when the Mekong and the north-east monsoon pile
 * water onto the coast, lowest in April–May (−15). This is why Cà Mau's tide
 * bulletins warn of "triều cường" from September to January.
 */
export function seasonalLevelCm(simMs: number): number {
  return 15 * Math.cos((2 * Math.PI * (dayOfYear(simMs) - 305)) / YEAR_DAYS)
}

/** Per-station phase shift in hours (0–1.5 h) for stations without a site entry: neighbouring gauges are not in lockstep. */
function stationPhaseH(profile: StationProfile): number {
  return profile.tide || SITE_TIDES[profile.id] ? 0 : hashUniform(profile.id, 'tide-phase') * 1.5
}

/** Water level, cm relative to datum, without noise. */
export function waterLevelCm(profile: StationProfile, simMs: number): number {
  const tide = tideProfile(profile)
  return tide.meanCm + seasonalLevelCm(simMs) + 100 * astronomicalTideM(tide, simMs, stationPhaseH(profile))
}

export function salinityProfile(profile: StationProfile): SalinityProfile {
  return profile.salinity ?? SITE_SALINITY[profile.id] ?? SALINITY_DEFAULTS[profile.coast]
}

/** Salinity in ‰, without noise. */
export function salinityPpt(profile: StationProfile, simMs: number): number {
  const p = salinityProfile(profile)
  const tideP = tideProfile(profile)
  const season = seasonFactor(simMs)
  const tide = astronomicalTideM(tideP, simMs - SALINITY_LAG_H * HOUR, stationPhaseH(profile)) / tideScaleM(tideP)
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
 * Nitrite, mg/L as NO2⁻: normally 0.02–0.1. On about 3 % of days a pond discharge or
 * a plankton die-off upstream causes an event that rises within an hour and
 * decays over a few hours; some exceed the ~1 mg/L limit. Events are drawn
 * from a hash of (station, day) so they do not depend on sampling order.
 */
export function nitriteBase(profile: StationProfile, simMs: number): number {
  const slow = 0.5 + 0.5 * Math.sin((2 * Math.PI * simMs) / (5.3 * DAY) + hashUniform(profile.id, 'no2') * 6.28)
  // 0.02–0.10 mg/L as NO2⁻ on ordinary days, under QCVN 08:2023's 0.164 (0.05 as N).
  let level = 0.02 + 0.08 * slow
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
