/**
 * What the bench asks InfluxDB directly: counts per station (the loss
 * verdict never comes from the platform's own counters), the write ceiling,
 * and the publish-to-queryable poller.
 */
export async function influxQuery(url: string, q: string, db = 'tidewatch'): Promise<Array<{ tags?: Record<string, string>; values: unknown[][] }>> {
  const params = new URLSearchParams({ db, q, epoch: 'ms' })
  const res = await fetch(`${url}/query?${params}`, { method: q.startsWith('SELECT') ? 'GET' : 'POST' })
  if (!res.ok) throw new Error(`InfluxDB ${res.status}: ${await res.text()}`)
  const body = (await res.json()) as { results: Array<{ error?: string; series?: Array<{ tags?: Record<string, string>; values: unknown[][] }> }> }
  const r = body.results[0]!
  if (r.error && !/database not found/.test(r.error)) throw new Error(`InfluxDB: ${r.error}`)
  return r.series ?? []
}

/** Stored readings (salinity values, one per reading) per station. */
export async function storedPerStation(url: string): Promise<Map<string, number>> {
  const series = await influxQuery(url, `SELECT count("salinity") FROM "station_reading" GROUP BY "station"`)
  return new Map(series.map((s) => [s.tags!.station!, Number(s.values[0]![1])]))
}

/** Stored points: one per reading (influx/schema.ts), each carrying "late". */
export async function storedPoints(url: string): Promise<number> {
  const series = await influxQuery(url, `SELECT count("late") FROM "station_reading"`)
  return Number(series[0]?.values[0]?.[1] ?? 0)
}

export interface LossVerdict {
  acknowledged: number
  stored: number
  lost: number
  /** Stored but not acknowledged (a PUBACK lost on the way back; not a defect). */
  extra: number
}

/** Per station: every acknowledged reading must be stored. */
export function lossVerdict(acked: ReadonlyMap<string, number>, stored: ReadonlyMap<string, number>): LossVerdict {
  const v: LossVerdict = { acknowledged: 0, stored: 0, lost: 0, extra: 0 }
  for (const [id, a] of acked) {
    const s = stored.get(id) ?? 0
    v.acknowledged += a
    v.stored += s
    if (s < a) v.lost += a - s
    else v.extra += s - a
  }
  return v
}

/**
 * InfluxDB alone: raw HTTP POSTs of about `batch` points' worth of
 * readings, `inFlight` requests at a time, in one of two schemas.
 *
 * The two InfluxDB schemas weighed in bench rows 1b and 1b' (issue 13,
 * "weigh the schema"): `per-reading` is what tidewatch stores (docs/DATA.md,
 * influx/schema.ts: one `station_reading` point per reading, tag station, a
 * value and a raw field per sensor plus late/delay_s); `per-value` is the
 * schema it replaced (one `reading` point per sensor value, tags
 * station+sensor, fields value/raw/late/delay_s), kept as the comparison.
 * Both carry the four values the bench stations send
 * (bench/lib/station-worker.ts), so row 1c compares like with like.
 */
export type InfluxSchema = 'per-value' | 'per-reading'

export async function influxCeiling(
  url: string,
  opts: { readings: number; stations: number; batch: number; inFlight: number; schema?: InfluxSchema },
): Promise<{ pointsPerSec: number; readingsPerSec: number; points: number; stored: number; seconds: number; schema: InfluxSchema }> {
  const schema = opts.schema ?? 'per-reading'
  const db = 'bench_ceiling'
  await influxQuery(url, `DROP DATABASE "${db}"`, db)
  await influxQuery(url, `CREATE DATABASE "${db}"`, db)
  const sensors: Array<[string, number]> = [['salinity', 2.5], ['water_level', 120], ['ph', 7.5], ['no2', 0.1]]
  const base = Date.now() - opts.readings * 10
  const bodies: string[] = []
  let lines: string[] = []
  for (let i = 0; i < opts.readings; i++) {
    const station = `cl-${String(i % opts.stations).padStart(5, '0')}`
    const ts = base + Math.floor(i / opts.stations) * 1000 + (i % opts.stations)
    if (schema === 'per-value') {
      for (const [sensor, v] of sensors) lines.push(`reading,sensor=${sensor},station=${station} value=${v},raw=${v},late=false,delay_s=0.1 ${ts}`)
    } else {
      const fields = sensors.map(([sensor, v]) => `${sensor}=${v},${sensor}_raw=${v}`).join(',')
      lines.push(`station_reading,station=${station} ${fields},late=false,delay_s=0.1 ${ts}`)
    }
    // A batch is ~`batch` points of the per-value schema either way, so both
    // schemas are written in the same number of requests per reading.
    if (lines.length >= (schema === 'per-value' ? opts.batch : opts.batch / 4)) {
      bodies.push(lines.join('\n'))
      lines = []
    }
  }
  if (lines.length) bodies.push(lines.join('\n'))
  let next = 0
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: opts.inFlight }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++]!
        const res = await fetch(`${url}/write?db=${db}&precision=ms`, { method: 'POST', body })
        if (res.status !== 204) throw new Error(`ceiling write ${res.status}: ${await res.text()}`)
      }
    }),
  )
  const seconds = (performance.now() - t0) / 1000
  const points = opts.readings * (schema === 'per-value' ? 4 : 1)
  const count = schema === 'per-value' ? 'SELECT count("value") FROM "reading"' : 'SELECT count("salinity") FROM "station_reading"'
  const storedValues = Number((await influxQuery(url, count, db))[0]?.values[0]?.[1] ?? 0)
  // Readings stored: four values each in the per-value schema.
  const stored = schema === 'per-value' ? storedValues / 4 : storedValues
  await influxQuery(url, `DROP DATABASE "${db}"`, db)
  return { pointsPerSec: points / seconds, readingsPerSec: opts.readings / seconds, points, stored, seconds, schema }
}

/**
 * Publish-to-queryable: polls InfluxDB for the newest readings of a few probe
 * stations every `everyMs`; a reading's latency is the wall time of the
 * answer that first showed it minus its device timestamp (= publish time,
 * same clock). An upper bound: it includes up to one poll interval.
 */
export class QueryablePoller {
  private readonly seen = new Set<string>()
  readonly latencies: number[] = []
  private running = false
  private loop: Promise<void> | undefined
  polls = 0

  constructor(
    private readonly url: string,
    private readonly probes: readonly string[],
    private readonly everyMs = 20,
    private readonly windowSec = 10,
  ) {}

  start(): void {
    this.running = true
    // Only readings published from now on: the first poll would otherwise
    // count the previous phase's last ten seconds as ten-second latencies.
    const startedAt = Date.now()
    const where = this.probes.map((p) => `"station" = '${p}'`).join(' OR ')
    const q = `SELECT "salinity" FROM "station_reading" WHERE "salinity" = "salinity" AND (${where}) AND time > now() - ${this.windowSec}s GROUP BY "station"`
    this.loop = (async () => {
      while (this.running) {
        const started = Date.now()
        try {
          const series = await influxQuery(this.url, q)
          const at = Date.now()
          this.polls++
          for (const s of series) {
            for (const [ts] of s.values) {
              const key = `${s.tags!.station}@${ts}`
              if (this.seen.has(key) || (ts as number) < startedAt) continue
              this.seen.add(key)
              this.latencies.push(at - (ts as number))
            }
          }
        } catch {
          // database not there yet
        }
        const wait = this.everyMs - (Date.now() - started)
        if (wait > 0) await new Promise((r) => setTimeout(r, wait))
      }
    })()
  }

  async stop(graceMs = 2000): Promise<void> {
    await new Promise((r) => setTimeout(r, graceMs))
    this.running = false
    await this.loop
  }
}

export function percentiles(xs: number[]): { n: number; p50: number; p95: number; p99: number; max: number } {
  const s = Float64Array.from(xs).sort()
  const q = (p: number): number => (s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))]! : NaN)
  return { n: s.length, p50: round1(q(0.5)), p95: round1(q(0.95)), p99: round1(q(0.99)), max: round1(s.length ? s[s.length - 1]! : NaN) }
}

function round1(x: number): number {
  return Math.round(x * 10) / 10
}
