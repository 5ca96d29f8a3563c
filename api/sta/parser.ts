import { invalid, notImplemented } from './errors.ts'
import { tokenize, type Token } from './lexer.ts'
import { STA_LIMITS } from './limits.ts'

/**
 * Recursive-descent parser for the SensorThings system query options
 * (OGC 18-088 §9.3.3: $expand, $select, $orderby, $top, $skip, $count,
 * $filter) into an AST. Precedence follows OData 4.0 URL conventions §5.1.1
 * (lowest first): or, and, not, comparison, add/sub, mul/div/mod, unary minus.
 * Depth and length are bounded (limits.ts): a hostile query costs a 400, not
 * a stack overflow.
 */

export type CompareOp = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le'
export type ArithOp = 'add' | 'sub' | 'mul' | 'div' | 'mod'
export type BinOp = CompareOp | ArithOp | 'and' | 'or'

export type Literal =
  | { k: 'num'; v: number }
  | { k: 'str'; v: string }
  | { k: 'bool'; v: boolean }
  | { k: 'null' }
  | { k: 'dt'; ms: number; offsetMin: number }
  | { k: 'date'; v: string }
  | { k: 'time'; v: string }

export type Expr =
  | { k: 'lit'; lit: Literal }
  | { k: 'path'; segs: string[] }
  | { k: 'call'; name: string; args: Expr[] }
  | { k: 'bin'; op: BinOp; l: Expr; r: Expr }
  | { k: 'not'; e: Expr }
  | { k: 'neg'; e: Expr }

export interface OrderTerm {
  expr: Expr
  desc: boolean
}

export interface ExpandItem {
  /** The navigation property, e.g. Datastreams. A path form (Datastreams/Observations) is nested. */
  nav: string
  options: QueryOptions
}

export interface QueryOptions {
  filter?: Expr
  orderby?: OrderTerm[]
  select?: string[]
  expand?: ExpandItem[]
  top?: number
  skip?: number
  count?: boolean
  /** The $-options as written (decoded), to build @iot.nextLink of an expanded collection. */
  raw?: Array<[string, string]>
}

const COMPARE: readonly string[] = ['eq', 'ne', 'gt', 'ge', 'lt', 'le']

/** Functions of OGC 18-088 Table 23 with their arity [min, max]. */
export const FUNCTIONS: Readonly<Record<string, readonly [number, number]>> = Object.freeze({
  substringof: [2, 2],
  endswith: [2, 2],
  startswith: [2, 2],
  length: [1, 1],
  indexof: [2, 2],
  substring: [2, 3],
  tolower: [1, 1],
  toupper: [1, 1],
  trim: [1, 1],
  concat: [2, 2],
  year: [1, 1],
  month: [1, 1],
  day: [1, 1],
  hour: [1, 1],
  minute: [1, 1],
  second: [1, 1],
  fractionalseconds: [1, 1],
  date: [1, 1],
  time: [1, 1],
  totaloffsetminutes: [1, 1],
  now: [0, 0],
  mindatetime: [0, 0],
  maxdatetime: [0, 0],
  round: [1, 1],
  floor: [1, 1],
  ceiling: [1, 1],
})

/** Geospatial functions of Table 23: recognised, answered 501 (stations are points; see docs/OPEN-DATA.md). */
const GEO_FUNCTIONS = new Set(['geo.distance', 'geo.length', 'geo.intersects', 'st_equals', 'st_disjoint', 'st_touches', 'st_within', 'st_overlaps', 'st_crosses', 'st_intersects', 'st_contains', 'st_relate'])

function parseDateTime(text: string, option: string): Literal {
  const ms = Date.parse(text)
  if (!Number.isFinite(ms)) throw invalid(option, `${text} is not a valid date-time`)
  const m = /([+-])(\d\d):(\d\d)$/.exec(text)
  const offsetMin = m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0
  return { k: 'dt', ms, offsetMin }
}

class ExprParser {
  private i = 0
  private depth = 0
  constructor(
    private readonly toks: Token[],
    private readonly option: string,
  ) {}

  private peek(): Token {
    return this.toks[this.i]!
  }
  private next(): Token {
    return this.toks[this.i++]!
  }
  private isWord(w: string): boolean {
    const t = this.peek()
    return t.t === 'ident' && t.v === w
  }
  private isPunct(p: string): boolean {
    const t = this.peek()
    return t.t === 'punct' && t.v === p
  }
  private fail(message: string, at = this.peek().at): never {
    throw invalid(this.option, `${message} at position ${at}`, { position: at })
  }
  private expect(p: string): void {
    if (!this.isPunct(p)) this.fail(`expected "${p}"`)
    this.i++
  }
  private enter(): void {
    if (++this.depth > STA_LIMITS.maxExpressionDepth) this.fail(`expression nests deeper than ${STA_LIMITS.maxExpressionDepth}`)
  }

  atEnd(): boolean {
    return this.peek().t === 'end'
  }

  expression(): Expr {
    this.enter()
    const e = this.or()
    this.depth--
    return e
  }

  private or(): Expr {
    let l = this.and()
    while (this.isWord('or')) {
      this.i++
      l = { k: 'bin', op: 'or', l, r: this.and() }
    }
    return l
  }
  private and(): Expr {
    let l = this.not()
    while (this.isWord('and')) {
      this.i++
      l = { k: 'bin', op: 'and', l, r: this.not() }
    }
    return l
  }
  private not(): Expr {
    if (this.isWord('not')) {
      this.i++
      this.enter()
      const e: Expr = { k: 'not', e: this.not() }
      this.depth--
      return e
    }
    return this.comparison()
  }
  private comparison(): Expr {
    const l = this.additive()
    const t = this.peek()
    if (t.t === 'ident' && COMPARE.includes(t.v)) {
      this.i++
      return { k: 'bin', op: t.v as CompareOp, l, r: this.additive() }
    }
    return l
  }
  private additive(): Expr {
    let l = this.multiplicative()
    while (this.isWord('add') || this.isWord('sub')) {
      const op = (this.next() as { v: string }).v
      l = { k: 'bin', op: op as ArithOp, l, r: this.multiplicative() }
    }
    return l
  }
  private multiplicative(): Expr {
    let l = this.unary()
    while (this.isWord('mul') || this.isWord('div') || this.isWord('mod')) {
      const op = (this.next() as { v: string }).v
      l = { k: 'bin', op: op as ArithOp, l, r: this.unary() }
    }
    return l
  }
  private unary(): Expr {
    if (this.isPunct('-')) {
      this.i++
      this.enter()
      const inner = this.unary()
      this.depth--
      // Fold -3 into a literal so "result gt -3" stays pushable to InfluxQL.
      if (inner.k === 'lit' && inner.lit.k === 'num') return { k: 'lit', lit: { k: 'num', v: -inner.lit.v } }
      return { k: 'neg', e: inner }
    }
    return this.primary()
  }
  private primary(): Expr {
    const t = this.next()
    switch (t.t) {
      case 'num':
        return { k: 'lit', lit: { k: 'num', v: t.v } }
      case 'str':
        return { k: 'lit', lit: { k: 'str', v: t.v } }
      case 'dt':
        return { k: 'lit', lit: parseDateTime(t.v, this.option) }
      case 'date':
        if (!Number.isFinite(Date.parse(`${t.v}T00:00:00Z`))) this.fail(`${t.v} is not a valid date`, t.at)
        return { k: 'lit', lit: { k: 'date', v: t.v } }
      case 'time':
        return { k: 'lit', lit: { k: 'time', v: t.v } }
      case 'geo':
        throw notImplemented(this.option, 'geography and geometry literals', { position: t.at })
      case 'duration':
        throw notImplemented(this.option, 'duration literals', { position: t.at })
      case 'punct':
        if (t.v === '(') {
          const e = this.expression()
          this.expect(')')
          return e
        }
        return this.fail(`unexpected "${t.v}"`, t.at)
      case 'end':
        return this.fail('unexpected end of expression', t.at)
      case 'ident':
        return this.identifier(t)
    }
  }
  private identifier(t: Extract<Token, { t: 'ident' }>): Expr {
    const word = t.v
    if (word === 'true' || word === 'false') return { k: 'lit', lit: { k: 'bool', v: word === 'true' } }
    if (word === 'null') return { k: 'lit', lit: { k: 'null' } }
    if (this.isPunct('(')) {
      const name = word.toLowerCase()
      if (GEO_FUNCTIONS.has(name)) throw notImplemented(this.option, `geospatial function ${word}`, { position: t.at })
      const arity = FUNCTIONS[name]
      if (!arity) this.fail(`unknown function ${word}`, t.at)
      this.i++
      this.enter()
      const args: Expr[] = []
      if (!this.isPunct(')')) {
        args.push(this.expression())
        while (this.isPunct(',')) {
          this.i++
          args.push(this.expression())
        }
      }
      this.expect(')')
      this.depth--
      if (args.length < arity[0] || args.length > arity[1]) {
        this.fail(`${word} takes ${arity[0] === arity[1] ? arity[0] : `${arity[0]} to ${arity[1]}`} argument(s), got ${args.length}`, t.at)
      }
      return { k: 'call', name, args }
    }
    const segs = [word]
    while (this.isPunct('/')) {
      this.i++
      const s = this.next()
      if (s.t !== 'ident') this.fail('expected a property name after "/"', s.at)
      segs.push(s.v)
    }
    if (segs.length > STA_LIMITS.maxExpressionDepth) this.fail('path is too long', t.at)
    return { k: 'path', segs }
  }

  /** One $orderby term's direction, if written. */
  direction(): boolean {
    if (this.isWord('asc')) {
      this.i++
      return false
    }
    if (this.isWord('desc')) {
      this.i++
      return true
    }
    return false
  }
  comma(): boolean {
    if (this.isPunct(',')) {
      this.i++
      return true
    }
    return false
  }
  trailing(): never {
    return this.fail(`unexpected ${JSON.stringify(String((this.peek() as { v?: unknown }).v ?? ''))}`)
  }
}

export function parseFilter(text: string, option = '$filter'): Expr {
  if (!text.trim()) throw invalid(option, 'is empty')
  const p = new ExprParser(tokenize(text, option), option)
  const e = p.expression()
  if (!p.atEnd()) p.trailing()
  return e
}

export function parseOrderBy(text: string): OrderTerm[] {
  const option = '$orderby'
  if (!text.trim()) throw invalid(option, 'is empty')
  const p = new ExprParser(tokenize(text, option), option)
  const terms: OrderTerm[] = []
  do {
    const expr = p.expression()
    terms.push({ expr, desc: p.direction() })
    if (terms.length > STA_LIMITS.maxListItems) throw invalid(option, `at most ${STA_LIMITS.maxListItems} terms`)
  } while (p.comma())
  if (!p.atEnd()) p.trailing()
  return terms
}

/**
 * Splits on a separator at parenthesis depth 0, outside quoted strings:
 * "$top=1;$filter=name eq 'a;b'" → two options.
 */
export function splitTopLevel(text: string, sep: string, option: string): string[] {
  const parts: string[] = []
  let depth = 0
  let quoted = false
  let start = 0
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === "'") quoted = !quoted
    else if (quoted) continue
    else if (c === '(') depth++
    else if (c === ')') {
      if (--depth < 0) throw invalid(option, `unbalanced ")" at position ${i}`, { position: i })
    } else if (c === sep && depth === 0) {
      parts.push(text.slice(start, i))
      start = i + 1
    }
  }
  if (quoted) throw invalid(option, 'unterminated string')
  if (depth !== 0) throw invalid(option, 'unbalanced "("')
  parts.push(text.slice(start))
  return parts
}

const NAME = /^[A-Za-z@][A-Za-z0-9_.@]*$/

function parseSelect(text: string): string[] {
  const items = text.split(',').map((s) => s.trim())
  if (items.length > STA_LIMITS.maxListItems) throw invalid('$select', `at most ${STA_LIMITS.maxListItems} properties`)
  for (const s of items) if (!NAME.test(s)) throw invalid('$select', `${JSON.stringify(s)} is not a property name`)
  return items
}

function parseExpand(text: string, depth: number): ExpandItem[] {
  if (depth > STA_LIMITS.maxExpandDepth) throw invalid('$expand', `nests deeper than ${STA_LIMITS.maxExpandDepth}`)
  const items = splitTopLevel(text, ',', '$expand')
  if (items.length > STA_LIMITS.maxListItems) throw invalid('$expand', `at most ${STA_LIMITS.maxListItems} items`)
  return items.map((raw) => {
    const item = raw.trim()
    const open = item.indexOf('(')
    const path = (open < 0 ? item : item.slice(0, open)).trim()
    let options: QueryOptions = {}
    if (open >= 0) {
      if (!item.endsWith(')')) throw invalid('$expand', `${JSON.stringify(item)}: options must be closed by ")"`)
      const inner = item.slice(open + 1, -1)
      const pairs = inner.trim() ? splitTopLevel(inner, ';', '$expand').map((o) => splitPair(o, '$expand')) : []
      options = parseOptions(pairs, depth)
    }
    const segs = path.split('/')
    if (segs.length + depth > STA_LIMITS.maxExpandDepth + 1) throw invalid('$expand', `nests deeper than ${STA_LIMITS.maxExpandDepth}`)
    for (const s of segs) if (!NAME.test(s)) throw invalid('$expand', `${JSON.stringify(s)} is not a navigation property`)
    // Datastreams/Observations($top=1) ≡ Datastreams($expand=Observations($top=1)).
    let node: ExpandItem = { nav: segs[segs.length - 1]!, options }
    for (let i = segs.length - 2; i >= 0; i--) node = { nav: segs[i]!, options: { expand: [node] } }
    return node
  })
}

function splitPair(text: string, option: string): [string, string] {
  const eq = text.indexOf('=')
  if (eq < 0) throw invalid(option, `${JSON.stringify(text.trim())} is not name=value`)
  return [text.slice(0, eq).trim(), text.slice(eq + 1)]
}

function nonNegativeInt(name: string, v: string): number {
  if (!/^\d{1,9}$/.test(v.trim())) throw invalid(name, `must be a non-negative integer, got ${JSON.stringify(v)}`)
  return Number(v.trim())
}

/**
 * Query options from name/value pairs (URL-decoded). Names are matched
 * case-sensitively, as OData 4.0 does; an unknown $option is a 400, options
 * of other conformance classes ($resultFormat) are 501, and custom options
 * without "$" are ignored (OData 4.0 URL conventions §5.2).
 */
export function parseOptions(pairs: ReadonlyArray<[string, string]>, depth = 0): QueryOptions {
  const out: QueryOptions = { raw: pairs.filter(([n]) => n.startsWith('$')).map(([n, v]) => [n, v]) }
  const seen = new Set<string>()
  for (const [name, value] of pairs) {
    if (!name.startsWith('$')) continue
    if (seen.has(name)) throw invalid(name, 'is given twice')
    seen.add(name)
    switch (name) {
      case '$filter':
        out.filter = parseFilter(value)
        break
      case '$orderby':
        out.orderby = parseOrderBy(value)
        break
      case '$select':
        out.select = parseSelect(value)
        break
      case '$expand':
        out.expand = parseExpand(value, depth + 1)
        break
      case '$top':
        out.top = nonNegativeInt(name, value)
        break
      case '$skip':
        out.skip = nonNegativeInt(name, value)
        break
      case '$count':
        if (value !== 'true' && value !== 'false') throw invalid(name, `must be true or false, got ${JSON.stringify(value)}`)
        out.count = value === 'true'
        break
      case '$resultFormat':
        throw notImplemented(name, 'the dataArray result format (conformance class A.6)')
      default:
        throw invalid(name, 'is not a SensorThings query option ($filter, $expand, $orderby, $select, $top, $skip, $count)')
    }
  }
  return out
}

/**
 * Pairs of the raw query string, decoded as a form (a "+" is a space, so
 * "$orderby=phenomenonTime+desc" works as clients write it).
 */
export function queryPairs(rawQuery: string): Array<[string, string]> {
  if (rawQuery.length > STA_LIMITS.maxQueryLength) throw invalid('query', `is longer than ${STA_LIMITS.maxQueryLength} characters`)
  if (!rawQuery) return []
  return rawQuery
    .split('&')
    .filter((p) => p.length > 0)
    .map((p) => {
      const eq = p.indexOf('=')
      const dec = (s: string) => {
        try {
          return decodeURIComponent(s.replace(/\+/g, ' '))
        } catch {
          throw invalid('query', `${JSON.stringify(s.slice(0, 60))} is not valid percent-encoding`)
        }
      }
      return eq < 0 ? [dec(p), ''] : [dec(p.slice(0, eq)), dec(p.slice(eq + 1))]
    })
}
