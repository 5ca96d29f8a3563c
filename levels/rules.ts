import { z } from 'zod'

/**
 * Rule definitions and the pure "which level does this value put us at"
 * function, shared by the alerter, the board, open data, daily summaries and
 * the dashboards' threshold lines, so every one of them judges a value by the
 * same numbers. Semantics are documented in docs/ALERTS.md.
 */
export const SeveritySchema = z.enum(['warning', 'danger'])
export type Severity = z.infer<typeof SeveritySchema>

/**
 * above: at or above `threshold`; below: at or below `threshold`;
 * outside: at or below `threshold` (the band's low edge) or at or above
 * `high` (its high edge) — a brackish shrimp pond is hurt both by fresh
 * water after heavy rain and by hypersaline water in the dry season.
 */
export const DirectionSchema = z.enum(['above', 'below', 'outside'])
export type Direction = z.infer<typeof DirectionSchema>

export const LevelSchema = z
  .object({
    /** Stable name used in messages, anti-spam keys and alert_event.level: warning, danger, bd1, ph_low… */
    name: z.string().regex(/^[a-z0-9_]{1,24}$/),
    severity: SeveritySchema,
    direction: DirectionSchema,
    /** above/below: the limit; outside: the low edge of the band. */
    threshold: z.number(),
    /** outside only: the high edge of the band. */
    high: z.number().optional(),
    /** Hysteresis: the level clears only past this value (outside: the low side). Default: threshold -/+ 10 % (at least 0.1). */
    clear: z.number().optional(),
    /** outside only: the high side's clear value. Default: high - 10 % (at least 0.1). */
    clearHigh: z.number().optional(),
    /** Pending: consecutive readings at or past this level before it fires. */
    pendingReadings: z.number().int().min(1).default(2),
    /** Pending: and at least this long since the first of them. */
    pendingSec: z.number().int().min(0).default(0),
    /** false: staff only (e.g. sensor-health style levels, monitoring stations). */
    notifyFarmers: z.boolean().default(true),
  })
  .refine((l) => (l.direction === 'outside' ? l.high !== undefined && l.high > l.threshold : l.high === undefined && l.clearHigh === undefined), {
    message: 'an outside level needs high > threshold; above and below levels take no high',
  })
  .refine((l) => l.clear === undefined || (l.direction === 'above' ? l.clear <= l.threshold : l.clear >= l.threshold), {
    message: 'clear must be on the safe side of threshold',
  })
  .refine((l) => l.clearHigh === undefined || (l.high !== undefined && l.clearHigh <= l.high && l.clearHigh >= (l.clear ?? l.threshold)), {
    message: 'clearHigh must be inside the band, at or below high',
  })
export type Level = z.infer<typeof LevelSchema>

export const RiseSchema = z.object({
  /** Fires when the value moved by at least delta within windowSec. */
  delta: z.number().positive(),
  windowSec: z.number().int().positive().max(7 * 86_400).default(3600),
  /** up: a rise (salinity coming in); any: a rise or a fall (a swing that stresses shrimp). */
  direction: z.enum(['up', 'any']).default('up'),
  severity: SeveritySchema.default('warning'),
  notifyFarmers: z.boolean().default(true),
})
export type Rise = z.infer<typeof RiseSchema>

export const SensorRuleSchema = z.object({
  enabled: z.boolean().default(true),
  /** Ordered from least to most severe; the order is the escalation order. */
  levels: z.array(LevelSchema).max(8).default([]),
  rise: RiseSchema.nullable().default(null),
})
export type SensorRule = z.infer<typeof SensorRuleSchema>

function bandOf(clearValue: number | undefined, edge: number, towardsSafe: 1 | -1): number {
  if (clearValue !== undefined) return clearValue
  return edge + towardsSafe * Math.max(Math.abs(edge) * 0.1, 0.1)
}

/** The clear value of an above/below level, or of an outside level's low side. */
export function clearOf(level: Level): number {
  return bandOf(level.clear, level.threshold, level.direction === 'above' ? -1 : 1)
}

/** The clear value of an outside level's high side. */
export function clearHighOf(level: Level): number {
  return bandOf(level.clearHigh, level.high ?? level.threshold, -1)
}

/** Whether a value is at or past a level's limit(s). */
export function isPast(level: Level, value: number): boolean {
  if (level.direction === 'above') return value >= level.threshold
  if (level.direction === 'below') return value <= level.threshold
  return value <= level.threshold || value >= level.high!
}

/** Whether a value is still short of a firing level's clear value(s) (hysteresis). */
function notCleared(level: Level, value: number): boolean {
  if (level.direction === 'above') return value > clearOf(level)
  if (level.direction === 'below') return value < clearOf(level)
  return value < clearOf(level) || value > clearHighOf(level)
}

/**
 * Which side of its limits a value is on: 'above' or 'below'. For an
 * outside level this says whether the water is too salty or too fresh, which
 * decides the advice; for the others it is the level's own direction.
 */
export function sideOf(level: Level, value: number | null): 'above' | 'below' {
  if (level.direction !== 'outside') return level.direction
  if (value === null) return 'above'
  const high = level.high!
  // Nearer the high edge than the low one: the high side.
  return Math.abs(value - high) <= Math.abs(value - level.threshold) ? 'above' : 'below'
}

/** The limit a value crossed: the high edge of an outside band when it is on that side. */
export function limitFor(level: Level, value: number | null): number {
  return level.direction === 'outside' && sideOf(level, value) === 'above' ? level.high! : level.threshold
}

/** The clear value that applies on the value's side. */
export function clearFor(level: Level, value: number | null): number {
  return level.direction === 'outside' && sideOf(level, value) === 'above' ? clearHighOf(level) : clearOf(level)
}

/**
 * The level a value puts a sensor at, given the level currently firing.
 * A level is active when the value is at or past its limit, or when that
 * level (or a more severe one of the same direction) is firing and the value
 * has not yet crossed the level's clear value (hysteresis). The most severe
 * active level wins.
 */
export function targetLevel(levels: readonly Level[], value: number, firing: string | null): Level | null {
  const firingIdx = firing === null ? -1 : levels.findIndex((l) => l.name === firing)
  const firingLevel = firingIdx >= 0 ? levels[firingIdx]! : undefined
  for (let i = levels.length - 1; i >= 0; i--) {
    const l = levels[i]!
    if (isPast(l, value)) return l
    const held = firingLevel !== undefined && firingLevel.direction === l.direction && firingIdx >= i
    if (held && notCleared(l, value)) return l
  }
  return null
}

/**
 * The level a value stands at without history (no hysteresis): what the
 * board, the open data and the daily summaries show for a single value.
 */
export function levelOfValue(levels: readonly Level[], value: number): Level | null {
  return targetLevel(levels, value, null)
}

/** Escalation order: a level's index in the ladder, -1 for none. */
export function levelRank(levels: readonly Level[], name: string | null): number {
  return name === null ? -1 : levels.findIndex((l) => l.name === name)
}

/** The rise ladder is modelled as one level so it shares the state machine. */
export function riseLevel(rise: Rise): Level {
  return {
    name: rise.direction === 'any' ? 'change' : 'rise',
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
