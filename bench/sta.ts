/**
 * SensorThings latest-values bench (issue 14 bar: under 200 ms with 1,000
 * stations). A real influxd on loopback holds a day of readings of N stations
 * (four core sensors every 15 minutes, as Mekong buoys report: FIELD-NOTES),
 * `tidewatch up` runs as deployed in a child process (bench/lib/platform.ts),
 * and the latest-values request
 *
 *   GET /sta/v1.1/Things?$expand=Datastreams($expand=Observations($top=1;$orderby=phenomenonTime desc))
 *
 * is timed over HTTP from this process (until the last byte; the JSON is
 * parsed once, outside the timing, to check that the answer holds every
 * station's latest value), 20 times after the first request.
 *
 *   node bin/run-ts.js bench/sta.ts [--stations 1000] [--hours 24] [--requests 20]
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { CORE_SENSORS } from '../core/sensors.ts'
import { Registry } from '../devices/registry.ts'
import { startManagedInflux } from '../influx/managed.ts'
import { createQueryClient } from '../influx/query.ts'
import { percentiles } from './lib/influx.ts'
import { startPlatformChild } from './lib/platform.ts'

const { values: args } = parseArgs({ options: { stations: { type: 'string' }, hours: { type: 'string' }, requests: { type: 'string' }, keep: { type: 'boolean', default: false } } })
const STATIONS = Number(args.stations ?? 1000)
const HOURS = Number(args.hours ?? 24)
const REQUESTS = Number(args.requests ?? 20)
/** Mekong-HYCOS stations report every 15 minutes (FIELD-NOTES, Domain). */
const STEP_MS = 15 * 60_000
const LATEST = `/sta/v1.1/Things?$expand=${encodeURIComponent('Datastreams($expand=Observations($top=1;$orderby=phenomenonTime desc))')}`

const dir = mkdtempSync(join(tmpdir(), 'tidewatch-bench-sta-'))
const influx = await startManagedInflux({ dir: join(dir, 'influxdb') })
const query = createQueryClient({ url: influx.url, database: 'tidewatch' })
await query.query('CREATE DATABASE "tidewatch"', { method: 'POST' })

// Stations straight into SQLite with one shared hash: scrypt per station would dominate setup (bench/lib/stations.ts does the same).
mkdirSync(join(dir, 'data'), { recursive: true })
const registry = Registry.open(join(dir, 'data', 'registry.db'))
await registry.add({ id: 'bench-sta-template', name: 'template', lat: 9.18, lon: 105.15 })
const { hash } = registry.credentials('bench-sta-template')!
registry.remove('bench-sta-template')
const now = Date.now()
const ids: string[] = []
const insert = registry.db.prepare(`INSERT INTO stations (id, name, lat, lon, interval_s, enabled, created_at, password_hash, credentials_rotated_at) VALUES (?, ?, ?, ?, 900, 1, ?, ?, ?)`)
const sensor = registry.db.prepare('INSERT INTO station_sensors (station_id, kind, cal_offset, cal_scale) VALUES (?, ?, 0, 1)')
registry.db.transaction(() => {
  for (let i = 0; i < STATIONS; i++) {
    const id = `cm-b${String(i).padStart(4, '0')}`
    ids.push(id)
    insert.run(id, `Trạm ${id}`, 8.6 + (i % 40) / 50, 104.7 + Math.floor(i / 40) / 50, now, hash, now)
    for (const k of CORE_SENSORS) sensor.run(id, k)
  }
})()
registry.close()
const platform = await startPlatformChild({ dir, influxUrl: influx.url })

try {
  // A day of readings as the ingest writes them (docs/DATA.md): one point per reading, a value and a raw field per sensor, late, delay_s.
  const t0 = Date.now()
  const end = Math.floor(now / STEP_MS) * STEP_MS
  const steps = Math.floor((HOURS * 3_600_000) / STEP_MS)
  let lines: string[] = []
  let points = 0
  const flush = async () => {
    if (!lines.length) return
    const res = await fetch(`${influx.url}/write?db=tidewatch&precision=ms`, { method: 'POST', body: lines.join('\n') })
    if (res.status !== 204) throw new Error(`write failed: ${res.status} ${await res.text()}`)
    points += lines.length
    lines = []
  }
  for (let s = 0; s < steps; s++) {
    const ts = end - s * STEP_MS
    for (const [i, id] of ids.entries()) {
      const sal = (1 + ((i + s) % 40) / 10).toFixed(2)
      const level = `${80 + (s % 30)}.0`
      lines.push(
        `station_reading,station=${id} salinity=${sal},salinity_raw=${sal},water_level=${level},water_level_raw=${level},ph=7.4,ph_raw=7.4,no2=0.12,no2_raw=0.12,late=false,delay_s=2.5 ${ts}`,
      )
      if (lines.length >= 5000) await flush()
    }
  }
  await flush()
  console.log(`loaded ${STATIONS} stations × ${HOURS} h × ${CORE_SENSORS.length} sensors every ${STEP_MS / 60_000} min = ${points} points (one per reading) in ${((Date.now() - t0) / 1000).toFixed(1)} s`)

  const url = `${platform.apiUrl}${LATEST}`
  const once = async (encoding: string) => {
    const t = performance.now()
    const res = await fetch(url, { headers: { 'accept-encoding': encoding } })
    const bytes = await res.arrayBuffer()
    const ms = performance.now() - t
    if (res.status !== 200) throw new Error(`status ${res.status}`)
    const body = JSON.parse(Buffer.from(bytes).toString('utf8')) as { value: Array<{ '@iot.id': string; Datastreams: Array<{ Observations: Array<{ phenomenonTime: string }> }> }> }
    return { ms, body, size: bytes.byteLength, wire: Number(res.headers.get('content-length') ?? bytes.byteLength), gzip: res.headers.get('content-encoding') === 'gzip' }
  }
  const warm = await once('identity')
  const complete = warm.body.value.length === STATIONS && warm.body.value.every((t) => t.Datastreams.length === CORE_SENSORS.length && t.Datastreams.every((d) => d.Observations.length === 1 && Date.parse(d.Observations[0]!.phenomenonTime) === end))
  console.log(`GET ${decodeURIComponent(LATEST)}`)
  console.log(`  ${STATIONS} Things, ${STATIONS * CORE_SENSORS.length} Datastreams, every latest Observation present and current: ${complete ? 'yes' : 'NO'}`)
  console.log(`  first request (waits for the latest-values snapshot, api/sta/latest-cache.ts): ${warm.ms.toFixed(1)} ms, ${(warm.size / 1e6).toFixed(2)} MB`)
  // Timed until the last byte, decompression included; over loopback the 7 MB plain answer is the cheaper one, over a phone or LGSP link gzip is.
  for (const encoding of ['identity', 'gzip']) {
    const times: number[] = []
    let wire = 0
    for (let i = 0; i < REQUESTS; i++) {
      const r = await once(encoding)
      times.push(r.ms)
      wire = r.wire
    }
    const p = percentiles(times)
    console.log(`  accept-encoding ${encoding}: ${(wire / 1e6).toFixed(2)} MB on the wire; latency over ${p.n} requests: p50 ${p.p50} ms, p95 ${p.p95} ms, max ${p.max} ms (bar: < 200 ms)`)
  }

  // Two other shapes, for the record: a page of all Observations, and one day of one Datastream.
  for (const path of [`/sta/v1.1/Observations?$top=100`, `/sta/v1.1/Datastreams('${ids[0]}:salinity')/Observations?$filter=${encodeURIComponent(`phenomenonTime ge ${new Date(end - 86_400_000).toISOString()}`)}`]) {
    const ts: number[] = []
    for (let i = 0; i < 10; i++) {
      const t = performance.now()
      const res = await fetch(`${platform.apiUrl}${path}`)
      await res.arrayBuffer()
      ts.push(performance.now() - t)
    }
    const q = percentiles(ts)
    console.log(`GET ${decodeURIComponent(path)}: p50 ${q.p50} ms, p95 ${q.p95} ms`)
  }
  if (!complete) process.exitCode = 1
} finally {
  await platform.stop()
  await influx.stop()
  if (!args.keep) rmSync(dir, { recursive: true, force: true })
}
