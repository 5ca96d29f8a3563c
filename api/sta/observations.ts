import { quoteString, type InfluxQueryClient, type InfluxSeries } from '../../influx/query.ts'
import { READING_MEASUREMENT, carries, flagsField, queryPerSensor } from '../../influx/schema.ts'
import { SENSOR_KINDS, type SensorKind } from '../../core/sensors.ts'
import { invalid } from './errors.ts'
import { compareValues, evaluate, matches, type EvalContext } from './evaluate.ts'
import { STA_LIMITS } from './limits.ts'
import type { LatestCache } from './latest-cache.ts'
import type { DatastreamRec, ObservationRec } from './model.ts'
import { observationId } from './model.ts'
import type { CompareOp, Expr, OrderTerm } from './parser.ts'

/**
 * Observations come from InfluxDB (measurement `station_reading`, one point
 * per reading with a field per sensor, docs/DATA.md), never from memory. An
 * Observation is one sensor's field of one point; each query runs once per
 * sensor in scope (influx/schema.ts queryPerSensor). Every query is bounded:
 *
 * - conjuncts of $filter on phenomenonTime (gt, ge, lt, le, eq a date-time)
 *   and on result (compared with a number) become InfluxQL WHERE clauses;
 * - conjuncts that only look at Datastream/… or FeatureOfInterest/… narrow
 *   the set of series asked for;
 * - $orderby phenomenonTime (or none: newest first) becomes ORDER BY time with
 *   LIMIT/OFFSET, so paging is exact and cheap;
 * - anything else is applied here to at most STA_LIMITS.maxScan observations
 *   fetched in time order; past that the request is refused with a 400 that
 *   says to narrow the phenomenonTime range.
 *
 * Across datastreams ('none', 'station'), each sensor's statement reads the
 * first skip+top+1 and they are merged here by time, then sensor, then
 * station (all reversed newest first), so pages hold the observations they
 * held on the one-point-per-value schema. Only the order within one instant
 * is new: that schema left it to InfluxDB's merge of series, unspecified.
 * A $skip past STA_LIMITS.maxScan is found by counting (deepPage).
 *
 * Only enabled stations' datastreams are ever in scope, and quarantined
 * values are never stored.
 */

/** How many observations to return for one collection (or for each parent of an expanded one). */
export interface ObsWindow {
  filter?: Expr
  orderby?: OrderTerm[]
  top: number
  skip: number
  count: boolean
}

export interface ObsPage {
  items: ObservationRec[]
  /** More observations follow this page (for @iot.nextLink); null when not known (the latest-value path). */
  more: boolean | null
  count?: number
}

/** How expanded observations are grouped: one page per Datastream or per FeatureOfInterest (station). */
export type Grouping = 'none' | 'datastream' | 'station'

interface Pushdown {
  /** Time clauses. */
  where: string[]
  /** Comparisons of the result with a number, applied to each sensor's field. */
  results: Array<{ op: string; v: number }>
  scope: DatastreamRec[]
  residual: Expr | undefined
}

const FLIP: Record<CompareOp, CompareOp> = { eq: 'eq', ne: 'ne', gt: 'lt', ge: 'le', lt: 'gt', le: 'ge' }
const INFLUX_OP: Record<CompareOp, string> = { eq: '=', ne: '!=', gt: '>', ge: '>=', lt: '<', le: '<=' }
/** One sensor's observation fields, named as toRecs() reads them. */
const fieldsOf = (s: SensorKind) => `"${s}" AS "value", "late", "${flagsField(s)}" AS "flags", "delay_s"`

function conjuncts(e: Expr | undefined): Expr[] {
  if (!e) return []
  if (e.k === 'bin' && e.op === 'and') return [...conjuncts(e.l), ...conjuncts(e.r)]
  return [e]
}

function pathsOf(e: Expr, out: string[][] = []): string[][] {
  if (e.k === 'path') out.push(e.segs)
  else if (e.k === 'call') e.args.forEach((a) => pathsOf(a, out))
  else if (e.k === 'bin') {
    pathsOf(e.l, out)
    pathsOf(e.r, out)
  } else if (e.k === 'not' || e.k === 'neg') pathsOf(e.e, out)
  return out
}

/** A comparison of a bare property with a literal, written either way round. */
function propertyVersusLiteral(e: Expr, property: string): { op: CompareOp; lit: Extract<Expr, { k: 'lit' }>['lit'] } | null {
  if (e.k !== 'bin' || !(e.op in FLIP)) return null
  const op = e.op as CompareOp
  const isProp = (x: Expr) => x.k === 'path' && x.segs.length === 1 && x.segs[0] === property
  if (isProp(e.l) && e.r.k === 'lit') return { op, lit: e.r.lit }
  if (isProp(e.r) && e.l.k === 'lit') return { op: FLIP[op], lit: e.l.lit }
  return null
}

function stub(ds: DatastreamRec): ObservationRec {
  return { type: 'Observation', id: '', ds, ts: 0, value: 0, late: false, flags: [], delayS: null }
}

/** Splits $filter into what InfluxDB can do and what is left for here. */
export function pushdown(filter: Expr | undefined, scope: DatastreamRec[], ctx: EvalContext): Pushdown {
  const where: string[] = []
  const results: Pushdown['results'] = []
  const rest: Expr[] = []
  let inScope = scope
  for (const c of conjuncts(filter)) {
    const time = propertyVersusLiteral(c, 'phenomenonTime')
    if (time && time.op !== 'ne' && (time.lit.k === 'dt' || time.lit.k === 'date')) {
      const ms = time.lit.k === 'dt' ? time.lit.ms : Date.parse(`${time.lit.v}T00:00:00Z`)
      where.push(`time ${INFLUX_OP[time.op]} ${ms}ms`)
      continue
    }
    const result = propertyVersusLiteral(c, 'result')
    if (result && result.lit.k === 'num') {
      results.push({ op: INFLUX_OP[result.op], v: result.lit.v })
      continue
    }
    const paths = pathsOf(c)
    if (paths.length > 0 && paths.every((p) => p.length > 1 && (p[0] === 'Datastream' || p[0] === 'FeatureOfInterest'))) {
      // Decided per Datastream once, not per observation.
      inScope = inScope.filter((ds) => matches(c, stub(ds), ctx))
      continue
    }
    rest.push(c)
  }
  const residual = rest.reduce<Expr | undefined>((acc, e) => (acc ? { k: 'bin', op: 'and', l: acc, r: e } : e), undefined)
  return { where, results, scope: inScope, residual }
}

/** The sensor kinds of a scope, in catalog order. */
function sensorsOf(scope: readonly DatastreamRec[]): SensorKind[] {
  const kinds = new Set(scope.map((ds) => ds.kind))
  return SENSOR_KINDS.filter((k) => kinds.has(k))
}

/** Restricts one sensor's statement to the stations whose datastream of it is in scope, and to points that carry it. */
export function scopeClause(scope: readonly DatastreamRec[], sensor: SensorKind): string {
  const ids = scope.filter((ds) => ds.kind === sensor).map((ds) => ds.station.id)
  // Station ids match ^[A-Za-z0-9_-]{1,64}$ (devices/registry.ts): nothing in them is special in a regex but "-" outside a class, which is literal.
  const stations = ids.length === 1 ? `"station" = ${quoteString(ids[0]!)}` : `"station" =~ /^(?:${ids.join('|')})$/`
  return `${stations} AND ${carries(sensor)}`
}

function whereOf(p: Pushdown, sensor: SensorKind): string {
  return [scopeClause(p.scope, sensor), ...p.where, ...p.results.map((r) => `"${sensor}" ${r.op} ${r.v}`)].join(' AND ')
}

/** Observations in time order, then by sensor, then by station; newest first (desc) is the exact reverse. */
function mergeOrder(recs: ObservationRec[], desc: boolean): ObservationRec[] {
  const sign = desc ? -1 : 1
  return recs.sort((a, b) => {
    const c = a.ts - b.ts || (a.ds.kind < b.ds.kind ? -1 : a.ds.kind > b.ds.kind ? 1 : 0) || (a.ds.station.id < b.ds.station.id ? -1 : a.ds.station.id > b.ds.station.id ? 1 : 0)
    return sign * c
  })
}

function orderIsTime(orderby: OrderTerm[] | undefined): { pushable: boolean; desc: boolean } {
  // No $orderby: newest first (docs/OPEN-DATA.md), the order a reader of sensor data wants.
  if (!orderby || orderby.length === 0) return { pushable: true, desc: true }
  const [first] = orderby
  if (orderby.length === 1 && first!.expr.k === 'path' && first!.expr.segs.length === 1 && first!.expr.segs[0] === 'phenomenonTime') return { pushable: true, desc: first!.desc }
  return { pushable: false, desc: first?.expr.k === 'path' && first.expr.segs[0] === 'phenomenonTime' ? first.desc : true }
}

function run(query: InfluxQueryClient, sensors: readonly SensorKind[], statement: (sensor: SensorKind) => string): Promise<InfluxSeries[]> {
  // Long scope clauses (hundreds of stations) go by POST: no URL length limit in the way.
  const long = sensors.reduce((n, s) => n + statement(s).length, 0) > 4000
  return queryPerSensor(query, sensors, statement, long ? { method: 'POST' } : undefined)
}

function toRecs(series: InfluxSeries[], byKey: Map<string, DatastreamRec>): ObservationRec[] {
  const out: ObservationRec[] = []
  for (const s of series) {
    const col = (name: string) => s.columns.indexOf(name)
    const [iTime, iValue, iLate, iFlags, iDelay, iStation, iSensor] = ['time', 'value', 'late', 'flags', 'delay_s', 'station', 'sensor'].map(col)
    for (const row of s.values) {
      const station = (s.tags?.station ?? row[iStation!]) as string | undefined
      const sensor = (s.tags?.sensor ?? row[iSensor!]) as string | undefined
      const ds = byKey.get(`${station}:${sensor}`)
      const value = row[iValue!]
      if (!ds || typeof value !== 'number' || !Number.isFinite(value)) continue
      const ts = row[iTime!] as number
      const flags = typeof row[iFlags!] === 'string' && row[iFlags!] ? String(row[iFlags!]).split(',') : []
      const delay = row[iDelay!]
      out.push({ type: 'Observation', id: observationId(ds, ts), ds, ts, value, late: row[iLate!] === true, flags, delayS: typeof delay === 'number' ? delay : null })
    }
  }
  return out
}

function sortRecs(recs: ObservationRec[], orderby: OrderTerm[], ctx: EvalContext): void {
  const keyed = recs.map((r) => ({ r, keys: orderby.map((o) => evaluate(o.expr, r, ctx)[0] ?? null) }))
  keyed.sort((a, b) => {
    for (let i = 0; i < orderby.length; i++) {
      const c = compareValues(a.keys[i]!, b.keys[i]!)
      if (c !== 0) return orderby[i]!.desc ? -c : c
    }
    return 0
  })
  recs.splice(0, recs.length, ...keyed.map((k) => k.r))
}

const scanLimit = (detail: string) =>
  invalid('$filter', `${detail}: more than ${STA_LIMITS.maxScan} observations would have to be read here; add a phenomenonTime range (phenomenonTime ge … and phenomenonTime lt …) or filter on result`, {
    maxScan: STA_LIMITS.maxScan,
  })

/**
 * One page of observations per group, keyed by datastream id ('datastream'),
 * station id ('station', a FeatureOfInterest) or "" ('none'): one InfluxDB
 * query for all groups, LIMIT and OFFSET applying per group.
 */
export async function observationPages(
  query: InfluxQueryClient,
  scope: readonly DatastreamRec[],
  grouping: Grouping,
  w: ObsWindow,
  ctx: EvalContext,
  latest?: { cache: LatestCache; allSeries: () => readonly string[] },
): Promise<Map<string, ObsPage>> {
  const out = new Map<string, ObsPage>()
  const keyOf = (ds: DatastreamRec) => (grouping === 'datastream' ? ds.id : grouping === 'station' ? ds.station.id : '')
  for (const ds of scope) out.set(keyOf(ds), { items: [], more: false, ...(w.count ? { count: 0 } : {}) })
  const p = pushdown(w.filter, [...scope], ctx)
  if (p.scope.length === 0 || w.top === 0 && !w.count) return out
  const byKey = new Map(p.scope.map((ds) => [`${ds.station.id}:${ds.kind}`, ds]))
  const order = orderIsTime(w.orderby)
  const groups = grouping === 'none' ? 1 : new Set(p.scope.map(keyOf)).size

  // The latest value of every datastream (the shape dashboards poll): one last() per series for all
  // stations at once, from a snapshot shared by requests (latest-cache.ts).
  if (latest && grouping === 'datastream' && w.top === 1 && w.skip === 0 && !w.count && !p.residual && order.pushable && order.desc && p.where.length === 0) {
    const rows = await latest.cache.get(p.scope.map((ds) => `${ds.station.id}:${ds.kind}`), latest.allSeries)
    for (const ds of p.scope) {
      const r = rows.get(`${ds.station.id}:${ds.kind}`)
      if (r) out.set(ds.id, { items: [{ type: 'Observation', id: observationId(ds, r.ts), ds, ts: r.ts, value: r.value, late: r.late, flags: r.flags, delayS: r.delayS }], more: null })
    }
    return out
  }

  const sensors = sensorsOf(p.scope)
  const groupBy = grouping === 'none' ? '' : ' GROUP BY "station"'
  const tags = grouping === 'none' ? ', "station"' : ''
  const dir = order.desc ? 'DESC' : 'ASC'
  const select = (s: SensorKind, from = '') => `SELECT ${fieldsOf(s)}${tags} FROM "${READING_MEASUREMENT}" WHERE ${whereOf(p, s)}${from}${groupBy} ORDER BY time ${dir}`
  const groupOf = (r: ObservationRec) => keyOf(r.ds)
  /** Each sensor's first `limit` per group (from `from`, a time clause), merged in order, cut to the first `limit` per group. */
  const firstPerGroup = async (limit: number, from = ''): Promise<Map<string, ObservationRec[]>> => {
    const fetched = new Map<string, ObservationRec[]>()
    for (const r of mergeOrder(toRecs(await run(query, sensors, (s) => `${select(s, from)} LIMIT ${limit}`), byKey), order.desc)) {
      const list = fetched.get(groupOf(r))
      if (!list) fetched.set(groupOf(r), [r])
      else if (list.length < limit) list.push(r)
    }
    return fetched
  }

  if (!p.residual && order.pushable) {
    if (grouping !== 'none' && groups * (w.top + 1) > STA_LIMITS.maxExpandedObservations) {
      throw invalid('$expand', `would return up to ${groups * w.top} Observations; at most ${STA_LIMITS.maxExpandedObservations} per response: use a smaller $top inside the $expand or page the outer collection`, {
        maxExpandedObservations: STA_LIMITS.maxExpandedObservations,
      })
    }
    if (w.top > 0) {
      if (grouping === 'datastream') {
        // One series per datastream: LIMIT and OFFSET apply to it exactly.
        const series = await run(query, sensors, (s) => `${select(s)} LIMIT ${w.top + 1}${w.skip ? ` OFFSET ${w.skip}` : ''}`)
        for (const r of toRecs(series, byKey)) out.get(groupOf(r))!.items.push(r)
      } else if (w.skip + w.top + 1 <= STA_LIMITS.maxScan) {
        // Several sensors per group: each sensor's first skip+top+1, merged, then the page cut here.
        for (const [key, rows] of await firstPerGroup(w.skip + w.top + 1)) out.get(key)!.items = rows.slice(w.skip)
      } else if (groups === 1) {
        out.get([...out.keys()][0]!)!.items = await deepPage(query, sensors, p, order.desc, w.skip, w.top + 1, firstPerGroup)
      } else {
        throw scanLimit(`$skip=${w.skip} inside an $expand of several FeaturesOfInterest`)
      }
      for (const page of out.values()) {
        page.more = page.items.length > w.top
        page.items.length = Math.min(page.items.length, w.top)
      }
    }
    if (w.count) {
      const series = await run(query, sensors, (s) => `SELECT count("${s}") FROM "${READING_MEASUREMENT}" WHERE ${whereOf(p, s)}${groupBy}`)
      for (const s of series) {
        const key = grouping === 'none' ? '' : grouping === 'station' ? (s.tags?.station ?? '') : `${s.tags?.station}:${s.tags?.sensor}`
        const page = out.get(key)
        if (page) page.count = (page.count ?? 0) + Number(s.values[0]?.[1] ?? 0)
      }
    }
    return out
  }

  // Residual filter or an order InfluxDB cannot give: read a bounded window in time order, finish here.
  const perGroup = Math.floor(STA_LIMITS.maxScan / groups)
  if (perGroup < 1) throw scanLimit('too many groups to filter')
  const fetched = await firstPerGroup(perGroup + 1)
  for (const [key, page] of out) {
    const rows = fetched.get(key) ?? []
    const complete = rows.length <= perGroup
    const kept = (complete ? rows : rows.slice(0, perGroup)).filter((r) => !p.residual || matches(p.residual, r, ctx))
    if (!order.pushable) {
      // Sorting needs every match.
      if (!complete) throw scanLimit('$orderby on something other than phenomenonTime')
      sortRecs(kept, w.orderby!, ctx)
    }
    const need = w.skip + w.top + 1
    if (!complete && (kept.length < need || w.count)) throw scanLimit('this $filter')
    page.items = kept.slice(w.skip, w.skip + w.top)
    page.more = kept.length > w.skip + w.top
    if (w.count) page.count = kept.length
  }
  return out
}

/**
 * A page deep in one group ($skip past STA_LIMITS.maxScan, e.g. a crawler
 * paging /Observations): found by counting, not by reading what is skipped.
 * A binary search on time (about 40 count requests over a year of data)
 * finds the instant of the observation at position `skip`, summing each
 * sensor's count of what comes before it; the page is then read from that
 * instant, dropping the observations of the same instant ordered before it.
 */
async function deepPage(
  query: InfluxQueryClient,
  sensors: readonly SensorKind[],
  p: Pushdown,
  desc: boolean,
  skip: number,
  take: number,
  firstPerGroup: (limit: number, from: string) => Promise<Map<string, ObservationRec[]>>,
): Promise<ObservationRec[]> {
  const total = (series: InfluxSeries[]) => series.reduce((n, s) => n + Number(s.values[0]?.[1] ?? 0), 0)
  const countBefore = async (t: number) =>
    total(await run(query, sensors, (s) => `SELECT count("${s}") FROM "${READING_MEASUREMENT}" WHERE ${whereOf(p, s)} AND time ${desc ? '>' : '<'} ${t}ms`))
  const edge = async (fn: 'first' | 'last') =>
    (await run(query, sensors, (s) => `SELECT ${fn}("${s}") FROM "${READING_MEASUREMENT}" WHERE ${whereOf(p, s)}`)).map((s) => s.values[0]?.[0] as number)
  const firsts = await edge('first')
  if (firsts.length === 0) return []
  let lo = Math.min(...firsts)
  let hi = Math.max(...(await edge('last')))
  // Newest first: what comes before t falls as t rises; the page starts at the earliest t with at most `skip` before it. Oldest first mirrors it.
  while (lo < hi) {
    if (desc) {
      const mid = Math.floor((lo + hi) / 2)
      if ((await countBefore(mid)) <= skip) hi = mid
      else lo = mid + 1
    } else {
      const mid = Math.ceil((lo + hi) / 2)
      if ((await countBefore(mid)) <= skip) lo = mid
      else hi = mid - 1
    }
  }
  const within = skip - (await countBefore(lo))
  const [rows = []] = (await firstPerGroup(within + take, ` AND time ${desc ? '<=' : '>='} ${lo}ms`)).values()
  return rows.slice(within)
}

/** One observation by id (station:sensor:epoch-ms), if its datastream is public and the value is stored. */
export async function observationById(query: InfluxQueryClient, id: string, datastreams: ReadonlyMap<string, DatastreamRec>): Promise<ObservationRec | undefined> {
  const m = /^(.+):(\d{1,15})$/.exec(id)
  if (!m) return undefined
  const ds = datastreams.get(m[1]!)
  if (!ds) return undefined
  const ts = Number(m[2])
  const series = await run(query, [ds.kind], (s) => `SELECT ${fieldsOf(s)} FROM "${READING_MEASUREMENT}" WHERE ${scopeClause([ds], s)} AND time = ${ts}ms GROUP BY "station"`)
  return toRecs(series, new Map([[`${ds.station.id}:${ds.kind}`, ds]]))[0]
}

