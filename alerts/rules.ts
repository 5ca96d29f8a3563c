import { z } from 'zod'
import type { SensorKind } from '../core/sensors.ts'

/**
 * Rule definitions and the pure "which level does this value put us at"
 * function. Semantics are documented in docs/ALERTS.md.
 */
export const SeveritySchema = z.enum(['warning', 'danger'])
export type Severity = z.infer<typeof SeveritySchema>

export const LevelSchema = z
  .object({
    /** Stable name used in messages, anti-spam keys and alert_event.level: warning, danger, bd1, ph_low… */
    name: z.string().regex(/^[a-z0-9_]{1,24}$/),
    severity: SeveritySchema,
    direction: z.enum(['above', 'below']),
    threshold: z.number(),
    /** Hysteresis: the level clears only past this value. Default: threshold -/+ 10 % (at least 0.1). */
    clear: z.number().optional(),
    /** Pending: consecutive readings at or past this level before it fires. */
    pendingReadings: z.number().int().min(1).default(2),
    /** Pending: and at least this long since the first of them. */
    pendingSec: z.number().int().min(0).default(0),
    /** false: staff only (e.g. sensor-health style levels). */
    notifyFarmers: z.boolean().default(true),
  })
  .refine((l) => l.clear === undefined || (l.direction === 'above' ? l.clear <= l.threshold : l.clear >= l.threshold), {
    message: 'clear must be on the safe side of threshold',
  })
export type Level = z.infer<typeof LevelSchema>

export const RiseSchema = z.object({
  /** Fires when the value rose by at least delta within windowSec. */
  delta: z.number().positive(),
  windowSec: z.number().int().positive().default(3600),
  severity: SeveritySchema.default('warning'),
  notifyFarmers: z.boolean().default(true),
})
export type Rise = z.infer<typeof RiseSchema>

export const SensorRuleSchema = z.object({
  enabled: z.boolean().default(true),
  /** Ordered from least to most severe within a direction; the order is the escalation order. */
  levels: z.array(LevelSchema).max(8).default([]),
  rise: RiseSchema.nullable().default(null),
})
export type SensorRule = z.infer<typeof SensorRuleSchema>
export type SensorRuleInput = z.input<typeof SensorRuleSchema>

/** Built-in defaults (docs/ALERTS.md cites the sources). */
export const DEFAULT_RULES: Readonly<Partial<Record<SensorKind, SensorRule>>> = Object.freeze({
  // 2 ‰: don't take water for rice seedlings; 4 ‰: salinity-intrusion line of Decision 18/2021/QĐ-TTg.
  salinity: SensorRuleSchema.parse({
    levels: [
      { name: 'warning', severity: 'warning', direction: 'above', threshold: 2, clear: 1.8 },
      { name: 'danger', severity: 'danger', direction: 'above', threshold: 4, clear: 3.6 },
    ],
    rise: { delta: 1, windowSec: 3600 },
  }),
  ph: SensorRuleSchema.parse({
    levels: [
      { name: 'ph_low', severity: 'warning', direction: 'below', threshold: 6.5, clear: 6.7 },
      { name: 'ph_high', severity: 'warning', direction: 'above', threshold: 8.5, clear: 8.3 },
    ],
  }),
  no2: SensorRuleSchema.parse({
    levels: [{ name: 'warning', severity: 'warning', direction: 'above', threshold: 1, clear: 0.8 }],
  }),
  // Alarm levels BĐ1–BĐ3 are per station (set them with a station override); none by default.
  water_level: SensorRuleSchema.parse({ levels: [] }),
})

export function clearOf(level: Level): number {
  if (level.clear !== undefined) return level.clear
  const band = Math.max(Math.abs(level.threshold) * 0.1, 0.1)
  return level.direction === 'above' ? level.threshold - band : level.threshold + band
}

function beyond(value: number, limit: number, direction: 'above' | 'below'): boolean {
  return direction === 'above' ? value >= limit : value <= limit
}

/**
 * The level a value puts a sensor at, given the level currently firing.
 * A level is active when the value is at or past its threshold, or when
 * that level (or a more severe one in the same direction) is firing and the
 * value has not yet crossed the level's clear value (hysteresis). The most
 * severe active level wins.
 */
export function targetLevel(levels: readonly Level[], value: number, firing: string | null): Level | null {
  const firingIdx = firing === null ? -1 : levels.findIndex((l) => l.name === firing)
  const firingLevel = firingIdx >= 0 ? levels[firingIdx]! : undefined
  for (let i = levels.length - 1; i >= 0; i--) {
    const l = levels[i]!
    if (beyond(value, l.threshold, l.direction)) return l
    const held = firingLevel !== undefined && firingLevel.direction === l.direction && firingIdx >= i
    if (held && !beyond(value, clearOf(l), l.direction === 'above' ? 'below' : 'above')) return l
  }
  return null
}

/** Escalation order: a level's index in the ladder, -1 for none. */
export function levelRank(levels: readonly Level[], name: string | null): number {
  return name === null ? -1 : levels.findIndex((l) => l.name === name)
}

/** The rise ladder is modelled as one level so it shares the state machine. */
export function riseLevel(rise: Rise): Level {
  return {
    name: 'rise',
    severity: rise.severity,
    direction: 'above',
    threshold: rise.delta,
    clear: rise.delta / 2,
    pendingReadings: 1,
    pendingSec: 0,
    notifyFarmers: rise.notifyFarmers,
  }
}

export const NO_DATA_LEVEL: Level = {
  name: 'no_data',
  severity: 'warning',
  direction: 'above',
  threshold: 0,
  pendingReadings: 1,
  pendingSec: 0,
  notifyFarmers: false,
}
