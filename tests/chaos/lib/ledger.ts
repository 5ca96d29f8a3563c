/**
 * The verdict of a scenario comes from InfluxDB itself, never from the
 * process's counters: every `station_reading` point (one per reading,
 * influx/schema.ts) with a salinity is read back per station and its device
 * timestamp compared with the generator's ledger.
 */
import type { StationLedger } from './load.ts'

/** station -> device timestamps (ms) -> value, as stored in one InfluxDB. */
export type StoredSet = Map<string, Map<number, number>>

export async function readStored(influxUrl: string, database = 'tidewatch'): Promise<StoredSet> {
  const q = `SELECT "salinity" FROM "station_reading" WHERE "salinity" = "salinity" GROUP BY "station"`
  const params = new URLSearchParams({ db: database, q, epoch: 'ms', chunked: 'true', chunk_size: '50000' })
  const res = await fetch(`${influxUrl}/query?${params}`)
  if (!res.ok) throw new Error(`InfluxDB query failed: ${res.status} ${await res.text()}`)
  const text = await res.text()
  const stored: StoredSet = new Map()
  // Chunked responses are one JSON document per line.
  for (const doc of text.split('\n')) {
    if (!doc.trim()) continue
    const body = JSON.parse(doc) as { results?: Array<{ error?: string; series?: Array<{ tags?: { station?: string }; values: Array<[number, number]> }> }> }
    for (const result of body.results ?? []) {
      if (result.error) {
        if (/database not found/.test(result.error)) continue
        throw new Error(`InfluxDB query error: ${result.error}`)
      }
      for (const series of result.series ?? []) {
        const station = series.tags?.station ?? '?'
        let points = stored.get(station)
        if (!points) stored.set(station, (points = new Map()))
        for (const [ts, value] of series.values) points.set(ts, value)
      }
    }
  }
  return stored
}

export interface Tally {
  published: number
  acknowledged: number
  /** Published readings found in InfluxDB. */
  stored: number
  /** Extra deliveries (re-sends) that collapsed onto an existing point. */
  duplicates: number
  /** Acknowledged but not in InfluxDB: the defect this suite exists to find. */
  lost: number
  /** Points in InfluxDB that no station published (should be 0). */
  phantom: number
  /** A few lost readings, for diagnosis. */
  lostSample: string[]
}

/** A tally with nothing counted: scenarios that crashed, or that count something else (SMS). */
export function emptyTally(): Tally {
  return { published: 0, acknowledged: 0, stored: 0, duplicates: 0, lost: 0, phantom: 0, lostSample: [] }
}

export function tally(ledgers: ReadonlyMap<string, StationLedger>, stored: StoredSet, resends: number): Tally {
  const t: Tally = { ...emptyTally(), duplicates: resends }
  for (const [station, ledger] of ledgers) {
    const points = stored.get(station) ?? new Map<number, number>()
    const published = new Set(ledger.published)
    t.published += published.size
    t.acknowledged += ledger.acked.size
    for (const ts of published) if (points.has(ts)) t.stored++
    for (const ts of ledger.acked) {
      if (!points.has(ts)) {
        t.lost++
        if (t.lostSample.length < 5) t.lostSample.push(`${station}@${ts}`)
      }
    }
    for (const ts of points.keys()) if (!published.has(ts)) t.phantom++
  }
  for (const station of stored.keys()) if (!ledgers.has(station)) t.phantom += stored.get(station)!.size
  return t
}

/** Differences between two targets' point sets (station, ts, value). */
export function diffStored(a: StoredSet, b: StoredSet): { onlyA: number; onlyB: number; valueDiffers: number; total: number } {
  let onlyA = 0
  let onlyB = 0
  let valueDiffers = 0
  let total = 0
  for (const [station, pa] of a) {
    const pb = b.get(station) ?? new Map<number, number>()
    for (const [ts, v] of pa) {
      total++
      if (!pb.has(ts)) onlyA++
      else if (pb.get(ts) !== v) valueDiffers++
    }
  }
  for (const [station, pb] of b) {
    const pa = a.get(station) ?? new Map<number, number>()
    for (const ts of pb.keys()) if (!pa.has(ts)) onlyB++
  }
  return { onlyA, onlyB, valueDiffers, total }
}
