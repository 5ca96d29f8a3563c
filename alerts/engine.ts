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

/** The trend's window for a series without a rise rule: the same hour as RiseSchema's default windowSec (levels/rules.ts). */
const DEFAULT_WINDOW_SEC = 3600

export class Engine {
  private readonly rules: RuleBook
  private readonly opts: EngineOptions
  /** Every state row by (station, sensor, ladder), with what was last written of it. */
  private readonly states = new Map<string, TrackedRow>()
  /**
   * Per station: its series (state rows, rise window and resolved rule per
   * sensor) and its no-data row, held by reference so the per-value path
   * builds no map keys and looks nothing up by (station, sensor) (this runs
   * for every value of every reading; see docs/PERFORMANCE.md).
   */
  private readonly stations = new Map<string, StationSeries>()
  /** Latest accepted value per station and sensor, for TT replies. */
  readonly latest = new Map<string, Map<string, Sample>>()
  /**
   * Last time each station was heard (arrival time), for no-data. Held on the
   * station's entry, so a reading costs no map lookup and no boxed number for it.
   */
  readonly lastHeard: HeardTimes = {
    get: (station) => this.stations.get(station)?.heard,
    set: (station, at) => {
      this.stationOf(station).heard = at
    },
  }
  readonly counters = { evaluated: 0, skippedLate: 0, skippedStale: 0, transitions: 0 }
  /**
   * The value under evaluation, shared by step() and emit(). One object
   * reused for every value instead of one allocated per value: evaluate()
   * is synchronous and nothing it calls evaluates again.
   */
  private readonly ev: ValueEvaluation = { r: { stationId: '', ts: 0, receivedAt: 0, late: false, values: [] }, series: null, sensor: '', value: 0, trendKnown: false, trend: null, now: 0, out: [], windowSec: 0 }
  private readonly stmts

  constructor(db: Database.Database, rules: RuleBook, opts: EngineOptions) {
    this.rules = rules
    this.opts = opts
    for (const row of db.prepare('SELECT * FROM alert_states').all() as StateRow[]) {
      const tracked = this.track(row)
      save(tracked, row.updated_at + PERSIST_EVERY_MS * Math.random())
      if (row.ladder === 'level' && row.value !== null && row.reading_ts !== null) this.remember(this.seriesOf(this.stationOf(row.station), row.sensor), row.reading_ts, row.value, 0)
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
    return this.states.get(key(station, sensor, ladder))?.row
  }

  allStates(): StateRow[] {
    const out: StateRow[] = []
    for (const t of this.states.values()) out.push(t.row)
    return out
  }

  /**
   * Warms the rise/trend window and the latest values from stored history
   * (InfluxDB) after a restart, so a rate-of-rise rule and a TT reply do not
   * need a fresh hour of readings. Older than what is known is ignored.
   */
  seed(samples: ReadonlyArray<{ station: string; sensor: string; ts: number; value: number }>): void {
    for (const x of [...samples].sort((a, b) => a.ts - b.ts)) {
      const last = this.latest.get(x.station)?.get(x.sensor)
      if (last && last.ts >= x.ts) continue
      this.remember(this.seriesOf(this.stationOf(x.station), x.sensor), x.ts, x.value, 0)
    }
  }

  /** Evaluates one accepted reading; returns the state changes it caused. */
  evaluate(r: AcceptedReading, now: number): Transition[] {
    const out: Transition[] = []
    const station = this.stationOf(r.stationId)
    station.heard = Math.max(station.heard ?? 0, r.receivedAt)
    const nd = station.noData
    if (nd && nd.row.status === 'firing') out.push(this.resolveNoData(nd, r.receivedAt))

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
    const ts = r.ts
    const values = r.values
    // What resolve() returns cannot change while one reading is evaluated (only
    // sync(), set() and remove() move it), so the generation is read once.
    const generation = this.rules.generation
    const ev = this.ev
    ev.r = r
    ev.now = now
    ev.out = out
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!
      const sensor = v.sensor
      // A station sends the same sensors in the same order reading after
      // reading, so the series of the value at the same position is usually it.
      let series = station.bySlot[i]
      if (series === undefined || series.sensor !== sensor) {
        series = this.seriesOf(station, sensor)
        station.bySlot[i] = series
      }
      const last = series.latest
      if (last && ts <= last.ts) {
        // Out of order or a re-delivery: the state already reflects newer data.
        this.counters.skippedStale++
        continue
      }
      if (series.ruleGeneration !== generation) this.resolveRule(series, generation)
      const rule = series.rule
      const value = v.value
      // The rise window forgets what fell out of the rule's window by now; it is
      // applied when the window is next read (trend()), not on every value.
      const cutoff = ts - series.windowSec * 1000
      if (cutoff > series.expireCutoff) series.expireCutoff = cutoff
      this.counters.evaluated++
      if (!rule || !rule.enabled) {
        this.remember(series, ts, value, series.minSpacingMs)
        this.touch(series, value, ts, now)
        continue
      }
      ev.series = series
      ev.sensor = sensor
      ev.value = value
      ev.windowSec = series.windowSec
      const riseLevels = series.riseLevels
      // The trend against the window before this value: a rise ladder needs it
      // now, a level ladder only in a transition it emits (emit() computes it then).
      const rise = riseLevels ? this.trend(series, value) : 0
      ev.trendKnown = riseLevels !== null
      ev.trend = series.trend
      try {
        const level = (series.level ??= this.trackedRow(station, sensor, 'level'))
        const target = targetLevel(rule.levels, value, level.row.status === 'firing' ? level.row.level : null)
        this.step(level, 'level', rule.levels, target, undefined)
        if (riseLevels) {
          const lvl = riseLevels[0]!
          const tracked = (series.rise ??= this.trackedRow(station, sensor, 'rise'))
          const firing = tracked.row.status === 'firing' ? tracked.row.level : null
          const t = rise >= lvl.threshold || (firing === lvl.name && rise > (lvl.clear ?? 0)) ? lvl : null
          this.step(tracked, 'rise', riseLevels, t, rise)
        }
      } finally {
        // After the ladders, so a trend computed in emit() sees the window without
        // this value; even when a write failed, as if it had been remembered first.
        this.remember(series, ts, value, series.minSpacingMs)
      }
    }
    this.counters.transitions += out.length
    return out
  }

  /** No-data: called by the alerter's timer with the stations that went silent. */
  noData(station: string, silentSince: number, now: number): Transition[] {
    const s = this.states.get(key(station, 'no_data', 'no_data'))
    if (s?.row.status === 'firing') return []
    const incident = `${station}/no_data/${now}`
    const tracked = s ?? this.trackedRow(this.stationOf(station), 'no_data', 'no_data')
    const row = tracked.row
    const from = row.status
    Object.assign(row, { status: 'firing', level: 'no_data', incident, value: null, reading_ts: silentSince, updated_at: now })
    this.persist(tracked)
    this.stmts.openIncident.run(incident, station, 'no_data', 'no_data', 'no_data', 'no_data', now, null)
    const t: Transition = {
      station, sensor: 'no_data', ladder: 'no_data', level: NO_DATA_LEVEL, previous: null, from, to: 'firing',
      value: null, threshold: 0, side: 'above', readingTs: silentSince, receivedAt: null, at: now, incident, trend: null,
    }
    this.record(t)
    return [t]
  }

  private resolveNoData(tracked: TrackedRow, at: number): Transition {
    const row = tracked.row
    const incident = row.incident
    Object.assign(row, { status: 'resolved', level: null, incident: null, updated_at: at })
    this.persist(tracked)
    if (incident) this.stmts.closeIncident.run(at, incident)
    const t: Transition = {
      station: row.station, sensor: 'no_data', ladder: 'no_data', level: NO_DATA_LEVEL, previous: NO_DATA_LEVEL, from: 'firing', to: 'resolved',
      value: null, threshold: 0, side: 'above', readingTs: at, receivedAt: at, at, incident, trend: null,
    }
    this.record(t)
    return t
  }

  /**
   * One ladder's state machine for the value in this.ev. No closures or
   * spread objects: this runs for every value of every reading, and a
   * Transition is built only when something is emitted.
   */
  private step(tracked: TrackedRow, ladder: 'level' | 'rise', levels: readonly Level[], t: Level | null, delta: number | undefined): void {
    const { r, sensor, value, now } = this.ev
    const row = tracked.row
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
        this.emit(row, ladder, delta, 'firing', t, firing, from)
      } else if (!firing && row.status !== 'pending') {
        const from = row.status
        row.status = 'pending'
        this.emit(row, ladder, delta, 'pending', t, null, from)
      }
    } else if (firing && rankT < rankF) {
      row.pending_level = null
      row.pending_count = 0
      row.pending_since = null
      if (t) {
        // De-escalation within the incident (e.g. danger back to warning).
        row.level = t.name
        this.stmts.updateIncident.run(t.name, 0, t.name, value, value, value, row.incident)
        this.emit(row, ladder, delta, 'firing', t, firing, 'firing')
      } else {
        row.status = 'resolved'
        row.level = null
        if (row.incident) this.stmts.closeIncident.run(now, row.incident)
        this.emit(row, ladder, delta, 'resolved', firing, firing, 'firing')
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
          this.emit(row, ladder, delta, 'ok', pendingLevel, null, 'pending')
        }
      }
      if (firing && row.incident) this.raisePeak(tracked, row.incident, firing.name, value)
    }
    this.persist(tracked)
  }

  private emit(row: StateRow, ladder: 'level' | 'rise', delta: number | undefined, to: AlertStatus, level: Level, previous: Level | null, from: AlertStatus): void {
    const ev = this.ev
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
      trend: ev.trendKnown ? ev.trend : this.trendOfValue(),
    }
    if (delta !== undefined) tr.delta = delta
    if (ladder === 'rise') tr.windowSec = ev.windowSec
    this.record(tr)
    ev.out.push(tr)
  }

  /** The trend of the value under evaluation, computed once, when a transition first needs it. */
  private trendOfValue(): Trend {
    const ev = this.ev
    this.trend(ev.series!, ev.value)
    ev.trend = ev.series!.trend
    ev.trendKnown = true
    return ev.trend
  }

  private touch(series: Series, value: number, ts: number, now: number): void {
    const tracked = (series.level ??= this.trackedRow(series.station, series.sensor, 'level'))
    const row = tracked.row
    row.value = value
    row.reading_ts = ts
    row.updated_at = now
    this.persist(tracked)
  }

  /** The tracked state row of a station's sensor and ladder, a fresh 'ok' one (not yet written) when there is none. */
  private trackedRow(station: StationSeries, sensor: string, ladder: string): TrackedRow {
    const existing = this.states.get(key(station.id, sensor, ladder))
    if (existing) return existing
    return this.track({
      station: station.id, sensor, ladder, status: 'ok', level: null, pending_level: null, pending_count: 0, pending_since: null,
      incident: null, value: null, reading_ts: null, updated_at: 0,
    })
  }

  private track(row: StateRow): TrackedRow {
    const tracked: TrackedRow = {
      row, saved: false, savedStatus: 'ok', savedLevel: null, savedPendingLevel: null, savedPendingCount: 0, savedPendingSince: null, savedIncident: null, dueAt: 0,
      peakIncident: null, peak: 0,
    }
    this.states.set(key(row.station, row.sensor, row.ladder), tracked)
    if (row.ladder === 'no_data') this.stationOf(row.station).noData = tracked
    return tracked
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
  private persist(tracked: TrackedRow): void {
    const row = tracked.row
    if (!tracked.saved && row.status === 'ok' && row.pending_level === null && row.incident === null) {
      save(tracked, row.updated_at + Math.random() * PERSIST_EVERY_MS)
    }
    if (
      tracked.saved &&
      tracked.savedStatus === row.status &&
      tracked.savedLevel === row.level &&
      tracked.savedPendingLevel === row.pending_level &&
      tracked.savedPendingCount === row.pending_count &&
      tracked.savedPendingSince === row.pending_since &&
      tracked.savedIncident === row.incident &&
      row.updated_at < tracked.dueAt
    ) {
      return
    }
    this.stmts.upsert.run(row)
    save(tracked, row.updated_at + PERSIST_EVERY_MS * (0.5 + Math.random()))
  }

  /**
   * Raises an incident's peak only when the value beats the one already
   * stored. The peak is held on the row: an incident belongs to one row, and
   * a row never opens the same incident twice (its id carries the reading's
   * time, and a series only moves forward), so one (incident, peak) per row
   * remembers what a map of every incident ever seen would.
   */
  private raisePeak(tracked: TrackedRow, incident: string, level: string, value: number | null): void {
    const known = tracked.peakIncident === incident
    if (value === null || (known && value <= tracked.peak)) return
    this.stmts.updateIncident.run(level, 0, level, value, value, value, incident)
    tracked.peakIncident = incident
    tracked.peak = value
  }

  private record(t: Transition): void {
    this.stmts.event.run(t.at, t.station, t.sensor, t.ladder, t.level.name, t.from, t.to, t.value, t.threshold, t.readingTs, t.receivedAt, t.incident)
  }

  private remember(series: Series, ts: number, value: number, minSpacingMs: number): void {
    if (series.latest) {
      series.latest.ts = ts
      series.latest.value = value
    } else {
      series.latest = { ts, value }
      let m = this.latest.get(series.station.id)
      if (!m) this.latest.set(series.station.id, (m = new Map()))
      m.set(series.sensor, series.latest)
    }
    const w = series.window
    // Empty once expired (every sample older than the cutoff), or spaced enough from the newest.
    if (w.size === 0 || ts - w.newestTs() >= minSpacingMs || w.newestTs() < series.expireCutoff) w.push(ts, value)
  }

  private stationOf(id: string): StationSeries {
    let station = this.stations.get(id)
    if (!station) this.stations.set(id, (station = { id, heard: undefined, sensors: new Map(), bySlot: [], noData: undefined }))
    return station
  }

  private seriesOf(station: StationSeries, sensor: string): Series {
    let s = station.sensors.get(sensor)
    if (!s) {
      s = {
        station, sensor, latest: undefined, window: new RiseWindow(MAX_SAMPLES), level: undefined, rise: undefined,
        rule: null, riseLevels: null, ruleGeneration: -1, windowSec: DEFAULT_WINDOW_SEC, swing: false, minSpacingMs: 0, expireCutoff: -Infinity, trend: null,
      }
      station.sensors.set(sensor, s)
    }
    return s
  }

  /** The rule for a series and what follows from it, resolved again only when the rule book changed. */
  private resolveRule(series: Series, generation: number): void {
    const rule = this.rules.resolve(series.station.id, series.sensor)
    series.rule = rule
    series.riseLevels = rule?.rise ? [riseLevel(rule.rise)] : null
    series.windowSec = rule?.rise?.windowSec ?? DEFAULT_WINDOW_SEC
    series.swing = (rule?.rise?.direction ?? 'up') === 'any'
    series.minSpacingMs = (series.windowSec * 1000) / MAX_SAMPLES
    series.ruleGeneration = generation
  }

  /**
   * Trend against the oldest sample within the series' window (left in
   * series.trend), before the value under evaluation joins it; returns the
   * rise (value - minimum within the window) or, for a swing rule, the larger
   * of the rise and the fall (maximum - value).
   */
  private trend(series: Series, value: number): number {
    const w = series.window
    w.expireBefore(series.expireCutoff)
    if (w.size === 0) {
      series.trend = null
      return 0
    }
    const oldest = w.oldestValue()
    const diff = value - oldest
    const eps = Math.max(Math.abs(oldest) * 0.05, 0.05)
    series.trend = diff > eps ? 'up' : diff < -eps ? 'down' : 'flat'
    const rise = value - w.min()
    return series.swing ? Math.max(rise, w.max() - value) : rise
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
  series: Series | null
  sensor: string
  value: number
  /** Whether trend is computed yet for this value. */
  trendKnown: boolean
  trend: Trend
  now: number
  out: Transition[]
  windowSec: number
}

/** Remembers what a write of the row (or its load) holds; no object per write: the row's previous save is never read again. */
function save(tracked: TrackedRow, dueAt: number): void {
  const row = tracked.row
  tracked.saved = true
  tracked.savedStatus = row.status
  tracked.savedLevel = row.level
  tracked.savedPendingLevel = row.pending_level
  tracked.savedPendingCount = row.pending_count
  tracked.savedPendingSince = row.pending_since
  tracked.savedIncident = row.incident
  tracked.dueAt = dueAt
}

/** When each station was last heard: what evaluation.ts and alerter.ts read and seed. */
export interface HeardTimes {
  get(station: string): number | undefined
  set(station: string, at: number): void
}

/** A station's series and no-data row, so one map lookup per reading reaches all of them. */
interface StationSeries {
  id: string
  /** Engine.lastHeard's value for the station. */
  heard: number | undefined
  sensors: Map<string, Series>
  /**
   * The series of the last reading's values by position. A reading holds each
   * sensor kind at most once (ingest/parse/validate.ts), so this is no longer
   * than the list of sensor kinds.
   */
  bySlot: Series[]
  noData: TrackedRow | undefined
}

interface Series {
  station: StationSeries
  sensor: string
  latest: Sample | undefined
  window: RiseWindow
  level: TrackedRow | undefined
  rise: TrackedRow | undefined
  rule: SensorRule | null
  /** The rule's rise ladder as one level, built once per rule change. */
  riseLevels: Level[] | null
  ruleGeneration: number
  /** The rule's rise window (the trend's window without a rise rule), once per rule change. */
  windowSec: number
  /** A swing rule (direction 'any'): the rise is the larger of the rise and the fall. */
  swing: boolean
  /** Least spacing of the window's samples, so MAX_SAMPLES cover windowSec. */
  minSpacingMs: number
  /**
   * The window's samples older than this are gone: the latest of the cutoffs
   * (reading time - windowSec) of the values evaluated, applied to the window
   * only when it is read. Expiring on every value touched memory for nothing
   * on the series no rise rule reads.
   */
  expireCutoff: number
  /** Set by trend(): the trend of the value just evaluated. */
  trend: Trend
}

/** A state row with what was last written of it and its incident's peak, so persist() and raisePeak() look nothing up. */
interface TrackedRow {
  row: StateRow
  /** Whether the saved* fields and dueAt hold what was last written (or loaded); false: never written and not yet known quiet. */
  saved: boolean
  savedStatus: AlertStatus
  savedLevel: string | null
  savedPendingLevel: string | null
  savedPendingCount: number
  savedPendingSince: number | null
  savedIncident: string | null
  /** When the informational value/time is rewritten even if nothing changed. */
  dueAt: number
  /** The incident whose peak this row has raised, and that peak. */
  peakIncident: string | null
  peak: number
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
