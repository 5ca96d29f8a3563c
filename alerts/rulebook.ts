import type Database from 'better-sqlite3'
import { TidewatchError } from '../core/errors.ts'
import { isSensorKind, type SensorKind } from '../core/sensors.ts'
import { DEFAULT_RULES, SensorRuleSchema, type SensorRule } from './rules.ts'

/**
 * Rules as stored: built-in defaults, overridden per sensor kind by a stored
 * default (scope 'default'), overridden per station (scope = station id).
 * An override replaces the whole rule of that sensor, so what applies is
 * always one readable object. Held in memory; writes go through here.
 */
export class RuleBook {
  private readonly db: Database.Database
  private readonly rules = new Map<string, SensorRule>()
  private version = -1
  /** Bumped whenever the rules in memory change, so callers can cache what they resolved. */
  generation = 0
  // Prepared once: db.pragma() prepares a statement on every call.
  private readonly dataVersion

  constructor(db: Database.Database) {
    this.db = db
    this.dataVersion = db.prepare('PRAGMA data_version').pluck()
    this.refresh()
  }

  /**
   * Reloads when another connection (the `tidewatch alerts rules` CLI while
   * `tidewatch up` runs) committed: PRAGMA data_version changes exactly then,
   * so a BĐ1 level set from the CLI applies to the next reading.
   */
  private refresh(): void {
    const version = this.dataVersion.get() as number
    if (version === this.version) return
    this.version = version
    this.generation++
    this.rules.clear()
    for (const r of this.db.prepare('SELECT scope, sensor, spec FROM alert_rules').all() as Array<{ scope: string; sensor: string; spec: string }>) {
      const parsed = SensorRuleSchema.safeParse(JSON.parse(r.spec))
      if (parsed.success) this.rules.set(`${r.scope}|${r.sensor}`, parsed.data)
    }
  }

  /** The rule that applies to a station's sensor, or null when none. */
  get(stationId: string, sensor: string): SensorRule | null {
    this.refresh()
    return this.resolve(stationId, sensor)
  }

  /**
   * Picks up rules committed by another connection. The alerter calls it once
   * per evaluation batch instead of once per value: it is a SQLite call.
   */
  sync(): void {
    this.refresh()
  }

  /** Like get(), without checking SQLite for other writers: call sync() first. */
  resolve(stationId: string, sensor: string): SensorRule | null {
    return this.rules.get(`${stationId}|${sensor}`) ?? this.rules.get(`default|${sensor}`) ?? (isSensorKind(sensor) ? DEFAULT_RULES[sensor] ?? null : null)
  }

  defaults(): Record<string, SensorRule> {
    this.refresh()
    const out: Record<string, SensorRule> = {}
    for (const [k, v] of Object.entries(DEFAULT_RULES)) out[k] = v!
    for (const [key, v] of this.rules) if (key.startsWith('default|')) out[key.slice(8)] = v
    return out
  }

  overrides(stationId: string): Record<string, SensorRule> {
    this.refresh()
    const out: Record<string, SensorRule> = {}
    for (const [key, v] of this.rules) if (key.startsWith(`${stationId}|`)) out[key.slice(stationId.length + 1)] = v
    return out
  }

  /** Stores a rule for scope 'default' or a station id; input is validated. */
  set(scope: string, sensor: string, input: unknown, now: number): SensorRule {
    if (!isSensorKind(sensor)) throw new TidewatchError('ALERT_RULE_INVALID', { sensor }, `unknown sensor kind "${sensor}"`)
    const parsed = SensorRuleSchema.safeParse(input)
    if (!parsed.success) {
      throw new TidewatchError('ALERT_RULE_INVALID', { issues: parsed.error.issues.map((i) => ({ key: i.path.join('.'), reason: i.message })) })
    }
    const names = new Set(parsed.data.levels.map((l) => l.name))
    if (names.size !== parsed.data.levels.length) throw new TidewatchError('ALERT_RULE_INVALID', { sensor }, 'level names must be unique')
    this.db
      .prepare('INSERT INTO alert_rules (scope, sensor, spec, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT(scope, sensor) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at')
      .run(scope, sensor, JSON.stringify(parsed.data), now)
    this.rules.set(`${scope}|${sensor}`, parsed.data)
    this.generation++
    return parsed.data
  }

  remove(scope: string, sensor: SensorKind | string): boolean {
    const info = this.db.prepare('DELETE FROM alert_rules WHERE scope = ? AND sensor = ?').run(scope, sensor)
    this.rules.delete(`${scope}|${sensor}`)
    this.generation++
    return info.changes > 0
  }
}
