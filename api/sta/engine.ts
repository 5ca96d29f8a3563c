import type { InfluxQueryClient } from '../../influx/query.ts'
import { invalid, notFound } from './errors.ts'
import { checkPaths, compareValues, evaluate, matches } from './evaluate.ts'
import type { Graph } from './graph.ts'
import type { LatestCache } from './latest-cache.ts'
import { STA_LIMITS } from './limits.ts'
import { ENTITY_SETS, NAVS, PROPERTIES, SET_NAME, type DatastreamRec, type EntityType, type Rec } from './model.ts'
import { observationById, observationPages, type Grouping, type ObsPage } from './observations.ts'
import type { ExpandItem, QueryOptions } from './parser.ts'

/**
 * Answers one SensorThings GET: resolves the resource path (OGC 18-088 §9.2),
 * then applies the query options in the order of req/request-data/order
 * (§9.3.2: $filter, $count, $orderby, $skip, $top, then $expand and $select)
 * and writes the control information of §9.2.2 (@iot.id, @iot.selfLink,
 * navigationLinks, @iot.count, @iot.nextLink).
 */
export interface Engine {
  graph: Graph
  query: InfluxQueryClient
  /** Absolute service root, e.g. http://host/sta/v1.1 */
  root: string
  /** Latest reading of every series, shared across requests (latest-cache.ts). */
  latest: LatestCache
}

/** What a path resolves to. */
type Target =
  | { kind: 'collection'; type: EntityType; items: Rec[]; url: string }
  | { kind: 'observations'; scope: DatastreamRec[]; grouping: Grouping; url: string }
  | { kind: 'entity'; rec: Rec }
  | { kind: 'none' }

export type Answer =
  | { kind: 'json'; body: unknown }
  | { kind: 'text'; body: string; type: string }
  | { kind: 'empty' }

function quoteKey(id: string): string {
  return `'${id.replace(/'/g, "''")}'`
}

export function selfLink(e: Engine, rec: Rec): string {
  return `${e.root}/${SET_NAME[rec.type]}(${quoteKey(rec.id)})`
}

function typeOfRec(rec: Rec): EntityType {
  return rec.type
}

/** A key in parentheses: 'string' (quotes doubled inside) or digits, both ids as strings. */
function parseKey(raw: string, seg: string): string {
  if (/^\d{1,20}$/.test(raw)) return raw
  const m = /^'((?:[^']|'')*)'$/.exec(raw)
  if (!m) throw invalid('path', `${seg}: the key must be a quoted string ('cm-od-01') or an integer`)
  return m[1]!.replace(/''/g, "'")
}

async function lookup(e: Engine, target: Target, id: string): Promise<Rec | undefined> {
  if (target.kind === 'collection') return target.items.find((r) => r.id === id)
  if (target.kind === 'observations') {
    const scope = new Map(target.scope.map((d) => [d.id, d]))
    return observationById(e.query, id, scope)
  }
  return undefined
}

function navigateFrom(e: Engine, rec: Rec, nav: string, url: string): Target {
  const n = NAVS[typeOfRec(rec)][nav]!
  if (n.target === 'Observation') {
    return { kind: 'observations', scope: e.graph.observationScope(rec), grouping: 'none', url }
  }
  const items = e.graph.navigate(rec, nav)
  if (n.many) return { kind: 'collection', type: n.target, items, url }
  return items[0] ? { kind: 'entity', rec: items[0] } : { kind: 'none' }
}

/** Resolves the path segments after /sta/v1.1 and answers with the options. */
export async function answer(e: Engine, segments: string[], opts: QueryOptions, pairs: Array<[string, string]>): Promise<Answer> {
  if (segments.length > STA_LIMITS.maxPathSegments) throw invalid('path', `at most ${STA_LIMITS.maxPathSegments} segments`)
  const path = `/${segments.join('/')}`
  let target: Target = { kind: 'none' }
  let url = e.root
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!
    const m = /^([A-Za-z@$][A-Za-z0-9_.@$]*)(?:\((.*)\))?$/.exec(seg)
    if (!m) throw notFound(path)
    const [, name, rawKey] = m as unknown as [string, string, string | undefined]
    const last = i === segments.length - 1
    if (i === 0) {
      const type = ENTITY_SETS[name]
      if (!type) throw notFound(path)
      url = `${e.root}/${name}`
      target = type === 'Observation' ? { kind: 'observations', scope: [...e.graph.datastreams.values()], grouping: 'none', url } : { kind: 'collection', type, items: e.graph.all(type), url }
    } else if (name === '$ref') {
      if (!last || rawKey !== undefined) throw notFound(path)
      return refAnswer(e, target, opts, pairs)
    } else if (target.kind === 'entity') {
      const type = typeOfRec(target.rec)
      if (NAVS[type][name]) {
        url = `${selfLink(e, target.rec)}/${name}`
        target = navigateFrom(e, target.rec, name, url)
        if (target.kind === 'none') throw notFound(path)
        if (rawKey !== undefined && target.kind === 'entity') throw notFound(path)
      } else if (PROPERTIES[type].includes(name) && rawKey === undefined) {
        return propertyAnswer(e, target.rec, name, segments.slice(i + 1), path)
      } else {
        throw notFound(path)
      }
    } else {
      throw notFound(path)
    }
    if (rawKey !== undefined) {
      if (target.kind !== 'collection' && target.kind !== 'observations') throw notFound(path)
      const rec = await lookup(e, target, parseKey(rawKey, seg))
      if (!rec) throw notFound(path)
      target = { kind: 'entity', rec }
    }
  }
  if (target.kind === 'none') {
    return { kind: 'json', body: serviceDocument(e) }
  }
  if (target.kind === 'entity') {
    checkOptions(typeOfRec(target.rec), { select: opts.select, expand: opts.expand })
    const json = render(e, target.rec, opts)
    await expandInto(e, typeOfRec(target.rec), [{ rec: target.rec, json }], opts.expand ?? [], 1)
    return { kind: 'json', body: json }
  }
  return { kind: 'json', body: await collection(e, target, opts, pairs, true) }
}

/** The landing page of the service (§9.2.1): entity sets and the conformance classes served. */
export function serviceDocument(e: Engine) {
  const req = (r: string) => `http://www.opengis.net/spec/iot_sensing/1.1/req/${r}`
  return {
    value: Object.keys(ENTITY_SETS).map((name) => ({ name, url: `${e.root}/${name}` })),
    serverSettings: {
      conformance: [req('datamodel'), req('resource-path/resource-path-to-entities'), req('request-data')],
    },
  }
}

function propertyAnswer(e: Engine, rec: Rec, name: string, rest: string[], path: string): Answer {
  const value = e.graph.props(rec)[name] ?? null
  if (rest.length === 0) return { kind: 'json', body: { [name]: value } }
  if (rest.length === 1 && rest[0] === '$value') {
    // §9.2.4: the raw value; objects (location, unitOfMeasurement…) as JSON.
    if (value === null) return { kind: 'empty' }
    if (typeof value === 'object') return { kind: 'text', body: JSON.stringify(value), type: 'application/json; charset=utf-8' }
    return { kind: 'text', body: String(value), type: 'text/plain; charset=utf-8' }
  }
  throw notFound(path)
}

async function refAnswer(e: Engine, target: Target, opts: QueryOptions, pairs: Array<[string, string]>): Promise<Answer> {
  if (target.kind === 'entity') return { kind: 'json', body: { '@iot.selfLink': selfLink(e, target.rec) } }
  if (target.kind === 'none') throw notFound('$ref')
  const refOpts: QueryOptions = { ...opts, select: undefined, expand: undefined }
  const body = await collection(e, target, refOpts, pairs, true)
  body.value = (body.value as Array<Record<string, unknown>>).map((v) => ({ '@iot.selfLink': v['@iot.selfLink'] }))
  return { kind: 'json', body }
}

function pageSize(top: number | undefined, topLevel: boolean): number {
  return Math.min(top ?? (topLevel ? STA_LIMITS.defaultTop : STA_LIMITS.defaultExpandTop), STA_LIMITS.maxTop)
}

/** The link to the next page: same options, $skip moved on, $top what is left of the asked $top. */
function nextLink(url: string, pairs: Array<[string, string]>, skip: number, size: number, top: number | undefined): string {
  const kept = pairs.filter(([n]) => n !== '$skip' && n !== '$top')
  const nextTop = top === undefined ? undefined : top > size ? top - size : top
  const q = [...kept, ...(nextTop !== undefined ? [['$top', String(nextTop)] as [string, string]] : []), ['$skip', String(skip + size)] as [string, string]]
  return `${url}?${q.map(([n, v]) => `${encodeQuery(n)}=${encodeQuery(v)}`).join('&')}`
}

/** Percent-encodes a query value but keeps the characters OData queries are read by ($, quotes, parentheses…) as written. */
function encodeQuery(s: string): string {
  return encodeURIComponent(s).replace(/%(24|27|28|29|2C|3B|2F|3A|40)/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)))
}

function typeOfTarget(t: Target): EntityType {
  return t.kind === 'collection' ? t.type : 'Observation'
}

function checkOptions(type: EntityType, opts: QueryOptions): void {
  if (opts.filter) checkPaths(opts.filter, type, '$filter')
  for (const o of opts.orderby ?? []) checkPaths(o.expr, type, '$orderby')
  for (const s of opts.select ?? []) {
    if (s !== 'id' && s !== '@iot.id' && s !== '@iot.selfLink' && !PROPERTIES[type].includes(s) && !NAVS[type][s]) {
      throw invalid('$select', `${type} has no property or navigation ${JSON.stringify(s)}`, { entityType: type })
    }
  }
  for (const x of opts.expand ?? []) {
    const nav = NAVS[type][x.nav]
    if (!nav) throw invalid('$expand', `${type} has no navigation property ${JSON.stringify(x.nav)}`, { entityType: type })
    checkOptions(nav.target, x.options)
  }
}

/** $filter, $count, $orderby, $skip, $top on in-memory entities (§9.3.2 order). */
function applyInMemory(e: Engine, items: Rec[], opts: QueryOptions, size: number): { page: Rec[]; count: number; more: boolean } {
  const filtered = opts.filter ? items.filter((r) => matches(opts.filter!, r, e.graph)) : items
  const sorted = [...filtered]
  if (opts.orderby?.length) {
    const keyed = sorted.map((r) => ({ r, keys: opts.orderby!.map((o) => evaluate(o.expr, r, e.graph)[0] ?? null) }))
    keyed.sort((a, b) => {
      for (let i = 0; i < opts.orderby!.length; i++) {
        const c = compareValues(a.keys[i]!, b.keys[i]!)
        if (c !== 0) return opts.orderby![i]!.desc ? -c : c
      }
      // Ties keep the id order, so pages never overlap.
      return a.r.id < b.r.id ? -1 : a.r.id > b.r.id ? 1 : 0
    })
    sorted.splice(0, sorted.length, ...keyed.map((k) => k.r))
  }
  const skip = opts.skip ?? 0
  return { page: sorted.slice(skip, skip + size), count: filtered.length, more: sorted.length > skip + size }
}

async function collection(e: Engine, target: Target, opts: QueryOptions, pairs: Array<[string, string]>, topLevel: boolean): Promise<Record<string, unknown>> {
  if (target.kind !== 'collection' && target.kind !== 'observations') throw notFound('collection')
  const type = typeOfTarget(target)
  checkOptions(type, opts)
  const size = pageSize(opts.top, topLevel)
  const skip = opts.skip ?? 0
  let page: Rec[]
  let count: number | undefined
  let more: boolean | null
  if (target.kind === 'collection') {
    const r = applyInMemory(e, target.items, opts, size)
    page = r.page
    count = r.count
    more = r.more
  } else {
    const pages = await observationPages(e.query, target.scope, 'none', { filter: opts.filter, orderby: opts.orderby, top: size, skip, count: opts.count === true }, e.graph)
    const p = pages.get('') ?? { items: [], more: false, count: 0 }
    page = p.items
    count = p.count
    more = p.more
  }
  const out: Record<string, unknown> = {}
  if (opts.count) out['@iot.count'] = count ?? 0
  if (more) out['@iot.nextLink'] = nextLink(target.url, pairs, skip, size, opts.top)
  const rows = page.map((rec) => ({ rec, json: render(e, rec, opts) }))
  await expandInto(e, type, rows, opts.expand ?? [], 1)
  out.value = rows.map((r) => r.json)
  return out
}

/** The entity's JSON: control information, the selected properties, navigation links (§9.2.2, §9.3.3.2). */
function render(e: Engine, rec: Rec, opts: QueryOptions): Record<string, unknown> {
  const sel = opts.select ? new Set(opts.select) : null
  const type = typeOfRec(rec)
  const out: Record<string, unknown> = {}
  const self = selfLink(e, rec)
  if (!sel || sel.has('id') || sel.has('@iot.id')) out['@iot.id'] = rec.id
  if (!sel || sel.has('@iot.selfLink')) out['@iot.selfLink'] = self
  const props = e.graph.props(rec)
  for (const p of PROPERTIES[type]) if ((!sel || sel.has(p)) && p in props) out[p] = props[p]
  for (const nav of Object.keys(NAVS[type])) if (!sel || sel.has(nav)) out[`${nav}@iot.navigationLink`] = `${self}/${nav}`
  return out
}

interface Row {
  rec: Rec
  json: Record<string, unknown>
}

/** Fills expanded navigation properties for a whole page at once: one InfluxDB query per expanded Observations level. */
async function expandInto(e: Engine, type: EntityType, rows: Row[], expand: ExpandItem[], depth: number): Promise<void> {
  if (depth > STA_LIMITS.maxExpandDepth + 1) throw invalid('$expand', `nests deeper than ${STA_LIMITS.maxExpandDepth}`)
  for (const item of expand) {
    const nav = NAVS[type][item.nav]
    if (!nav) throw invalid('$expand', `${type} has no navigation property ${JSON.stringify(item.nav)}`, { entityType: type })
    const o = item.options
    checkOptions(nav.target, { ...o, expand: undefined })
    const size = pageSize(o.top, false)
    const skip = o.skip ?? 0
    const children: Row[] = []
    const linkOf = (row: Row) => `${selfLink(e, row.rec)}/${item.nav}`
    const pairsOf = o.raw ?? []
    if (nav.target === 'Observation') {
      const grouping: Grouping = type === 'Datastream' ? 'datastream' : 'station'
      const scope = [...new Map(rows.flatMap((r) => e.graph.observationScope(r.rec)).map((d) => [d.id, d])).values()]
      const pages = await observationPages(e.query, scope, grouping, { filter: o.filter, orderby: o.orderby, top: size, skip, count: o.count === true }, e.graph, { cache: e.latest, allSeries: () => e.graph.seriesKeys() })
      for (const row of rows) {
        const page: ObsPage = pages.get(row.rec.id) ?? { items: [], more: false, count: 0 }
        if (o.count) row.json[`${item.nav}@iot.count`] = page.count ?? 0
        if (page.more) row.json[`${item.nav}@iot.nextLink`] = nextLink(linkOf(row), pairsOf, skip, size, o.top)
        const list = page.items.map((rec) => ({ rec, json: render(e, rec, o) }))
        row.json[item.nav] = list.map((c) => c.json)
        children.push(...list)
      }
    } else {
      for (const row of rows) {
        const related = e.graph.navigate(row.rec, item.nav)
        if (nav.many) {
          const r = applyInMemory(e, related, o, size)
          if (o.count) row.json[`${item.nav}@iot.count`] = r.count
          if (r.more) row.json[`${item.nav}@iot.nextLink`] = nextLink(linkOf(row), pairsOf, skip, size, o.top)
          const list = r.page.map((rec) => ({ rec, json: render(e, rec, o) }))
          row.json[item.nav] = list.map((c) => c.json)
          children.push(...list)
        } else if (related[0]) {
          const child = { rec: related[0], json: render(e, related[0], o) }
          row.json[item.nav] = child.json
          children.push(child)
        }
      }
    }
    if (o.expand?.length) await expandInto(e, nav.target, children, o.expand, depth + 1)
  }
}
