/**
 * The SensorThings query parser (api/sta/parser.ts): precedence, literals,
 * $expand nesting, and the bounds that turn a hostile query into a 400.
 * Pure functions: no server needed.
 */
import { describe, expect, it } from 'vitest'
import { isTidewatchError } from '../../core/errors.ts'
import { STA_LIMITS } from '../../api/sta/limits.ts'
import { parseFilter, parseOptions, parseOrderBy, queryPairs } from '../../api/sta/parser.ts'

function code(fn: () => unknown): { code: string; status: number } | null {
  try {
    fn()
    return null
  } catch (e) {
    if (!isTidewatchError(e)) throw e
    return { code: e.code, status: e.details.status === 501 ? 501 : 400 }
  }
}

describe('api/sta/parser', () => {
  it('binds or < and < not < comparison < add/sub < mul/div/mod < unary minus (OData 4.0 §5.1.1)', () => {
    const e = parseFilter('a eq 1 or b eq 2 and not c eq 3')
    expect(e).toMatchObject({ k: 'bin', op: 'or', r: { k: 'bin', op: 'and', r: { k: 'not' } } })
    const m = parseFilter('result add 2 mul 3 eq 7')
    expect(m).toMatchObject({ k: 'bin', op: 'eq', l: { op: 'add', r: { op: 'mul' } } })
    expect(parseFilter('result gt -3')).toMatchObject({ r: { k: 'lit', lit: { k: 'num', v: -3 } } })
  })

  it('reads literals: strings with doubled quotes, date-times with offsets (a raw "+" that became a space), dates, times, paths', () => {
    expect(parseFilter("name eq 'Cà Mau''s'")).toMatchObject({ r: { lit: { k: 'str', v: "Cà Mau's" } } })
    expect(parseFilter('phenomenonTime gt 2025-03-01T07:00:00+07:00')).toMatchObject({ r: { lit: { k: 'dt', ms: Date.parse('2025-03-01T00:00:00Z'), offsetMin: 420 } } })
    expect(parseFilter('phenomenonTime gt 2025-03-01T07:00:00 07:00')).toMatchObject({ r: { lit: { k: 'dt', offsetMin: 420 } } })
    expect(parseFilter('date(phenomenonTime) eq 2025-03-01')).toMatchObject({ r: { lit: { k: 'date', v: '2025-03-01' } } })
    expect(parseFilter('time(phenomenonTime) eq 12:30:00')).toMatchObject({ r: { lit: { k: 'time', v: '12:30:00' } } })
    expect(parseFilter('Datastream/Thing/properties/zone eq null')).toMatchObject({ l: { k: 'path', segs: ['Datastream', 'Thing', 'properties', 'zone'] }, r: { lit: { k: 'null' } } })
  })

  it('parses $orderby terms with directions and nested $expand with ; separated options', () => {
    expect(parseOrderBy('phenomenonTime desc, result').map((t) => t.desc)).toEqual([true, false])
    const o = parseOptions(queryPairs(`$expand=${encodeURIComponent("Datastreams($filter=name eq 'a;b';$expand=Observations($top=1;$orderby=phenomenonTime desc)),Locations")}`))
    expect(o.expand!.map((x) => x.nav)).toEqual(['Datastreams', 'Locations'])
    expect(o.expand![0]!.options.filter).toBeTruthy()
    expect(o.expand![0]!.options.expand![0]).toMatchObject({ nav: 'Observations', options: { top: 1, orderby: [{ desc: true }] } })
    // The path form nests.
    expect(parseOptions([['$expand', 'Datastreams/Observations($top=2)']]).expand![0]).toMatchObject({ nav: 'Datastreams', options: { expand: [{ nav: 'Observations', options: { top: 2 } }] } })
    // A "+" in a query string is a space.
    expect(parseOptions(queryPairs('$orderby=phenomenonTime+desc')).orderby![0]!.desc).toBe(true)
  })

  it('bounds depth and length: deep nesting, long queries and deep $expand are 400 STA_QUERY_INVALID, never a stack overflow', () => {
    const deep = `${'('.repeat(STA_LIMITS.maxExpressionDepth + 1)}a eq 1${')'.repeat(STA_LIMITS.maxExpressionDepth + 1)}`
    expect(code(() => parseFilter(deep))).toEqual({ code: 'STA_QUERY_INVALID', status: 400 })
    expect(code(() => parseFilter('not '.repeat(10_000) + 'true'))).toEqual({ code: 'STA_QUERY_INVALID', status: 400 })
    expect(code(() => parseFilter(`${'tolower('.repeat(100)}name${')'.repeat(100)} eq 'a'`))).toEqual({ code: 'STA_QUERY_INVALID', status: 400 })
    expect(code(() => queryPairs(`$filter=${'a'.repeat(STA_LIMITS.maxQueryLength + 1)}`))).toEqual({ code: 'STA_QUERY_INVALID', status: 400 })
    const expand = (n: number): string => (n === 0 ? 'Datastreams' : `Datastreams($expand=${expand(n - 1)})`)
    expect(code(() => parseOptions([['$expand', expand(STA_LIMITS.maxExpandDepth + 1)]]))).toEqual({ code: 'STA_QUERY_INVALID', status: 400 })
    expect(code(() => parseOptions([['$expand', expand(STA_LIMITS.maxExpandDepth - 1)]]))).toBeNull()
  })

  it('reports where a query is wrong, and 501 for what it does not implement', () => {
    try {
      parseFilter("name eq 'a' and")
      expect.unreachable()
    } catch (e) {
      expect(isTidewatchError(e) && e.details).toMatchObject({ option: '$filter', position: 15 })
    }
    expect(code(() => parseFilter("geo.distance(location, geography'POINT(105 9)') lt 1"))).toEqual({ code: 'STA_QUERY_INVALID', status: 501 })
    expect(code(() => parseFilter("phenomenonTime lt now() sub duration'P1D'"))).toEqual({ code: 'STA_QUERY_INVALID', status: 501 })
    expect(code(() => parseOptions([['$resultFormat', 'dataArray']]))).toEqual({ code: 'STA_QUERY_INVALID', status: 501 })
    expect(code(() => parseOptions([['$skip', '1.5']]))).toEqual({ code: 'STA_QUERY_INVALID', status: 400 })
    expect(code(() => parseFilter('2025-13-45T00:00:00Z eq phenomenonTime'))).toEqual({ code: 'STA_QUERY_INVALID', status: 400 })
    // Custom options without "$" are ignored (OData 4.0 URL conventions §5.2).
    expect(parseOptions([['utm_source', 'x']])).toMatchObject({})
  })
})
