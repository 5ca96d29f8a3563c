import { z } from 'zod'
import type { SensorKind } from '../core/sensors.ts'
import { SensorRuleSchema, type SensorRule } from './rules.ts'

/**
 * Water-use zones: what the water at a station is used for decides which
 * values hurt and what a farmer should do. Cà Mau is mostly brackish — a
 * shrimp pond at 18 ‰ is normal while a rice field at 4 ‰ is in danger — so
 * one rule for every station tells shrimp farmers to close their sluices
 * every day. Every default number below is listed with its source in
 * docs/ALERTS.md ("Default levels"); where a number is our judgment, that
 * table says so.
 */
export const ZONES = ['rice', 'rice_shrimp', 'brackish_aquaculture', 'water_supply', 'monitoring'] as const
export const ZoneSchema = z.enum(ZONES)
export type Zone = z.infer<typeof ZoneSchema>

/**
 * Stations registered without a zone (and every station that existed before
 * zones) are rice: the strictest salinity rule a farmer can receive, and the
 * rule every station had before, so no subscriber silently loses an alert.
 */
export const DEFAULT_ZONE: Zone = 'rice'

export function isZone(value: string): value is Zone {
  return (ZONES as readonly string[]).includes(value)
}

/** Nitrite is reported as mg/L of NO2⁻; limits written as N are converted by this factor (M(NO2) 46.0055 / M(N) 14.0067). */
export const NO2_PER_N = 46.0055 / 14.0067

const nitriteAsNo2 = (mgPerLAsN: number): number => Math.round(mgPerLAsN * NO2_PER_N * 1000) / 1000

// Each table is parsed once per process: zod's JIT (compiled on a schema's
// first parse) would only cost start-up time here (docs/PERFORMANCE.md, CLI start-up).
const rule = (input: unknown): SensorRule => SensorRuleSchema.parse(input, { jitless: true })

// Salinity, ‰ (1 ‰ ≈ 1 g/L ≈ 1 PSU in practice).
const RICE_SALINITY = rule({
  levels: [
    // 2 ‰: advisories tell farmers not to take water into rice fields above it (judgment within the 2–4 ‰ advice range; docs/ALERTS.md).
    // It clears only when the canal is fresh again (1 ‰): canal salinity swings with every tide, and a
    // clear at 1.8 ‰ sent a warning at almost every high tide of the salt season (tests/levels/demo-province.test.ts).
    { name: 'warning', severity: 'warning', direction: 'above', threshold: 2, clear: 1 },
    // 4 ‰: the salinity-intrusion line of Decision 18/2021/QĐ-TTg; clears at 3 ‰ for the same reason (judgment).
    { name: 'danger', severity: 'danger', direction: 'above', threshold: 4, clear: 3 },
  ],
  // Salt coming in on the tide: +1 ‰ within an hour (judgment).
  rise: { delta: 1, windowSec: 3600 },
})

const AQUACULTURE_SALINITY = rule({
  levels: [
    // 5–35 ‰: the pond salinity range of QCVN 02-19:2014/BNNPTNT for black tiger and whiteleg shrimp.
    { name: 'warning', severity: 'warning', direction: 'outside', threshold: 5, clear: 6, high: 35, clearHigh: 34 },
    // Below 2 ‰ (fresh-water shock after heavy rain) or above 40 ‰ (hypersaline dry-season pond): judgment.
    { name: 'danger', severity: 'danger', direction: 'outside', threshold: 2, clear: 2.5, high: 40, clearHigh: 39 },
  ],
  // Shrimp are stressed by pond salinity moving more than 5 ‰ in a day (aquaculture guidance;
  // docs/ALERTS.md). The station measures the canal, whose salinity swings with the
  // tide by up to ~5 ‰ a day in the dry season; a farmer takes water at one tide. A
  // 7 ‰ swing means the water at the gate moved beyond the tide's own swing (judgment).
  rise: { delta: 7, windowSec: 86_400, direction: 'any' },
})

const WATER_SUPPLY_SALINITY = rule({
  levels: [
    // Half the drinking-water limit: time to fill reservoirs and plan a stop (judgment).
    { name: 'warning', severity: 'warning', direction: 'above', threshold: 0.25, clear: 0.22 },
    // Chloride 250 mg/L (QCVN 01-1:2018/BYT) x 1.80655 (Knudsen) ≈ 0.45 ‰: stop the intake.
    { name: 'danger', severity: 'danger', direction: 'above', threshold: 0.45, clear: 0.4 },
  ],
  rise: { delta: 0.2, windowSec: 3600 },
})

const MONITORING_SALINITY = rule({
  // No threshold by default: a monitoring station at the coast sits above the 4 ‰
  // intrusion line (Decision 18/2021/QĐ-TTg) all year, so a default level there would
  // be an incident that never closes. Stations that watch the front move inland get a
  // station override at 4 ‰ (docs/ALERTS.md). A fast rise is news anywhere (judgment).
  levels: [],
  rise: { delta: 1, windowSec: 3600, notifyFarmers: false },
})

// pH.
const SURFACE_PH = rule({
  levels: [
    // QCVN 08:2023/BTNMT surface water: pH 6.0–8.5.
    { name: 'ph_low', severity: 'warning', direction: 'below', threshold: 6, clear: 6.2 },
    { name: 'ph_high', severity: 'warning', direction: 'above', threshold: 8.5, clear: 8.3 },
  ],
})
const AQUACULTURE_PH = rule({
  levels: [
    // QCVN 02-19:2014/BNNPTNT shrimp ponds: pH 7–9.
    { name: 'ph_low', severity: 'warning', direction: 'below', threshold: 7, clear: 7.2 },
    { name: 'ph_high', severity: 'warning', direction: 'above', threshold: 9, clear: 8.8 },
  ],
})
const DRINKING_PH = rule({
  levels: [
    // QCVN 01-1:2018/BYT: pH 6.0–8.5.
    { name: 'ph_low', severity: 'warning', direction: 'below', threshold: 6, clear: 6.2 },
    { name: 'ph_high', severity: 'warning', direction: 'above', threshold: 8.5, clear: 8.3 },
  ],
})

// Nitrite, mg/L as NO2⁻ (the basis stations report in; docs/PROTOCOL.md).
const SURFACE_NO2 = rule({
  // QCVN 08:2023/BTNMT: 0.05 mg/L as N = 0.164 mg/L as NO2⁻.
  levels: [{ name: 'warning', severity: 'warning', direction: 'above', threshold: nitriteAsNo2(0.05), clear: nitriteAsNo2(0.04) }],
})
const AQUACULTURE_NO2 = rule({
  levels: [
    // Shrimp tolerate more nitrite in brackish water; 1 mg/L as NO2⁻ (0.3 as N) is the usual pond alarm (judgment).
    { name: 'warning', severity: 'warning', direction: 'above', threshold: 1, clear: 0.8 },
    // 1 mg/L as N (3.3 as NO2⁻): judgment.
    { name: 'danger', severity: 'danger', direction: 'above', threshold: nitriteAsNo2(1), clear: nitriteAsNo2(0.8) },
  ],
})
const DRINKING_NO2 = rule({
  // QCVN 01-1:2018/BYT: nitrite 3 mg/L as NO2⁻ (the WHO guideline value).
  levels: [{ name: 'danger', severity: 'danger', direction: 'above', threshold: 3, clear: 2.5 }],
})
const staffOnly = (r: SensorRule): SensorRule =>
  SensorRuleSchema.parse({ ...r, levels: r.levels.map((l) => ({ ...l, notifyFarmers: false })), rise: r.rise && { ...r.rise, notifyFarmers: false } }, { jitless: true })

// Water level: the official alarm levels BĐ1–BĐ3 are per gauge (alarmLevelsRule), never a zone default.
const NO_WATER_LEVEL_RULE = rule({ levels: [] })

type ZoneRules = Readonly<Partial<Record<SensorKind, SensorRule>>>

// Nitrite at the surface-water limit is a water-quality fact for staff; it does not hurt rice, and shrimp advice would be wrong on a rice field.
const RICE: ZoneRules = { salinity: RICE_SALINITY, ph: SURFACE_PH, no2: staffOnly(SURFACE_NO2), water_level: NO_WATER_LEVEL_RULE }
const AQUACULTURE: ZoneRules = { salinity: AQUACULTURE_SALINITY, ph: AQUACULTURE_PH, no2: AQUACULTURE_NO2, water_level: NO_WATER_LEVEL_RULE }

/**
 * A zone's rules for each part of the year (local months, 1–12). Rice–shrimp
 * fields are brackish shrimp ponds in the dry season and rice fields once the
 * rains have flushed the salt out, so the same 10 ‰ is normal in April and a
 * danger in September.
 */
interface Season {
  readonly months: readonly number[]
  readonly rules: ZoneRules
}

export const ZONE_SEASONS: Readonly<Record<Zone, readonly Season[]>> = Object.freeze({
  rice: [{ months: ALL_MONTHS(), rules: RICE }],
  // Shrimp from January to July, rice from August to December (Cà Mau's rice–shrimp calendar; docs/ALERTS.md).
  rice_shrimp: [
    { months: [1, 2, 3, 4, 5, 6, 7], rules: AQUACULTURE },
    { months: [8, 9, 10, 11, 12], rules: RICE },
  ],
  brackish_aquaculture: [{ months: ALL_MONTHS(), rules: AQUACULTURE }],
  water_supply: [{ months: ALL_MONTHS(), rules: { salinity: WATER_SUPPLY_SALINITY, ph: DRINKING_PH, no2: DRINKING_NO2, water_level: NO_WATER_LEVEL_RULE } }],
  monitoring: [{ months: ALL_MONTHS(), rules: { salinity: MONITORING_SALINITY, ph: staffOnly(SURFACE_PH), no2: staffOnly(SURFACE_NO2), water_level: NO_WATER_LEVEL_RULE } }],
})

function ALL_MONTHS(): number[] {
  return [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
}

/** The zone's built-in rule for a sensor in a local month (1–12), or null when the zone has none. */
export function zoneRule(zone: Zone, sensor: string, month: number): SensorRule | null {
  for (const season of ZONE_SEASONS[zone]) {
    if (season.months.includes(month)) return season.rules[sensor as SensorKind] ?? null
  }
  return null
}

/** Every (zone, season, sensor) default, for docs/ALERTS.md and its test. */
export function allZoneRules(): Array<{ zone: Zone; months: readonly number[]; sensor: SensorKind; rule: SensorRule }> {
  const out: Array<{ zone: Zone; months: readonly number[]; sensor: SensorKind; rule: SensorRule }> = []
  for (const zone of ZONES) {
    for (const season of ZONE_SEASONS[zone]) {
      for (const [sensor, r] of Object.entries(season.rules)) out.push({ zone, months: season.months, sensor: sensor as SensorKind, rule: r! })
    }
  }
  return out
}

/**
 * Generic built-ins, for sensors a zone has no rule for (temperature,
 * conductivity: none by default). A stored rule with scope 'default'
 * overrides these.
 */
export const DEFAULT_RULES: Readonly<Partial<Record<SensorKind, SensorRule>>> = Object.freeze({})

/**
 * The official water-level alarm levels of a gauge (mực nước báo động BĐ1–BĐ3,
 * cm on the national datum), as published for it in the provincial tide and
 * flood bulletins. BĐ1 and BĐ2 warn; BĐ3 is danger.
 */
export const AlarmLevelsSchema = z
  .object({ bd1: z.number(), bd2: z.number(), bd3: z.number() })
  .refine((a) => a.bd1 < a.bd2 && a.bd2 < a.bd3, { message: 'alarm levels must rise: bd1 < bd2 < bd3' })
export type AlarmLevels = z.infer<typeof AlarmLevelsSchema>

/** Hysteresis of an alarm level: a tide must fall 5 cm below it to clear (judgment: above gauge noise and wind set-up). */
const ALARM_CLEAR_CM = 5

export function alarmLevelsRule(a: AlarmLevels): SensorRule {
  return rule({
    levels: (['bd1', 'bd2', 'bd3'] as const).map((name) => ({
      name,
      severity: name === 'bd3' ? 'danger' : 'warning',
      direction: 'above',
      threshold: a[name],
      clear: a[name] - ALARM_CLEAR_CM,
      // One reading at the level is enough: a tide peak lasts under an hour.
      pendingReadings: 1,
    })),
  })
}

/** The BĐ levels of a water-level rule, or null when it is not an alarm-level rule. */
export function alarmLevelsOf(r: SensorRule | null): AlarmLevels | null {
  if (!r) return null
  const get = (n: string): number | undefined => r.levels.find((l) => l.name === n)?.threshold
  const bd1 = get('bd1')
  const bd2 = get('bd2')
  const bd3 = get('bd3')
  return bd1 !== undefined && bd2 !== undefined && bd3 !== undefined ? { bd1, bd2, bd3 } : null
}
