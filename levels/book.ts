import type Database from 'better-sqlite3'
import { TidewatchError } from '../core/errors.ts'
import { LOCAL_OFFSET_MS } from '../core/local-time.ts'
import { isSensorKind, type SensorKind } from '../core/sensors.ts'
import { SensorRuleSchema, type SensorRule } from './rules.ts'
import { DEFAULT_RULES, DEFAULT_ZONE, isZone, zoneRule, ZONES, type Zone } from './zones.ts'

/**
 * The one place that says which rule is in force for a station's sensor.
 * The alerter, the board, the open data, the daily summaries and the
 * dashboards' threshold lines all ask here, so none keeps a second copy.
 *
 * Resolution (docs/ALERTS.md):
 *   1. the station's override (scope = station id);
 *   2. the zone rule: a stored rule for the station's zone (scope 'zone:<zone>'),
 *      else the zone's built-in rule for the season (levels/zones.ts);
 *   3. the built-in: a stored rule with scope 'default', else DEFAULT_RULES.
 * An override replaces the whole rule of that sensor, so what applies is
 * always one readable object.
 */
export interface ZoneDirectory {
  /** The station's zone; null for an unknown station. */
  zoneOf(stationId: string): Zone | null
  /** Changes whenever any station's zone may have changed (monotonic). */
  zoneGeneration(): number
  /** Notices zone changes committed by another connection; called once per batch. */
  syncZones(): void
}

export type RuleSource = 'station' | 'zone' | 'zone_default' | 'default' | 'built_in'

export interface ResolvedRule {
  rule: SensorRule
  source: RuleSource
  zone: Zone
}

/** Local month 1–12 in Asia/Ho_Chi_Minh: seasons follow the farmer's calendar. */
export function localMonth(ts: number): number {
  return new Date(ts + LOCAL_OFFSET_MS).getUTCMonth() + 1
}

export function zoneScope(zone: Zone): string {
  return `zone:${zone}`
}

/** A rule scope is 'default', 'zone:<zone>' or a station id. */
export function parseScope(scope: string): { kind: 'default' } | { kind: 'zone'; zone: Zone } | { kind: 'station'; station: string } {
  if (scope === 'default') return { kind: 'default' }
  if (scope.startsWith('zone:')) {
    const zone = scope.slice(5)
    if (!isZone(zone)) throw new TidewatchError('ALERT_RULE_INVALID', { scope }, `unknown zone "${zone}"; zones are ${ZONES.join(', ')}`)
    return { kind: 'zone', zone }
  }
  return { kind: 'station', station: scope }
}

/** A rule as stored for a scope and sensor, validated (ALERT_RULE_INVALID); every rule store calls it. */
export function checkRule(scope: string, sensor: string, input: unknown): SensorRule {
  parseScope(scope)
  if (!isSensorKind(sensor)) throw new TidewatchError('ALERT_RULE_INVALID', { sensor }, `unknown sensor kind "${sensor}"`)
  const parsed = SensorRuleSchema.safeParse(input)
  if (!parsed.success) {
    throw new TidewatchError('ALERT_RULE_INVALID', { issues: parsed.error.issues.map((i) => ({ key: i.path.join('.'), reason: i.message })) })
  }
  const names = new Set(parsed.data.levels.map((l) => l.name))
  if (names.size !== parsed.data.levels.length) throw new TidewatchError('ALERT_RULE_INVALID', { sensor }, 'level names must be unique')
  return parsed.data
}

export class RuleBook {
  private readonly db: Database.Database
  private readonly zones: ZoneDirectory
  private readonly clock: () => number
  private readonly rules = new Map<string, SensorRule>()
  private version = -1
  private ownGeneration = 0
  private month: number
  // Prepared once: db.pragma() prepares a statement on every call.
  private readonly dataVersion

  constructor(db: Database.Database, zones: ZoneDirectory, clock: () => number = Date.now) {
    this.db = db
    this.zones = zones
    this.clock = clock
    this.month = localMonth(clock())
    this.dataVersion = db.prepare('PRAGMA data_version').pluck()
    // Same definition as the alerter's migration (alerts/store.ts), so either may come first.
    db.exec(`CREATE TABLE IF NOT EXISTS alert_rules (
      scope TEXT NOT NULL, sensor TEXT NOT NULL, spec TEXT NOT NULL, updated_at INTEGER NOT NULL,
      PRIMARY KEY (scope, sensor))`)
    this.refresh()
  }

  /**
   * Bumped whenever what resolve() returns may have changed: a stored rule,
   * a station's zone, or the season (local month). Callers cache what they
   * resolved against it. A sum of monotonic counters is monotonic and changes
   * whenever any of them does.
   */
  get generation(): number {
    return this.ownGeneration + this.zones.zoneGeneration() + this.month
  }

  /**
   * Reloads when another connection (the `tidewatch alerts rules` CLI while
   * `tidewatch up` runs) committed: PRAGMA data_version changes exactly then,
   * so a BĐ1 level set from the CLI applies to the next reading.
   */
  private refresh(): void {
    this.month = localMonth(this.clock())
    this.zones.syncZones()
    const version = this.dataVersion.get() as number
    if (version === this.version) return
    this.version = version
    this.ownGeneration++
    this.rules.clear()
    for (const r of this.db.prepare('SELECT scope, sensor, spec FROM alert_rules').all() as Array<{ scope: string; sensor: string; spec: string }>) {
      const parsed = SensorRuleSchema.safeParse(JSON.parse(r.spec))
      if (parsed.success) this.rules.set(`${r.scope}|${r.sensor}`, parsed.data)
    }
  }

  /** The rule in force for a station's sensor, or null when none. */
  get(stationId: string, sensor: string): SensorRule | null {
    this.refresh()
    return this.resolve(stationId, sensor)
  }

  /** Like get(), with where the rule came from and the station's zone. */
  explain(stationId: string, sensor: string): ResolvedRule | null {
    this.refresh()
    return this.resolveWithSource(stationId, sensor)
  }

  /**
   * Picks up rules committed by another connection and the season. The
   * alerter calls it once per evaluation batch instead of once per value: it
   * is a SQLite call.
   */
  sync(): void {
    this.refresh()
  }

  /** Like get(), without checking SQLite for other writers: call sync() first. */
  resolve(stationId: string, sensor: string): SensorRule | null {
    return this.resolveWithSource(stationId, sensor)?.rule ?? null
  }

  private resolveWithSource(stationId: string, sensor: string): ResolvedRule | null {
    const zone = this.zones.zoneOf(stationId) ?? DEFAULT_ZONE
    const own = this.rules.get(`${stationId}|${sensor}`)
    if (own) return { rule: own, source: 'station', zone }
    const zoneStored = this.rules.get(`${zoneScope(zone)}|${sensor}`)
    if (zoneStored) return { rule: zoneStored, source: 'zone', zone }
    const zoneBuiltIn = zoneRule(zone, sensor, this.month)
    if (zoneBuiltIn) return { rule: zoneBuiltIn, source: 'zone_default', zone }
    const stored = this.rules.get(`default|${sensor}`)
    if (stored) return { rule: stored, source: 'default', zone }
    const builtIn = isSensorKind(sensor) ? DEFAULT_RULES[sensor] : undefined
    return builtIn ? { rule: builtIn, source: 'built_in', zone } : null
  }

  /** Stored rules of scope 'default' over the generic built-ins. */
  defaults(): Record<string, SensorRule> {
    this.refresh()
    const out: Record<string, SensorRule> = {}
    for (const [k, v] of Object.entries(DEFAULT_RULES)) out[k] = v!
    for (const [key, v] of this.rules) if (key.startsWith('default|')) out[key.slice(8)] = v
    return out
  }

  /** The rules of a zone in force now: stored zone rules over the zone's built-ins for the season. */
  zoneRules(zone: Zone): Record<string, SensorRule> {
    this.refresh()
    const out: Record<string, SensorRule> = {}
    for (const sensor of ['salinity', 'water_level', 'ph', 'no2', 'temperature', 'conductivity']) {
      const r = this.rules.get(`${zoneScope(zone)}|${sensor}`) ?? zoneRule(zone, sensor, this.month)
      if (r) out[sensor] = r
    }
    return out
  }

  /** Stored rules of a scope (a station id, 'zone:<zone>' or 'default'). */
  overrides(scope: string): Record<string, SensorRule> {
    this.refresh()
    const out: Record<string, SensorRule> = {}
    for (const [key, v] of this.rules) if (key.startsWith(`${scope}|`)) out[key.slice(scope.length + 1)] = v
    return out
  }

  /** Stores a rule for scope 'default', 'zone:<zone>' or a station id; input is validated. */
  set(scope: string, sensor: string, input: unknown, now: number): SensorRule {
    const rule = checkRule(scope, sensor, input)
    this.db
      .prepare('INSERT INTO alert_rules (scope, sensor, spec, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT(scope, sensor) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at')
      .run(scope, sensor, JSON.stringify(rule), now)
    this.rules.set(`${scope}|${sensor}`, rule)
    this.ownGeneration++
    return rule
  }

  remove(scope: string, sensor: SensorKind | string): boolean {
    const info = this.db.prepare('DELETE FROM alert_rules WHERE scope = ? AND sensor = ?').run(scope, sensor)
    this.rules.delete(`${scope}|${sensor}`)
    this.ownGeneration++
    return info.changes > 0
  }
}

/** Every station in one zone: for rule evaluation without a registry (benchmarks, unit tests). */
export function singleZone(zone: Zone = DEFAULT_ZONE): ZoneDirectory {
  return { zoneOf: () => zone, zoneGeneration: () => 0, syncZones: () => {} }
}
