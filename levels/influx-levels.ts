import { SENSOR_KINDS } from '../core/sensors.ts'
import type { Config } from '../core/config.ts'
import type { Logger } from '../core/log.ts'
import { RAW_RP } from '../influx/retention.ts'
import { createWriteTransport } from '../influx/write-transport.ts'
import { managesRetention } from '../influx/target-transport.ts'
import type { SensorRule } from './rules.ts'
import { escapeTag as tag } from '../influx/line-protocol.ts'

/**
 * Writes the levels in force into InfluxDB as the measurement `levels`, so
 * the Grafana dashboards draw each station's own threshold lines (station
 * override, zone, built-in: levels/book.ts) from data. Grafana's static
 * thresholds are one set of numbers per panel and cannot follow a station
 * variable; a series can. docs/DATA.md and docs/GRAFANA.md describe it.
 *
 *   levels,station=CM-003,sensor=salinity,level=danger,edge=limit,severity=danger value=4 <ms>
 *
 * edge is `limit` for an above/below level, `low` / `high` for the two edges
 * of an outside band. Every minute the set is recomputed and written when it
 * changed (a rule, a zone, the season, a new station), and in full every
 * REFRESH_MS so any dashboard range of an hour or more holds each line; a
 * level that is removed simply gets no more points, and the panels (which do
 * not fill gaps longer than that) end its line there.
 */
export const LEVELS_MEASUREMENT = 'levels'
/** The full set is rewritten this often: the panels bridge gaps up to LEVELS_SPAN_MS. */
export const LEVELS_REFRESH_MS = 3_600_000
/** Slightly more than the refresh, so a line is drawn across the gap between two writes and no further. */
export const LEVELS_SPAN_MS = LEVELS_REFRESH_MS + 10 * 60_000
const CHECK_MS = 60_000

export interface LevelsBook {
  get(stationId: string, sensor: string): SensorRule | null
  /** Picks up rules committed by other connections (RuleBook.sync). */
  sync?(): void
}

export interface LevelsWriterDeps {
  stations: () => ReadonlyArray<{ id: string }>
  rules: LevelsBook
  /** Line protocol, ms precision (influxLevelsSink). */
  write: (lines: string[]) => Promise<void>
  log: Logger
  clock?: () => number
  checkMs?: number
}


/** The `levels` lines of one station's rules (without timestamp); pure, also used to build test fixtures. */
export function levelsLinesOf(stationId: string, rules: Partial<Record<string, SensorRule | null>>): string[] {
  const out: string[] = []
  for (const sensor of SENSOR_KINDS) {
    const rule = rules[sensor]
    if (!rule || rule.enabled === false) continue
    for (const l of rule.levels) {
      const edges: Array<[string, number]> = l.direction === 'outside' ? [['low', l.threshold], ['high', l.high!]] : [['limit', l.threshold]]
      for (const [edge, value] of edges) {
        out.push(`${LEVELS_MEASUREMENT},station=${tag(stationId)},sensor=${sensor},level=${tag(l.name)},edge=${edge},severity=${l.severity} value=${value}`)
      }
    }
  }
  return out
}

/**
 * Writes straight to every InfluxDB target, not through the ingest's spool:
 * the set is recomputed and rewritten anyway (a failed write is retried on
 * the next tick), so it needs no durable queue, and it stays out of the
 * spool's lag and byte budget, which are about readings. Same retention
 * policy as the readings (RAW_RP when retention is managed).
 */
export function influxLevelsSink(config: Readonly<Config>): (lines: string[]) => Promise<void> {
  const transports = config.influx.targets.map((t) => createWriteTransport(t, managesRetention(config, t) ? { defaultRetentionPolicy: RAW_RP } : {}))
  return async (lines) => {
    await Promise.all(transports.map((t) => t.write(lines)))
  }
}

export interface LevelsWriter {
  /** Computes the set and writes it when it changed or the refresh is due (force: always). Returns the lines written. */
  tick(force?: boolean): Promise<number>
  stop(): Promise<void>
}

export function startLevelsWriter(deps: LevelsWriterDeps): LevelsWriter {
  const clock = deps.clock ?? Date.now
  const log = deps.log.child({ component: 'levels-writer' })
  let last = ''
  let lastFullAt = -Infinity
  let running: Promise<number> | null = null

  const compute = (): string[] => {
    deps.rules.sync?.()
    const lines: string[] = []
    for (const s of deps.stations()) {
      const rules: Record<string, SensorRule | null> = {}
      for (const k of SENSOR_KINDS) rules[k] = deps.rules.get(s.id, k)
      lines.push(...levelsLinesOf(s.id, rules))
    }
    return lines
  }

  const tick = async (force = false): Promise<number> => {
    const lines = compute()
    const signature = lines.join('\n')
    const now = clock()
    if (!force && signature === last && now - lastFullAt < LEVELS_REFRESH_MS) return 0
    if (lines.length > 0) await deps.write(lines.map((l) => `${l} ${now}`))
    last = signature
    lastFullAt = now
    return lines.length
  }

  // One tick at a time; a failed write is logged and retried on the next tick (the set is still "changed").
  const run = (force = false): Promise<number> => {
    running ??= tick(force)
      .catch((err: unknown) => {
        last = ''
        log.warn({ err: (err as Error).message }, 'cannot write the levels in force')
        return 0
      })
      .finally(() => {
        running = null
      })
    return running
  }

  void run(true)
  const timer = setInterval(() => void run(), deps.checkMs ?? CHECK_MS)
  timer.unref()
  return {
    tick: (force) => (running ? running.then(() => run(force)) : run(force)),
    async stop() {
      clearInterval(timer)
      await running
    },
  }
}
