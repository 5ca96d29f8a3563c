import type { InfluxQueryClient, InfluxSeries } from '../../influx/query.ts'
import { READING_MEASUREMENT, flagsField, queryPerSensor } from '../../influx/schema.ts'
import { SENSOR_KINDS } from '../../core/sensors.ts'

/**
 * The latest reading of every series, shared by the requests of one API
 * process: the "latest values of every station" shape is what dashboards and
 * the province's LGSP poll, and one last() over 1,000 stations costs InfluxDB
 * 0.2–1 s on this machine (bench/sta.ts), more than the 200 ms the page may take.
 *
 * Freshness: a snapshot younger than `freshMs` is served as is. An older one,
 * up to `staleMs`, is still served while one refresh runs in the background
 * (stale-while-revalidate); past `staleMs`, or when a series asked for was
 * not covered (a new station), the request waits for a refresh. At most one
 * refresh is in flight. Stations report every 5–15 minutes (FIELD-NOTES), so a
 * value 30 s late is the same value.
 */
export interface LatestRow {
  station: string
  sensor: string
  ts: number
  value: number
  late: boolean
  flags: string[]
  delayS: number | null
}

export interface LatestCacheOptions {
  /** Younger than this: served without asking InfluxDB. */
  freshMs: number
  /** Up to this old: served while a background refresh runs. */
  staleMs: number
  clock?: () => number
}

export const LATEST_CACHE_DEFAULTS: Readonly<LatestCacheOptions> = Object.freeze({ freshMs: 30_000, staleMs: 5 * 60_000 })

/** First look back this far; only series still missing are looked up further. */
const RECENT_MS = 2 * 86_400_000
/** As far back as raw data is kept (influx.rawRetention default 400 days, docs/DATA.md). */
const FAR_MS = 400 * 86_400_000

interface Snapshot {
  at: number
  covered: Set<string>
  rows: Map<string, LatestRow>
}

function parse(series: InfluxSeries[], into: Map<string, LatestRow>): void {
  for (const s of series) {
    const station = s.tags?.station
    const sensor = s.tags?.sensor
    const row = s.values[0]
    if (!station || !sensor || !row) continue
    const idx = (c: string) => s.columns.indexOf(c)
    const value = row[idx('value')]
    if (typeof value !== 'number' || !Number.isFinite(value)) continue
    const flags = row[idx('flags')]
    const delay = row[idx('delay_s')]
    into.set(`${station}:${sensor}`, {
      station,
      sensor,
      ts: row[idx('time')] as number,
      value,
      late: row[idx('late')] === true,
      flags: typeof flags === 'string' && flags ? flags.split(',') : [],
      delayS: typeof delay === 'number' ? delay : null,
    })
  }
}

export class LatestCache {
  private snapshot: Snapshot | null = null
  private inflight: Promise<Snapshot> | null = null
  private readonly clock: () => number

  constructor(
    private readonly query: InfluxQueryClient,
    private readonly opts: LatestCacheOptions = LATEST_CACHE_DEFAULTS,
  ) {
    this.clock = opts.clock ?? Date.now
  }

  /** When the snapshot in use was taken; null before the first. */
  snapshotAt(): number | null {
    return this.snapshot?.at ?? null
  }

  /**
   * The latest row of each wanted series ("station:sensor"). `all` is every
   * series that may be asked (the public datastreams), so one refresh serves
   * every later request.
   */
  async get(wanted: readonly string[], all: () => readonly string[]): Promise<Map<string, LatestRow>> {
    const now = this.clock()
    const snap = this.snapshot
    const covers = snap !== null && wanted.every((k) => snap.covered.has(k))
    if (snap && covers && now - snap.at < this.opts.freshMs) return snap.rows
    if (snap && covers && now - snap.at < this.opts.staleMs) {
      // Errors of a background refresh are kept for the request that must wait (past staleMs): it sees them.
      if (!this.inflight) void this.refresh(all()).catch(() => undefined)
      return snap.rows
    }
    return (await this.refresh(all())).rows
  }

  private refresh(series: readonly string[]): Promise<Snapshot> {
    if (this.inflight) return this.inflight
    const started = this.clock()
    const run = async (): Promise<Snapshot> => {
      const rows = new Map<string, LatestRow>()
      // last() with other fields returns them from the same point: that value's late, flags and delay.
      const last = (since: number, where = '') =>
        queryPerSensor(
          this.query,
          SENSOR_KINDS,
          (s) => `SELECT last("${s}") AS "value", "late", "${flagsField(s)}" AS "flags", "delay_s" FROM "${READING_MEASUREMENT}" WHERE time >= ${since}ms${where} GROUP BY "station"`,
          { method: 'POST' },
        )
      const recent = await last(started - RECENT_MS)
      parse(recent, rows)
      const missing = series.filter((k) => !rows.has(k))
      if (missing.length > 0) {
        // Series silent for two days: one more look, back to the retention, at those stations only.
        const stations = [...new Set(missing.map((k) => k.slice(0, k.lastIndexOf(':'))))]
        const far = await last(started - FAR_MS, stations.length <= 500 ? ` AND "station" =~ /^(?:${stations.join('|')})$/` : '')
        const older = new Map<string, LatestRow>()
        parse(far, older)
        for (const k of missing) {
          const r = older.get(k)
          if (r) rows.set(k, r)
        }
      }
      const snap = { at: started, covered: new Set(series), rows }
      this.snapshot = snap
      return snap
    }
    this.inflight = run().finally(() => {
      this.inflight = null
    })
    return this.inflight
  }
}
