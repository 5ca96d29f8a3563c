import type Database from 'better-sqlite3'
import type { AcceptedReading } from '../core/reading.ts'
import { clearFor, levelRank, limitFor, NO_DATA_LEVEL, riseLevel, sideOf, targetLevel, type Level, type SensorRule } from '../levels/rules.ts'
import type { RuleBook } from '../levels/book.ts'
import type { AlertStatus, StateRow } from './store.ts'
import type { Trend } from './templates.ts'

/**
 * The state machine (docs/ALERTS.md): one state per (station, sensor,
 * ladder), ladders 'level' (thresholds), 'rise' (rate of rise) and 'no_data'.
 * `evaluate` is synchronous and runs inside the caller's transaction, so a
 * state change, its event row and the messages it causes commit together.
 */
export interface Transition {
  station: string
  sensor: string
  ladder: 'level' | 'rise' | 'no_data'
  level: Level
  /** The level that was firing before (escalation/de-escalation), if any. */
  previous: Level | null
  from: AlertStatus
  to: AlertStatus
  value: number | null
  /** The limit crossed (firing) or the clear value passed (resolved), on the value's side. */
  threshold: number
  /** Which side of the level the value is on: an outside band's high or low side, else the level's direction. */
  side: 'above' | 'below'
  delta?: number
  /** Rise ladder: the rule's window, so a message names the real one ("in 24 h"). */
  windowSec?: number
  readingTs: number | null
  receivedAt: number | null
  at: number
  incident: string | null
  trend: Trend
}

interface Sample {
  ts: number
  value: number
}

export interface EngineOptions {
  staleAfterMs: number
}

/**
 * Bound on rise samples per series. A window is sampled at most every
 * windowSec / MAX_SAMPLES, so a 24-hour swing rule on a station sending every
 * 10 s still sees the whole day (15-min sampling gives 96 a day).
 */
const MAX_SAMPLES = 240

export class Engine {
  private readonly rules: RuleBook
  private readonly opts: EngineOptions
  private readonly states = new Map<string, StateRow>()
  /**
   * Per station and sensor: the state rows, the rise window and the resolved
   * rule, held by reference so the per-value path builds no map keys (this
   * runs for every value of every reading; see docs/PERFORMANCE.md).
   */
  private readonly series = new Map<string, Map<string, Series>>()
  private readonly noDataRows = new Map<string, StateRow>()
  private readonly persisted = new Map<StateRow, Persisted>()
  private readonly peaks = new Map<string, number>()
  /** Latest accepted value per station and sensor, for TT replies. */
  readonly latest = new Map<string, Map<string, Sample>>()
  /** Last time each station was heard (arrival time), for no-data. */
  readonly lastHeard = new Map<string, number>()
  readonly counters = { evaluated: 0, skippedLate: 0, skippedStale: 0, transitions: 0 }
  private readonly stmts

  constructor(db: Database.Database, rules: RuleBook, opts: EngineOptions) {
    this.rules = rules
    this.opts = opts
    for (const row of db.prepare('SELECT * FROM alert_states').all() as StateRow[]) {
      this.states.set(key(row.station, row.sensor, row.ladder), row)
      if (row.ladder === 'no_data') this.noDataRows.set(row.station, row)
      this.persisted.set(row, snapshotOf(row, row.updated_at + PERSIST_EVERY_MS * Math.random()))
      if (row.ladder === 'level' && row.value !== null && row.reading_ts !== null) this.remember(row.station, row.sensor, row.reading_ts, row.value)
    }
    this.stmts = {
      upsert: db.prepare(
        `INSERT INTO alert_states (station, sensor, ladder, status, level, pending_level, pending_count, pending_since, incident, value, reading_ts, updated_at)
         VALUES (@station, @sensor, @ladder, @status, @level, @pending_level, @pending_count, @pending_since, @incident, @value, @reading_ts, @updated_at)
         ON CONFLICT(station, sensor, ladder) DO UPDATE SET status=excluded.status, level=excluded.level, pending_level=excluded.pending_level,
           pending_count=excluded.pending_count, pending_since=excluded.pending_since, incident=excluded.incident, value=excluded.value,
           reading_ts=excluded.reading_ts, updated_at=excluded.updated_at`,
      ),
      event: db.prepare(
        `INSERT INTO alert_events (at, station, sensor, ladder, level, from_status, to_status, value, threshold, reading_ts, received_at, late, incident)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)`,
      ),
      openIncident: db.prepare(
        'INSERT OR IGNORE INTO alert_incidents (id, station, sensor, ladder, level, max_level, opened_at, peak_value) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      updateIncident: db.prepare(
        `UPDATE alert_incidents SET level = ?, max_level = CASE WHEN ? THEN ? ELSE max_level END,
           peak_value = CASE WHEN ? IS NULL THEN peak_value WHEN peak_value IS NULL OR ? > peak_value THEN ? ELSE peak_value END WHERE id = ?`,
      ),
      closeIncident: db.prepare('UPDATE alert_incidents SET closed_at = ? WHERE id = ?'),
    }
  }

  state(station: string, sensor: string, ladder: string): StateRow | undefined {
    return this.states.get(key(station, sensor, ladder))
  }

  allStates(): StateRow[] {
    return [...this.states.values()]
  }

  /** Evaluates one accepted reading; returns the state changes it caused. */
  /**
   * Warms the rise/trend window and the latest values from stored history
   * (InfluxDB) after a restart, so a rate-of-rise rule and a TT reply do not
   * need a fresh hour of readings. Older than what is known is ignored.
   */
  seed(samples: ReadonlyArray<{ station: string; sensor: string; ts: number; value: number }>): void {
    for (const x of [...samples].sort((a, b) => a.ts - b.ts)) {
      const last = this.latest.get(x.station)?.get(x.sensor)
      if (last && last.ts >= x.ts) continue
      this.remember(x.station, x.sensor, x.ts, x.value)
    }
  }

  evaluate(r: AcceptedReading, now: number): Transition[] {
    const out: Transition[] = []
    this.lastHeard.set(r.stationId, Math.max(this.lastHeard.get(r.stationId) ?? 0, r.receivedAt))
    const nd = this.noDataRows.get(r.stationId)
    if (nd && nd.status === 'firing') out.push(this.resolveNoData(nd, r.receivedAt))

    // Late or stale readings never drive alerts (they would tell a farmer about
    // water that has already moved on); they still count as the station being alive.
    if (r.late) {
      this.counters.skippedLate++
      return out
    }
    if (now - r.ts > this.opts.staleAfterMs) {
      this.counters.skippedStale++
      return out
    }
    for (const v of r.values) {
      const series = this.seriesOf(r.stationId, v.sensor)
      const last = series.latest
      if (last && r.ts <= last.ts) {
        // Out of order or a re-delivery: the state already reflects newer data.
        this.counters.skippedStale++
        continue
      }
      const rule = this.ruleOf(series)
      const value = v.value
      const windowSec = rule?.rise?.windowSec ?? 3600
      const rise = this.trend(series, r.ts, value, windowSec, rule?.rise?.direction ?? 'up')
      const trend = series.trend
      this.remember(r.stationId, v.sensor, r.ts, value, (windowSec * 1000) / MAX_SAMPLES)
      this.counters.evaluated++
      if (!rule || !rule.enabled) {
        this.touch(series, value, r.ts, now)
        continue
      }
      const ev: ValueEvaluation = { r, sensor: v.sensor, value, trend, now, out, windowSec }
      const level = (series.level ??= this.fresh(r.stationId, v.sensor, 'level', this.state(r.stationId, v.sensor, 'level')))
      const target = targetLevel(rule.levels, value, level.status === 'firing' ? level.level : null)
      this.step(ev, level, 'level', rule.levels, target, undefined)
      const riseLevels = series.riseLevels
      if (riseLevels) {
        const lvl = riseLevels[0]!
        const row = (series.rise ??= this.fresh(r.stationId, v.sensor, 'rise', this.state(r.stationId, v.sensor, 'rise')))
        const firing = row.status === 'firing' ? row.level : null
        const t = rise >= lvl.threshold || (firing === lvl.name && rise > (lvl.clear ?? 0)) ? lvl : null
        this.step(ev, row, 'rise', riseLevels, t, rise)
      }
    }
    this.counters.transitions += out.length
    return out
  }

  /** No-data: called by the alerter's timer with the stations that went silent. */
  noData(station: string, silentSince: number, now: number): Transition[] {
    const k = key(station, 'no_data', 'no_data')
    const s = this.states.get(k)
    if (s?.status === 'firing') return []
    const incident = `${station}/no_data/${now}`
    const row = this.fresh(station, 'no_data', 'no_data', s)
    const from = row.status
    Object.assign(row, { status: 'firing', level: 'no_data', incident, value: null, reading_ts: silentSince, updated_at: now })
    this.persist(row)
    this.stmts.openIncident.run(incident, station, 'no_data', 'no_data', 'no_data', 'no_data', now, null)
    const t: Transition = {
      station, sensor: 'no_data', ladder: 'no_data', level: NO_DATA_LEVEL, previous: null, from, to: 'firing',
      value: null, threshold: 0, side: 'above', readingTs: silentSince, receivedAt: null, at: now, incident, trend: null,
    }
    this.record(t)
    return [t]
  }

  private resolveNoData(row: StateRow, at: number): Transition {
    const incident = row.incident
    Object.assign(row, { status: 'resolved', level: null, incident: null, updated_at: at })
    this.persist(row)
    if (incident) this.stmts.closeIncident.run(at, incident)
    const t: Transition = {
      station: row.station, sensor: 'no_data', ladder: 'no_data', level: NO_DATA_LEVEL, previous: NO_DATA_LEVEL, from: 'firing', to: 'resolved',
      value: null, threshold: 0, side: 'above', readingTs: at, receivedAt: at, at, incident, trend: null,
    }
    this.record(t)
    return t
  }

  /**
   * One ladder's state machine for one value. No closures or spread objects:
   * this runs for every value of every reading, and a Transition is built
   * only when something is emitted.
   */
  private step(ev: ValueEvaluation, row: StateRow, ladder: 'level' | 'rise', levels: readonly Level[], t: Level | null, delta: number | undefined): void {
    const { r, sensor, value, now } = ev
    const firingName = row.status === 'firing' ? row.level : null
    const firing = firingName === null ? null : findLevel(levels, firingName)
    row.value = value
    row.reading_ts = r.ts
    row.updated_at = now

    const rankT = t === null ? -1 : levels.indexOf(t)
    const rankF = firing === null ? -1 : levels.indexOf(firing)
    if (firingName !== null && !firing) {
      // The rule changed under a firing incident and its level is gone: close it quietly.
      if (row.incident) this.stmts.closeIncident.run(now, row.incident)
      row.status = 'resolved'
      row.level = null
      row.incident = null
    }
    if (t && rankT > rankF) {
      // New or escalating level: pending until N readings and the duration are met.
      if (row.pending_level === null) {
        row.pending_level = t.name
        row.pending_count = 1
        row.pending_since = r.ts
      } else {
        row.pending_level = levelRank(levels, row.pending_level) > rankT ? row.pending_level : t.name
        row.pending_count++
      }
      const since = row.pending_since ?? r.ts
      const fire = row.pending_count >= t.pendingReadings && r.ts - since >= t.pendingSec * 1000
      if (fire) {
        const from = row.status
        if (!firing) {
          row.incident = `${r.stationId}/${sensor}/${ladder}/${r.ts}`
          this.stmts.openIncident.run(row.incident, r.stationId, sensor, ladder, t.name, t.name, now, value)
        } else {
          this.stmts.updateIncident.run(t.name, 1, t.name, value, value, value, row.incident)
        }
        row.status = 'firing'
        row.level = t.name
        row.pending_level = null
        row.pending_count = 0
        row.pending_since = null
        this.emit(ev, row, ladder, delta, 'firing', t, firing, from)
      } else if (!firing && row.status !== 'pending') {
        const from = row.status
        row.status = 'pending'
        this.emit(ev, row, ladder, delta, 'pending', t, null, from)
      }
    } else if (firing && rankT < rankF) {
      row.pending_level = null
      row.pending_count = 0
      row.pending_since = null
      if (t) {
        // De-escalation within the incident (e.g. danger back to warning).
        row.level = t.name
        this.stmts.updateIncident.run(t.name, 0, t.name, value, value, value, row.incident)
        this.emit(ev, row, ladder, delta, 'firing', t, firing, 'firing')
      } else {
        row.status = 'resolved'
        row.level = null
        if (row.incident) this.stmts.closeIncident.run(now, row.incident)
        this.emit(ev, row, ladder, delta, 'resolved', firing, firing, 'firing')
        row.incident = null
      }
    } else {
      // Same level as firing (or none and none): any pending escalation is cancelled.
      if (row.pending_level !== null) {
        const pendingLevel = findLevel(levels, row.pending_level)
        row.pending_level = null
        row.pending_count = 0
        row.pending_since = null
        if (!firing && row.status === 'pending' && pendingLevel) {
          row.status = 'ok'
          this.emit(ev, row, ladder, delta, 'ok', pendingLevel, null, 'pending')
        }
      }
      if (firing && row.incident) this.raisePeak(row.incident, firing.name, value)
    }
    this.persist(row)
  }

  private emit(ev: ValueEvaluation, row: StateRow, ladder: 'level' | 'rise', delta: number | undefined, to: AlertStatus, level: Level, previous: Level | null, from: AlertStatus): void {
    const tr: Transition = {
      station: ev.r.stationId,
      sensor: ev.sensor,
      ladder,
      level,
      previous,
      from,
      to,
      value: ev.value,
      threshold: to === 'resolved' ? clearFor(level, ev.value) : limitFor(level, ev.value),
      side: sideOf(level, ev.value),
      readingTs: ev.r.ts,
      receivedAt: ev.r.receivedAt,
      at: ev.now,
      incident: row.incident,
      trend: ev.trend,
    }
    if (delta !== undefined) tr.delta = delta
    if (ladder === 'rise') tr.windowSec = ev.windowSec
    this.record(tr)
    ev.out.push(tr)
  }

  private touch(series: Series, value: number, ts: number, now: number): void {
    const row = (series.level ??= this.fresh(series.station, series.sensor, 'level', this.state(series.station, series.sensor, 'level')))
    row.value = value
    row.reading_ts = ts
    row.updated_at = now
    this.persist(row)
  }

  private fresh(station: string, sensor: string, ladder: string, existing: StateRow | undefined): StateRow {
    if (existing) return existing
    const row: StateRow = {
      station, sensor, ladder, status: 'ok', level: null, pending_level: null, pending_count: 0, pending_since: null,
      incident: null, value: null, reading_ts: null, updated_at: 0,
    }
    this.states.set(key(station, sensor, ladder), row)
    if (ladder === 'no_data') this.noDataRows.set(station, row)
    return row
  }

  /**
   * Writes a state row when a decision field changed (status, level, pending,
   * incident) — that is what a restart must not forget. The informational
   * value/time is refreshed about once a minute, at a random offset per row:
   * a fleet that came up together would otherwise rewrite every row in the
   * same drain each minute, a stall of tens of ms. A quiet row never written
   * needs no write yet: a missing row reads back as 'ok'. Writing every
   * reading cost a third of the ingest's CPU at 10k readings/s.
   */
  private persist(row: StateRow): void {
    let last = this.persisted.get(row)
    if (!last && row.status === 'ok' && row.pending_level === null && row.incident === null) {
      last = snapshotOf(row, row.updated_at + Math.random() * PERSIST_EVERY_MS)
      this.persisted.set(row, last)
    }
    if (
      last &&
      last.status === row.status &&
      last.level === row.level &&
      last.pendingLevel === row.pending_level &&
      last.pendingCount === row.pending_count &&
      last.pendingSince === row.pending_since &&
      last.incident === row.incident &&
      row.updated_at < last.dueAt
    ) {
      return
    }
    this.stmts.upsert.run(row)
    this.persisted.set(row, snapshotOf(row, row.updated_at + PERSIST_EVERY_MS * (0.5 + Math.random())))
  }

  /** Raises an incident's peak only when the value beats the one already stored. */
  private raisePeak(incident: string, level: string, value: number | null): void {
    const peak = this.peaks.get(incident)
    if (value === null || (peak !== undefined && value <= peak)) return
    this.stmts.updateIncident.run(level, 0, level, value, value, value, incident)
    this.peaks.set(incident, value)
  }

  private record(t: Transition): void {
    this.stmts.event.run(t.at, t.station, t.sensor, t.ladder, t.level.name, t.from, t.to, t.value, t.threshold, t.readingTs, t.receivedAt, t.incident)
  }

  private remember(station: string, sensor: string, ts: number, value: number, minSpacingMs = 0): void {
    const series = this.seriesOf(station, sensor)
    if (series.latest) {
      series.latest.ts = ts
      series.latest.value = value
    } else {
      series.latest = { ts, value }
      let m = this.latest.get(station)
      if (!m) this.latest.set(station, (m = new Map()))
      m.set(sensor, series.latest)
    }
    if (series.window.size === 0 || ts - series.window.newestTs() >= minSpacingMs) series.window.push(ts, value)
  }

  private seriesOf(station: string, sensor: string): Series {
    let bySensor = this.series.get(station)
    if (!bySensor) this.series.set(station, (bySensor = new Map()))
    let s = bySensor.get(sensor)
    if (!s) {
      s = { station, sensor, latest: undefined, window: new RiseWindow(MAX_SAMPLES), level: undefined, rise: undefined, rule: null, riseLevels: null, ruleGeneration: -1, trend: null }
      bySensor.set(sensor, s)
    }
    return s
  }

  /** The rule for a series, resolved again only when the rule book changed. */
  private ruleOf(series: Series) {
    const generation = this.rules.generation
    if (series.ruleGeneration !== generation) {
      series.rule = this.rules.resolve(series.station, series.sensor)
      series.riseLevels = series.rule?.rise ? [riseLevel(series.rule.rise)] : null
      series.ruleGeneration = generation
    }
    return series.rule
  }

  /**
   * Trend against the oldest sample within the window (left in series.trend);
   * returns the rise (value - minimum within the window) or, for a swing
   * rule, the larger of the rise and the fall (maximum - value).
   */
  private trend(series: Series, ts: number, value: number, windowSec: number, direction: 'up' | 'any'): number {
    const w = series.window
    w.expireBefore(ts - windowSec * 1000)
    if (w.size === 0) {
      series.trend = null
      return 0
    }
    const oldest = w.oldestValue()
    const diff = value - oldest
    const eps = Math.max(Math.abs(oldest) * 0.05, 0.05)
    series.trend = diff > eps ? 'up' : diff < -eps ? 'down' : 'flat'
    const rise = value - w.min()
    return direction === 'any' ? Math.max(rise, w.max() - value) : rise
  }
}

function findLevel(levels: readonly Level[], name: string): Level | null {
  for (const l of levels) if (l.name === name) return l
  return null
}

/** Mean interval between informational rewrites of an unchanged state row. */
const PERSIST_EVERY_MS = 60_000

/** One value under evaluation: what every ladder's step and emitted transition share. */
interface ValueEvaluation {
  r: AcceptedReading
  sensor: string
  value: number
  trend: Trend
  now: number
  out: Transition[]
  windowSec: number
}

interface Persisted {
  status: AlertStatus
  level: string | null
  pendingLevel: string | null
  pendingCount: number
  pendingSince: number | null
  incident: string | null
  /** When the informational value/time is rewritten even if nothing changed. */
  dueAt: number
}

function snapshotOf(row: StateRow, dueAt: number): Persisted {
  return {
    status: row.status,
    level: row.level,
    pendingLevel: row.pending_level,
    pendingCount: row.pending_count,
    pendingSince: row.pending_since,
    incident: row.incident,
    dueAt,
  }
}

interface Series {
  station: string
  sensor: string
  latest: Sample | undefined
  window: RiseWindow
  level: StateRow | undefined
  rise: StateRow | undefined
  rule: SensorRule | null
  /** The rule's rise ladder as one level, built once per rule change. */
  riseLevels: Level[] | null
  ruleGeneration: number
  /** Set by trend(): the trend of the value just evaluated. */
  trend: Trend
}

/**
 * The last `capacity` samples of a series in a ring, with a monotonic deque
 * of candidate minima, so the oldest value and the window minimum cost O(1)
 * amortised per reading instead of a scan (a station sending every second
 * keeps the ring full). Timestamps arrive strictly increasing per series.
 */
export class RiseWindow {
  private readonly ts: Float64Array
  private readonly values: Float64Array
  /** Sequence numbers of candidate minima, oldest first, values increasing. */
  private readonly minSeq: Float64Array
  private minHead = 0
  private minLen = 0
  /** Candidate maxima, oldest first, values decreasing. */
  private readonly maxSeq: Float64Array
  private maxHead = 0
  private maxLen = 0
  /** Sequence number of the next sample; the oldest held is next - size. */
  private next = 0
  size = 0

  constructor(private readonly capacity: number) {
    this.ts = new Float64Array(capacity)
    this.values = new Float64Array(capacity)
    this.minSeq = new Float64Array(capacity)
    this.maxSeq = new Float64Array(capacity)
  }

  push(ts: number, value: number): void {
    if (this.size === this.capacity) this.dropOldest()
    const slot = this.next % this.capacity
    this.ts[slot] = ts
    this.values[slot] = value
    while (this.minLen > 0) {
      const back = this.minSeq[(this.minHead + this.minLen - 1) % this.capacity]!
      if (this.values[back % this.capacity]! < value) break
      this.minLen--
    }
    this.minSeq[(this.minHead + this.minLen) % this.capacity] = this.next
    this.minLen++
    while (this.maxLen > 0) {
      const back = this.maxSeq[(this.maxHead + this.maxLen - 1) % this.capacity]!
      if (this.values[back % this.capacity]! > value) break
      this.maxLen--
    }
    this.maxSeq[(this.maxHead + this.maxLen) % this.capacity] = this.next
    this.maxLen++
    this.next++
    this.size++
  }

  expireBefore(ts: number): void {
    while (this.size > 0 && this.ts[(this.next - this.size) % this.capacity]! < ts) this.dropOldest()
  }

  oldestValue(): number {
    return this.values[(this.next - this.size) % this.capacity]!
  }

  min(): number {
    return this.values[this.minSeq[this.minHead]! % this.capacity]!
  }

  max(): number {
    return this.values[this.maxSeq[this.maxHead]! % this.capacity]!
  }

  newestTs(): number {
    return this.ts[(this.next - 1) % this.capacity]!
  }

  private dropOldest(): void {
    const oldest = this.next - this.size
    if (this.minLen > 0 && this.minSeq[this.minHead] === oldest) {
      this.minHead = (this.minHead + 1) % this.capacity
      this.minLen--
    }
    if (this.maxLen > 0 && this.maxSeq[this.maxHead] === oldest) {
      this.maxHead = (this.maxHead + 1) % this.capacity
      this.maxLen--
    }
    this.size--
  }
}

function key(station: string, sensor: string, ladder: string): string {
  return `${station}|${sensor}|${ladder}`
}
