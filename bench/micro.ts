/**
 * Per-reading CPU of the ingest's pure steps, in one process, no I/O:
 * validation (JSON + zod + ranges), line protocol, and the alert engine
 * (SQLite in memory, salinity above the warning level as in scenario 2).
 *   node bin/run-ts.js bench/micro.ts [--readings 300000]
 */
import Database from 'better-sqlite3'
import { parseArgs } from 'node:util'
import { Engine } from '../alerts/engine.ts'
import { RuleBook, singleZone } from '../levels/book.ts'
import { migrateAlerts } from '../alerts/store.ts'
import { readingLines } from '../ingest/points.ts'
import type { AcceptedReading } from '../core/reading.ts'
import { validatePayload } from '../ingest/parse/validate.ts'

const { values } = parseArgs({ options: { readings: { type: 'string', default: '300000' } } })
const N = Number(values.readings)
const STATIONS = 1000
const limits = { maxPayloadBytes: 65536, maxBatchReadings: 500, lateAfterMs: 900_000, maxAgeMs: 30 * 86_400_000, maxFutureMs: 300_000 }
const t0 = Date.now()
const payloads = Array.from({ length: STATIONS }, (_, i) =>
  Buffer.from(`{"ts":${t0 - i},"values":{"salinity":${(2 + (i % 100) / 100).toFixed(2)},"water_level":${120 + (i % 7)},"ph":7.5,"no2":0.1}}`),
)
const stations = Array.from({ length: STATIONS }, (_, i) => ({ id: `bs-${i}`, enabled: true, calibration: {} }))

function time(label: string, run: () => void): void {
  const started = performance.now()
  run()
  console.log(`${label.padEnd(28)} ${(((performance.now() - started) * 1000) / N).toFixed(2)} µs per reading`)
}

const accepted: AcceptedReading[] = []
time('validate (JSON, zod, ranges)', () => {
  for (let i = 0; i < N; i++) {
    const r = validatePayload(stations[i % STATIONS], `bs-${i % STATIONS}`, payloads[i % STATIONS]!, t0, limits).accepted[0]!
    if (i < STATIONS) accepted.push(r)
  }
})
let lines = 0
time('line protocol', () => {
  for (let i = 0; i < N; i++) lines += readingLines(accepted[i % STATIONS]!).length
})

const db = new Database(':memory:')
migrateAlerts(db)
const engine = new Engine(db, new RuleBook(db, singleZone()), { staleAfterMs: 30 * 60_000 })
// Readings 70 ms apart per station, as in scenario 2's flood.
const readings = Array.from({ length: N }, (_, i) => {
  const r = accepted[i % STATIONS]!
  return { ...r, ts: t0 + Math.floor(i / STATIONS) * 70, receivedAt: t0 + Math.floor(i / STATIONS) * 70 }
})
const evaluate = db.transaction((batch: AcceptedReading[], now: number) => {
  for (const r of batch) engine.evaluate(r, now)
})
time('alert engine (4 values)', () => {
  for (let i = 0; i < N; i += 500) evaluate(readings.slice(i, i + 500), readings[i]!.ts)
})
console.log(`(${N.toLocaleString('en-US')} readings, ${STATIONS} stations, ${lines / N} lines each; engine: ${JSON.stringify(engine.counters)})`)
