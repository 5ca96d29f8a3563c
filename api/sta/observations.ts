import { quoteString, type InfluxQueryClient, type InfluxSeries } from '../../influx/query.ts'
import { invalid } from './errors.ts'
import { compareValues, evaluate, matches, type EvalContext } from './evaluate.ts'
import { STA_LIMITS } from './limits.ts'
import type { LatestCache } from './latest-cache.ts'
import type { DatastreamRec, ObservationRec } from './model.ts'
import { observationId } from './model.ts'
import type { CompareOp, Expr, OrderTerm } from './parser.ts'

/**
 * Observations come from InfluxDB (measurement `reading`, docs/DATA.md),
 * never from memory. Every query is bounded:
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
 * Only enabled stations' datastreams are ever in scope, and quarantined
 * values are never in `reading`.
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
  where: string[]
  scope: DatastreamRec[]
  residual: Expr | undefined
}

const FLIP: Record<CompareOp, CompareOp> = { eq: 'eq', ne: 'ne', gt: 'lt', ge: 'le', lt: 'gt', le: 'ge' }
const INFLUX_OP: Record<CompareOp, string> = { eq: '=', ne: '!=', gt: '>', ge: '>=', lt: '<', le: '<=' }
const FIELDS = `"value", "late", "flags", "delay_s"`

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
      where.push(`"value" ${INFLUX_OP[result.op]} ${result.lit.v}`)
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
  return { where, scope: inScope, residual }
}

/** Restricts a query to exactly these series: ("sensor" = 'ph' AND "station" =~ /^(?:a|b)$/) OR … */
export function scopeClause(scope: readonly DatastreamRec[]): string {
  if (scope.length === 1) return `"station" = ${quoteString(scope[0]!.station.id)} AND "sensor" = ${quoteString(scope[0]!.kind)}`
  const byKind = new Map<string, string[]>()
  for (const ds of scope) byKind.set(ds.kind, [...(byKind.get(ds.kind) ?? []), ds.station.id])
  const parts = [...byKind].map(([kind, ids]) => {
    // Station ids match ^[A-Za-z0-9_-]{1,64}$ (devices/registry.ts): nothing in them is special in a regex but "-" outside a class, which is literal.
    const stations = ids.length === 1 ? `"station" = ${quoteString(ids[0]!)}` : `"station" =~ /^(?:${ids.join('|')})$/`
    return `("sensor" = ${quoteString(kind)} AND ${stations})`
  })
  return parts.length === 1 ? parts[0]! : `(${parts.join(' OR ')})`
}

function orderIsTime(orderby: OrderTerm[] | undefined): { pushable: boolean; desc: boolean } {
  // No $orderby: newest first (docs/OPEN-DATA.md), the order a reader of sensor data wants.
  if (!orderby || orderby.length === 0) return { pushable: true, desc: true }
  const [first] = orderby
  if (orderby.length === 1 && first!.expr.k === 'path' && first!.expr.segs.length === 1 && first!.expr.segs[0] === 'phenomenonTime') return { pushable: true, desc: first!.desc }
  return { pushable: false, desc: first?.expr.k === 'path' && first.expr.segs[0] === 'phenomenonTime' ? first.desc : true }
}

async function run(query: InfluxQueryClient, q: string): Promise<InfluxSeries[]> {
  // Long scope clauses (hundreds of stations) go by POST: no URL length limit in the way.
  const [series = []] = await query.query(q, q.length > 4000 ? { method: 'POST' } : undefined)
  return series
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

  const where = [scopeClause(p.scope), ...p.where].join(' AND ')
  const groupBy = grouping === 'datastream' ? ' GROUP BY "station", "sensor"' : grouping === 'station' ? ' GROUP BY "station"' : ''
  const tags = grouping === 'none' ? ', "station", "sensor"' : grouping === 'station' ? ', "sensor"' : ''
  const dir = order.desc ? 'DESC' : 'ASC'
  const groupOf = (r: ObservationRec) => keyOf(r.ds)

  if (!p.residual && order.pushable) {
    if (grouping !== 'none' && groups * (w.top + 1) > STA_LIMITS.maxExpandedObservations) {
      throw invalid('$expand', `would return up to ${groups * w.top} Observations; at most ${STA_LIMITS.maxExpandedObservations} per response: use a smaller $top inside the $expand or page the outer collection`, {
        maxExpandedObservations: STA_LIMITS.maxExpandedObservations,
      })
    }
    if (w.top > 0) {
      const series = await run(query, `SELECT ${FIELDS}${tags} FROM "reading" WHERE ${where}${groupBy} ORDER BY time ${dir} LIMIT ${w.top + 1}${w.skip ? ` OFFSET ${w.skip}` : ''}`)
      for (const r of toRecs(series, byKey)) out.get(groupOf(r))!.items.push(r)
      for (const page of out.values()) {
        page.more = page.items.length > w.top
        page.items.length = Math.min(page.items.length, w.top)
      }
    }
    if (w.count) {
      const series = await run(query, `SELECT count("value") FROM "reading" WHERE ${where}${grouping === 'none' ? '' : groupBy}`)
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
  const series = await run(query, `SELECT ${FIELDS}${tags} FROM "reading" WHERE ${where}${groupBy} ORDER BY time ${dir} LIMIT ${perGroup + 1}`)
  const fetched = new Map<string, ObservationRec[]>()
  for (const r of toRecs(series, byKey)) {
    const list = fetched.get(groupOf(r))
    if (list) list.push(r)
    else fetched.set(groupOf(r), [r])
  }
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

/** One observation by id (station:sensor:epoch-ms), if its datastream is public and the value is stored. */
export async function observationById(query: InfluxQueryClient, id: string, datastreams: ReadonlyMap<string, DatastreamRec>): Promise<ObservationRec | undefined> {
  const m = /^(.+):(\d{1,15})$/.exec(id)
  if (!m) return undefined
  const ds = datastreams.get(m[1]!)
  if (!ds) return undefined
  const ts = Number(m[2])
  const series = await run(query, `SELECT ${FIELDS} FROM "reading" WHERE ${scopeClause([ds])} AND time = ${ts}ms GROUP BY "station", "sensor"`)
  return toRecs(series, new Map([[`${ds.station.id}:${ds.kind}`, ds]]))[0]
}

