import { invalid, notImplemented } from './errors.ts'
import { NAVS, PROPERTIES, TIME_PROPERTIES, type EntityType, type Rec } from './model.ts'
import type { CompareOp, Expr, Literal } from './parser.ts'

/**
 * Evaluates a $filter / $orderby AST against one entity, with the built-in
 * operators and functions of OGC 18-088 §9.3.3.5.2 (Tables 22 and 23) and
 * OData's rules for them: a comparison with null is false (ne: true), a
 * path through a to-many navigation matches when any related entity does.
 */

/** A date-time value: an instant and the offset it was written with (for year(), hour(), …). */
export class DateTime {
  constructor(
    readonly ms: number,
    readonly offsetMin = 0,
  ) {}
  /** The wall-clock fields in the value's own offset. */
  fields(): Date {
    return new Date(this.ms + this.offsetMin * 60_000)
  }
}

export type Value = number | string | boolean | null | DateTime | Record<string, unknown> | unknown[]

export interface EvalContext {
  now: number
  props(rec: Rec): Record<string, unknown>
  /** Entities reached through a navigation property (to-one: zero or one). */
  navigate(rec: Rec, nav: string): Rec[]
}

/** JSON properties a path may continue into (properties/zone, location/type, unitOfMeasurement/symbol…). */
const OBJECT_PROPERTIES = new Set(['properties', 'location', 'feature', 'unitOfMeasurement', 'observedArea', 'resultQuality', 'parameters'])

/**
 * Checks every path of an expression against the entity type before any data
 * is read, so a misspelt property is a 400 even on an empty collection.
 */
export function checkPaths(expr: Expr, type: EntityType, option: string): void {
  switch (expr.k) {
    case 'lit':
      return
    case 'path':
      checkPath(expr.segs, type, option)
      return
    case 'call':
      for (const a of expr.args) checkPaths(a, type, option)
      return
    case 'bin':
      checkPaths(expr.l, type, option)
      checkPaths(expr.r, type, option)
      return
    case 'not':
    case 'neg':
      checkPaths(expr.e, type, option)
  }
}

function checkPath(segs: readonly string[], type: EntityType, option: string): void {
  let t = type
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]!
    if (s === 'id' || s === '@iot.id') {
      if (i !== segs.length - 1) throw invalid(option, `${segs.join('/')}: nothing follows ${s}`)
      return
    }
    const nav = NAVS[t][s]
    if (nav) {
      // Observations live in InfluxDB: a filter that reaches them through a navigation would scan them per entity.
      if (nav.target === 'Observation') throw notImplemented(option, `${segs.join('/')}: filtering ${type} by their Observations`)
      if (i === segs.length - 1) throw invalid(option, `${segs.join('/')} ends on an entity, not a property`)
      t = nav.target
      continue
    }
    if (PROPERTIES[t].includes(s)) {
      if (i < segs.length - 1 && !OBJECT_PROPERTIES.has(s)) throw invalid(option, `${segs.join('/')}: ${s} has no sub-properties`)
      return
    }
    throw invalid(option, `${segs.join('/')}: ${t} has no property or navigation ${JSON.stringify(s)}`, { entityType: t })
  }
}

function literal(l: Literal): Value {
  switch (l.k) {
    case 'num':
    case 'str':
    case 'bool':
      return l.v
    case 'null':
      return null
    case 'dt':
      return new DateTime(l.ms, l.offsetMin)
    case 'date':
    case 'time':
      return l.v
  }
}

function asDateTime(v: Value): DateTime | null {
  if (v instanceof DateTime) return v
  if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}/.test(v)) {
    const ms = Date.parse(v.length === 10 ? `${v}T00:00:00Z` : v)
    if (Number.isFinite(ms)) {
      const m = /([+-])(\d\d):(\d\d)$/.exec(v)
      return new DateTime(ms, m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0)
    }
  }
  return null
}

/** Every candidate value of a path (more than one through a to-many navigation). */
function resolve(rec: Rec, segs: readonly string[], ctx: EvalContext): Value[] {
  let recs: Rec[] = [rec]
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]!
    if (s === 'id' || s === '@iot.id') return recs.map((r) => r.id)
    if (NAVS[recs[0]?.type ?? rec.type][s]) {
      recs = recs.flatMap((r) => ctx.navigate(r, s))
      if (recs.length === 0) return []
      continue
    }
    return recs.map((r) => {
      let v: unknown = ctx.props(r)[s]
      if (TIME_PROPERTIES.has(s) && typeof v === 'string') return asDateTime(v)
      for (const sub of segs.slice(i + 1)) {
        v = v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[sub] : undefined
      }
      return v === undefined ? null : (v as Value)
    })
  }
  return []
}

function compare(op: CompareOp, a: Value, b: Value): boolean {
  if (a === null || b === null) {
    const same = a === b
    return op === 'eq' ? same : op === 'ne' ? !same : false
  }
  let x: number | string | boolean
  let y: number | string | boolean
  const da = asDateTime(a)
  const db = asDateTime(b)
  if ((a instanceof DateTime || b instanceof DateTime) && da && db) {
    x = da.ms
    y = db.ms
  } else if (typeof a === typeof b && (typeof a === 'number' || typeof a === 'string' || typeof a === 'boolean')) {
    x = a as number | string | boolean
    y = b as number | string | boolean
  } else {
    // Different types never compare equal (OData has no implicit casts between them).
    return op === 'ne'
  }
  switch (op) {
    case 'eq':
      return x === y
    case 'ne':
      return x !== y
    case 'gt':
      return x > y
    case 'ge':
      return x >= y
    case 'lt':
      return x < y
    case 'le':
      return x <= y
  }
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0')
const MIN_DATETIME = Date.parse('0001-01-01T00:00:00Z')
const MAX_DATETIME = Date.parse('9999-12-31T23:59:59.999Z')

function str(v: Value): string | null {
  return typeof v === 'string' ? v : null
}
function num(v: Value): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null
}

/** One function of Table 23 on single values; null when an argument is null or of the wrong type. */
function call(name: string, a: Value[], now: number): Value {
  const [p0 = null, p1 = null, p2 = null] = a
  switch (name) {
    case 'substringof': {
      const s0 = str(p0)
      const s1 = str(p1)
      return s0 === null || s1 === null ? null : s1.includes(s0)
    }
    case 'endswith':
    case 'startswith': {
      const s0 = str(p0)
      const s1 = str(p1)
      if (s0 === null || s1 === null) return null
      return name === 'endswith' ? s0.endsWith(s1) : s0.startsWith(s1)
    }
    case 'length':
      return str(p0)?.length ?? null
    case 'indexof': {
      const s0 = str(p0)
      const s1 = str(p1)
      return s0 === null || s1 === null ? null : s0.indexOf(s1)
    }
    case 'substring': {
      const s0 = str(p0)
      const start = num(p1)
      if (s0 === null || start === null) return null
      const len = a.length > 2 ? num(p2) : undefined
      if (len === null) return null
      return len === undefined ? s0.slice(Math.max(0, start)) : s0.substr(Math.max(0, start), Math.max(0, len))
    }
    case 'tolower':
      return str(p0)?.toLowerCase() ?? null
    case 'toupper':
      return str(p0)?.toUpperCase() ?? null
    case 'trim':
      return str(p0)?.trim() ?? null
    case 'concat': {
      const s0 = str(p0)
      const s1 = str(p1)
      return s0 === null || s1 === null ? null : s0 + s1
    }
    case 'year':
    case 'month':
    case 'day':
    case 'hour':
    case 'minute':
    case 'second':
    case 'fractionalseconds':
    case 'date':
    case 'time':
    case 'totaloffsetminutes': {
      const dt = asDateTime(p0)
      if (!dt) return null
      const f = dt.fields()
      switch (name) {
        case 'year':
          return f.getUTCFullYear()
        case 'month':
          return f.getUTCMonth() + 1
        case 'day':
          return f.getUTCDate()
        case 'hour':
          return f.getUTCHours()
        case 'minute':
          return f.getUTCMinutes()
        case 'second':
          return f.getUTCSeconds()
        case 'fractionalseconds':
          return f.getUTCMilliseconds() / 1000
        case 'date':
          return `${pad(f.getUTCFullYear(), 4)}-${pad(f.getUTCMonth() + 1)}-${pad(f.getUTCDate())}`
        case 'time': {
          const ms = f.getUTCMilliseconds()
          return `${pad(f.getUTCHours())}:${pad(f.getUTCMinutes())}:${pad(f.getUTCSeconds())}${ms ? `.${pad(ms, 3)}` : ''}`
        }
        default:
          return dt.offsetMin
      }
    }
    case 'now':
      return new DateTime(now)
    case 'mindatetime':
      return new DateTime(MIN_DATETIME)
    case 'maxdatetime':
      return new DateTime(MAX_DATETIME)
    case 'round': {
      const n = num(p0)
      // OData rounds half away from zero; Math.round rounds half up (-2.5 → -2).
      return n === null ? null : Math.sign(n) * Math.round(Math.abs(n))
    }
    case 'floor':
      return num(p0) === null ? null : Math.floor(p0 as number)
    case 'ceiling':
      return num(p0) === null ? null : Math.ceil(p0 as number)
  }
  return null
}

function arith(op: string, a: Value, b: Value): Value {
  const x = num(a)
  const y = num(b)
  if (x === null || y === null) return null
  switch (op) {
    case 'add':
      return x + y
    case 'sub':
      return x - y
    case 'mul':
      return x * y
    case 'div':
      return y === 0 ? null : x / y
    case 'mod':
      return y === 0 ? null : x % y
  }
  return null
}

/** Cartesian product of candidate lists, bounded: paths through to-many navigations are small here (a station's ≤ 6 sensors). */
function product(lists: Value[][]): Value[][] {
  let out: Value[][] = [[]]
  for (const l of lists) {
    const next: Value[][] = []
    for (const prefix of out) for (const v of l) next.push([...prefix, v])
    out = next
    if (out.length > 10_000) throw invalid('$filter', 'expression fans out over too many related entities')
  }
  return out
}

/** All candidate values of an expression for one entity. */
export function evaluate(expr: Expr, rec: Rec, ctx: EvalContext): Value[] {
  switch (expr.k) {
    case 'lit':
      return [literal(expr.lit)]
    case 'path':
      return resolve(rec, expr.segs, ctx)
    case 'neg':
      return evaluate(expr.e, rec, ctx).map((v) => (num(v) === null ? null : -(v as number)))
    case 'not':
      return [!truthy(evaluate(expr.e, rec, ctx))]
    case 'call': {
      const args = expr.args.map((a) => evaluate(a, rec, ctx))
      return product(args).map((vs) => call(expr.name, vs, ctx.now))
    }
    case 'bin': {
      if (expr.op === 'and') return [truthy(evaluate(expr.l, rec, ctx)) && truthy(evaluate(expr.r, rec, ctx))]
      if (expr.op === 'or') return [truthy(evaluate(expr.l, rec, ctx)) || truthy(evaluate(expr.r, rec, ctx))]
      const l = evaluate(expr.l, rec, ctx)
      const r = evaluate(expr.r, rec, ctx)
      const op = expr.op
      if (op === 'eq' || op === 'ne' || op === 'gt' || op === 'ge' || op === 'lt' || op === 'le') {
        // A path through a to-many navigation matches when any related entity does.
        return [l.some((a) => r.some((b) => compare(op, a, b)))]
      }
      return product([l, r]).map(([a, b]) => arith(op, a!, b!))
    }
  }
}

export function truthy(vs: Value[]): boolean {
  return vs.some((v) => v === true)
}

export function matches(filter: Expr, rec: Rec, ctx: EvalContext): boolean {
  return truthy(evaluate(filter, rec, ctx))
}

const RANK = (v: Value): number => (v === null ? 0 : typeof v === 'boolean' ? 1 : typeof v === 'number' ? 2 : v instanceof DateTime ? 3 : typeof v === 'string' ? 4 : 5)

/** $orderby comparison: nulls first ascending (OData 4.0 §11.2.5.2), then by value. */
export function compareValues(a: Value, b: Value): number {
  const ra = RANK(a)
  const rb = RANK(b)
  if (ra !== rb) return ra - rb
  if (a instanceof DateTime && b instanceof DateTime) return a.ms - b.ms
  if (typeof a === 'number' && typeof b === 'number') return a - b
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b)
  return 0
}
