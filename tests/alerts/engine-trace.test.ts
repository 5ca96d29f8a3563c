import { createHash } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Engine, type Transition } from '../../alerts/engine.ts'
import { migrateAlerts } from '../../alerts/store.ts'
import type { AcceptedReading } from '../../core/reading.ts'
import { RuleBook, type ZoneDirectory } from '../../levels/book.ts'
import type { Zone } from '../../levels/zones.ts'
import { mulberry32 } from '../../firmware-sim/prng.ts'

/**
 * Pins the alert engine's whole behaviour on a long seeded sequence, so a
 * change made for speed can be checked to change nothing: the transitions
 * each reading returns, the counters, the in-memory states and latest
 * values, and every row of alert_states, alert_events and alert_incidents
 * after each transaction, with rise windows that fill, expire and change
 * length. Math.random (the jitter of state-row refreshes) is
 * replaced by a seeded generator, so the write schedule is pinned too.
 *
 * The recorded trace (engine-trace.fixture.txt) was made by the engine before
 * the per-reading CPU work of issue 13 (commit d6659eb). To re-record after an
 * intended change of behaviour: delete the fixture and run this file once.
 */
const FIXTURE = fileURLToPath(new URL('./engine-trace.fixture.txt', import.meta.url))

/** mulberry32 (firmware-sim's): a small seeded generator, so the sequence is the same on every machine. */
const seeded = mulberry32

const digest = (x: unknown): string => createHash('sha256').update(JSON.stringify(x)).digest('hex').slice(0, 16)

function transitionView(t: Transition): unknown[] {
  return [t.station, t.sensor, t.ladder, t.level.name, t.previous?.name ?? null, t.from, t.to, t.value, t.threshold, t.side, t.delta ?? null, t.windowSec ?? null, t.readingTs, t.receivedAt, t.at, t.incident, t.trend]
}

interface Trace {
  lines: string[]
  /** What the sequence went through, so a weak sequence is noticed. */
  seen: Map<string, number>
}

function runSequence(): Trace {
  const random = seeded(20261203)
  // The engine's own jitter draws from a second stream, so the scenario does not depend on how often it draws.
  const jitter = seeded(13)
  vi.spyOn(Math, 'random').mockImplementation(jitter)

  const db = new Database(':memory:')
  migrateAlerts(db)
  const stations = ['r1', 'r2', 'rs1', 'aq1', 'aq2', 'ws1', 'mon1', 'unzoned']
  const zones: Record<string, Zone | null> = { fast1: null, fast2: null, r1: 'rice', r2: 'rice', rs1: 'rice_shrimp', aq1: 'brackish_aquaculture', aq2: 'brackish_aquaculture', ws1: 'water_supply', mon1: 'monitoring', unzoned: null }
  let zoneGen = 0
  const directory: ZoneDirectory = { zoneOf: (id) => zones[id] ?? null, zoneGeneration: () => zoneGen, syncZones: () => {} }
  let now = Date.parse('2026-01-20T00:00:00Z')
  const rules = new RuleBook(db, directory, () => now)
  const staleAfterMs = 30 * 60_000
  let engine = new Engine(db, rules, { staleAfterMs })

  const sensors = ['salinity', 'water_level', 'ph', 'no2', 'temperature', 'conductivity', 'turbidity']
  // Per station and sensor a random walk around a base that sits near the zone's limits.
  const base: Record<string, number> = { salinity: 3, water_level: 120, ph: 7.2, no2: 0.5, temperature: 29, conductivity: 6, turbidity: 10 }
  const step: Record<string, number> = { salinity: 0.6, water_level: 8, ph: 0.25, no2: 0.2, temperature: 0.5, conductivity: 1, turbidity: 2 }
  const walk = new Map<string, number>()
  const lastTs = new Map<string, number>()
  const lines: string[] = []
  const seen = new Map<string, number>()
  const see = (k: string) => seen.set(k, (seen.get(k) ?? 0) + 1)

  const statesDump = db.prepare('SELECT * FROM alert_states ORDER BY station, sensor, ladder')
  const eventsDump = db.prepare('SELECT * FROM alert_events ORDER BY id')
  const incidentsDump = db.prepare('SELECT * FROM alert_incidents ORDER BY id')

  const valueOf = (station: string, sensor: string): number => {
    const k = `${station}|${sensor}`
    let v = walk.get(k) ?? base[sensor]! * (0.5 + random())
    const u = random()
    if (u < 0.04) v += step[sensor]! * 8 * (random() - 0.3) // a surge (tide, rain, a dump)
    else v += step[sensor]! * (random() - 0.5)
    if (sensor === 'salinity' && (station === 'aq1' || station === 'aq2') && random() < 0.01) v = random() < 0.5 ? 1 : 42
    v = Math.max(0, Math.round(v * 100) / 100)
    walk.set(k, v)
    return v
  }

  const makeReading = (): AcceptedReading => {
    const stationId = stations[Math.floor(random() * stations.length)]!
    const values = sensors.filter(() => random() < 0.6).map((sensor) => ({ sensor, value: valueOf(stationId, sensor), raw: 0, flags: [] }))
    if (values.length === 0) values.push({ sensor: 'salinity', value: valueOf(stationId, 'salinity'), raw: 0, flags: [] })
    const u = random()
    let ts = now - Math.floor(random() * 5_000)
    const previous = lastTs.get(stationId)
    if (u < 0.03 && previous !== undefined) ts = previous // a re-delivery
    else if (u < 0.05 && previous !== undefined) ts = previous - Math.floor(random() * 60_000) // out of order
    else if (u < 0.07) ts = now - staleAfterMs - 1 - Math.floor(random() * 3_600_000) // stale
    lastTs.set(stationId, Math.max(ts, previous ?? 0))
    return { stationId, ts, receivedAt: now, late: u > 0.97, values: values as AcceptedReading['values'] }
  }

  const evaluate = db.transaction((batch: AcceptedReading[], at: number) => {
    rules.sync()
    return batch.map((r) => engine.evaluate(r, at))
  })

  const ruleChanges: Array<() => void> = [
    // Pending needs 3 readings over 10 minutes; an outside band with its own clears; a swing rule.
    () => rules.set('r1', 'salinity', { levels: [
      { name: 'warning', severity: 'warning', direction: 'outside', threshold: 1.5, high: 3.5, clear: 1.8, clearHigh: 3.2, pendingReadings: 3, pendingSec: 600 },
      { name: 'danger', severity: 'danger', direction: 'outside', threshold: 0.5, high: 5, pendingReadings: 1 },
    ], rise: { delta: 0.8, windowSec: 1800, direction: 'any' } }, now),
    () => rules.set('default', 'temperature', { levels: [{ name: 'hot', severity: 'warning', direction: 'above', threshold: 30, clear: 29.5 }], rise: { delta: 1, windowSec: 900 } }, now),
    () => rules.set('r2', 'ph', { enabled: false, levels: [{ name: 'ph_low', severity: 'warning', direction: 'below', threshold: 7 }] }, now),
    // The firing 'danger' level disappears under its incident.
    () => rules.set('zone:rice', 'salinity', { levels: [{ name: 'warning', severity: 'warning', direction: 'above', threshold: 2.5, clear: 2 }] }, now),
    () => rules.set('aq1', 'no2', { levels: [
      { name: 'n1', severity: 'warning', direction: 'above', threshold: 0.4, pendingReadings: 2, pendingSec: 120 },
      { name: 'n2', severity: 'danger', direction: 'above', threshold: 0.8, pendingReadings: 4 },
      { name: 'n3', severity: 'danger', direction: 'above', threshold: 1.2, pendingReadings: 1 },
    ] }, now),
    () => rules.remove('r2', 'ph'),
    () => rules.remove('zone:rice', 'salinity'),
    () => { zones.aq2 = 'rice'; zoneGen++ },
    () => rules.set('default', 'water_level', { levels: [{ name: 'bd1', severity: 'warning', direction: 'above', threshold: 125, clear: 118 }, { name: 'bd2', severity: 'danger', direction: 'above', threshold: 135 }] }, now),
  ]

  const BATCHES = 700
  for (let b = 0; b < BATCHES; b++) {
    now += Math.floor(random() * 240_000)
    if (b % 140 === 139) now += 35 * 86_400_000 // into another month: rice_shrimp changes season
    if (b % 60 === 30) {
      ruleChanges[Math.floor(b / 60) % ruleChanges.length]!()
      see('rule change')
    }
    if (b === 250 || b === 480) {
      // A restart: a new engine from what was persisted, warmed from "history".
      engine = new Engine(db, rules, { staleAfterMs })
      engine.seed(stations.slice(0, 4).map((station, i) => ({ station, sensor: 'salinity', ts: now - 600_000 * (i + 1), value: 2 + i })))
      see('restart')
    }
    const noData: Transition[] = []
    if (random() < 0.08) {
      const station = stations[Math.floor(random() * stations.length)]!
      db.transaction(() => noData.push(...engine.noData(station, now - 3_600_000, now)))()
    }
    const batch = Array.from({ length: 1 + Math.floor(random() * 12) }, makeReading)
    const out = evaluate(batch, now)
    const transitions = [...noData, ...out.flat()]
    for (const t of transitions) {
      see(`${t.ladder} ${t.from}->${t.to}`)
      if (t.previous && t.previous.name !== t.level.name) see(`${t.ladder} ${t.previous.name}->${t.level.name}`)
    }
    const memory = {
      states: engine.allStates(),
      latest: [...engine.latest].map(([s, m]) => [s, [...m]]),
      lastHeard: stations.map((s) => engine.lastHeard.get(s) ?? null),
    }
    lines.push(
      [
        b,
        out.map((o) => o.length).join(','),
        digest(transitions.map(transitionView)),
        JSON.stringify(engine.counters),
        digest(memory),
        digest(statesDump.all()),
        digest(eventsDump.all()),
        digest(incidentsDump.all()),
      ].join(' '),
    )
  }
  // Two stations reporting at regular intervals, as real ones do, for 30
  // hours: their rise windows fill all 240 samples (engine.ts MAX_SAMPLES),
  // expire across gaps, and change length under them.
  zones.fast1 = 'brackish_aquaculture' // a 24-hour swing rule: with a reading a minute, a sample every 6 minutes
  const fast2Rule = (delta: number, windowSec: number, direction: 'up' | 'any') =>
    rules.set('fast2', 'salinity', { levels: [{ name: 'warning', severity: 'warning', direction: 'above', threshold: 4, clear: 3 }], rise: { delta, windowSec, direction } }, now)
  fast2Rule(0.9, 7200, 'any') // with a reading every 10 s, a sample every 30 s
  const fastRules = [() => fast2Rule(0.4, 300, 'up'), () => fast2Rule(0.6, 600, 'up'), () => fast2Rule(0.9, 7200, 'any'), () => rules.set('fast1', 'ph', { levels: [{ name: 'ph_high', severity: 'warning', direction: 'above', threshold: 7.4 }], rise: { delta: 0.3, windowSec: 1800, direction: 'any' } }, now)]
  const fastEnd = now + 30 * 3_600_000
  let tick = 0
  for (let b = BATCHES; now < fastEnd; b++) {
    if (b % 25 === 24) fastRules[Math.floor(b / 25) % fastRules.length]!()
    const batch: AcceptedReading[] = []
    for (let k = 0; k < 100; k++) {
      now += random() < 0.001 ? 3 * 3_600_000 : 10_000 // a gap now and then: every sample expires
      tick++
      for (const stationId of tick % 6 === 0 ? ['fast2', 'fast1'] : ['fast2']) {
        const values = ['salinity', 'ph', 'water_level'].map((sensor) => ({ sensor, value: valueOf(stationId === 'fast1' && sensor === 'salinity' ? 'aq1' : stationId, sensor) * (stationId === 'fast1' && sensor === 'salinity' ? 6 : 1), raw: 0, flags: [] }))
        batch.push({ stationId, ts: now, receivedAt: now, late: false, values: values as AcceptedReading['values'] })
      }
    }
    const out = evaluate(batch, now)
    for (const t of out.flat()) see(`fast ${t.ladder} ${t.from}->${t.to}`)
    const memory = { states: engine.allStates(), latest: [...engine.latest].map(([s, m]) => [s, [...m]]) }
    lines.push([b, out.map((o) => o.length).join(','), digest(out.flat().map(transitionView)), JSON.stringify(engine.counters), digest(memory), digest(statesDump.all()), digest(eventsDump.all()), digest(incidentsDump.all())].join(' '))
  }
  see(`events ${(db.prepare('SELECT count(*) AS n FROM alert_events').get() as { n: number }).n}`)
  db.close()
  return { lines, seen }
}

describe('alert engine: behaviour pinned on a seeded sequence', () => {
  afterEach(() => vi.restoreAllMocks())

  it('gives the recorded transitions, counters, states and rows after every transaction', () => {
    const { lines, seen } = runSequence()
    // The sequence must reach the interesting paths, or it pins little.
    for (const path of ['level ok->pending', 'level pending->firing', 'level pending->ok', 'level firing->resolved', 'level firing->firing', 'rise ok->firing', 'rise firing->resolved', 'no_data ok->firing', 'no_data firing->resolved', 'rule change', 'restart', 'fast rise ok->firing', 'fast rise firing->resolved', 'fast level pending->firing']) {
      expect(seen.get(path) ?? 0, path).toBeGreaterThan(0)
    }
    if (!existsSync(FIXTURE)) {
      writeFileSync(FIXTURE, lines.join('\n') + '\n')
      console.log(`recorded ${FIXTURE}:`, Object.fromEntries(seen))
      return
    }
    const recorded = readFileSync(FIXTURE, 'utf8').trimEnd().split('\n')
    expect(lines.length).toBe(recorded.length)
    const first = lines.findIndex((l, i) => l !== recorded[i])
    // The first transaction that differs, with the recorded line: "batch, transitions per reading, transitions, counters, memory, alert_states, alert_events, alert_incidents".
    expect(first === -1 ? null : { batch: first, now: lines[first], recorded: recorded[first] }).toBeNull()
  })
})
