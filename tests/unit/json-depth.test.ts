/**
 * Issue 12, part "payloads are parsed defensively": the linear depth scanner
 * that runs on a payload's bytes before JSON.parse, the bounded excerpt
 * writer that replaces JSON.stringify of untrusted values, and what
 * validatePayload makes of hostile nesting.
 */
import { describe, expect, it } from 'vitest'
import { boundedJson, jsonDepth, jsonDepthExceeded, MAX_JSON_DEPTH } from '../../ingest/parse/json-depth.ts'
import type { StationContext } from '../../core/reading.ts'
import { validatePayload, type ValidationLimits } from '../../ingest/parse/validate.ts'
import Database from 'better-sqlite3'
import { silentLogger } from '../../core/log.ts'
import { QuarantineStore } from '../../ingest/quarantine.ts'

const bytes = (s: string) => Buffer.from(s, 'utf8')
const BOM = Buffer.from([0xef, 0xbb, 0xbf])

/** Depth of a parsed value, by an explicit stack (the reference the scanner must agree with). */
function parsedDepth(v: unknown): number {
  let max = 0
  const stack: Array<[unknown, number]> = [[v, 0]]
  while (stack.length) {
    const [x, d] = stack.pop()!
    if (x === null || typeof x !== 'object') continue
    max = Math.max(max, d + 1)
    for (const c of Object.values(x)) stack.push([c, d + 1])
  }
  return max
}

describe('jsonDepth / jsonDepthExceeded: nesting counted on bytes, outside strings', () => {
  const cases: Array<[string, string, number]> = [
    ['scalar', '42', 0],
    ['string only', '"[[[{{{"', 0],
    ['empty array', '[]', 1],
    ['empty object', '{}', 1],
    ['a batch', '{"readings":[{"ts":1,"values":{"ph":7}}]}', 4],
    ['brackets inside a string value', '{"a":"[[[[{{{{"}', 1],
    ['brackets inside a key', '{"[[[":{"}}}]]]":1}}', 2],
    ['escaped quote does not end the string', '["\\"[[[[", 1]', 1],
    ['escaped backslash then the real end of the string', '["\\\\", [[1]]]', 3],
    ['\\u escapes and closing brackets in a string', '[{"k":"\\u005b]]]\\"}"}]', 2],
    ['Vietnamese text (multi-byte UTF-8) next to brackets', '{"tên":"Sông Đốc [trạm]","v":[["ấp"]]}', 3],
    ['emoji (4-byte UTF-8) in a key', '{"🌊[":[1]}', 2],
  ]
  it.each(cases.map(([name, text, depth]) => ({ name, text, depth })))('$name -> $depth', ({ text, depth }) => {
    expect(jsonDepth(bytes(text))).toBe(depth)
    expect(parsedDepth(JSON.parse(text))).toBe(depth)
    expect(jsonDepthExceeded(bytes(text), depth)).toBe(-1)
    if (depth > 0) expect(jsonDepthExceeded(bytes(text), depth - 1)).toBeGreaterThanOrEqual(0)
  })

  it('a UTF-8 BOM is skipped: the depth of what follows it counts', () => {
    const deep = Buffer.concat([BOM, bytes('['.repeat(40) + ']'.repeat(40))])
    expect(jsonDepth(deep)).toBe(40)
    expect(jsonDepthExceeded(deep, MAX_JSON_DEPTH)).toBe(3 + MAX_JSON_DEPTH) // BOM is bytes 0..2
    expect(jsonDepthExceeded(Buffer.concat([BOM, bytes('{"a":[1]}')]), MAX_JSON_DEPTH)).toBe(-1)
  })

  it('returns the offset of the first bracket past the limit, for arrays and objects', () => {
    expect(jsonDepthExceeded(bytes('['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH)), MAX_JSON_DEPTH)).toBe(-1)
    expect(jsonDepthExceeded(bytes('['.repeat(MAX_JSON_DEPTH + 1) + ']'.repeat(MAX_JSON_DEPTH + 1)), MAX_JSON_DEPTH)).toBe(MAX_JSON_DEPTH)
    const obj = '{"a":'.repeat(MAX_JSON_DEPTH + 1) + '1' + '}'.repeat(MAX_JSON_DEPTH + 1)
    expect(jsonDepthExceeded(bytes(obj), MAX_JSON_DEPTH)).toBe(5 * MAX_JSON_DEPTH)
  })

  it('stray closing brackets cannot hide depth', () => {
    const sneaky = ']'.repeat(100) + '['.repeat(MAX_JSON_DEPTH + 1)
    expect(jsonDepthExceeded(bytes(sneaky), MAX_JSON_DEPTH)).toBe(100 + MAX_JSON_DEPTH)
  })

  it('an unterminated string hides nothing JSON.parse would accept (it refuses the payload)', () => {
    const text = '["' + '['.repeat(100)
    expect(jsonDepth(bytes(text))).toBe(1)
    expect(() => JSON.parse(text)).toThrow()
  })

  it('hostile depths are scanned without recursion: 60,000 arrays, 20,000 objects, 256 KiB of [', () => {
    expect(jsonDepth(bytes('['.repeat(60_000) + ']'.repeat(60_000)))).toBe(60_000)
    expect(jsonDepth(bytes('{"a":'.repeat(20_000) + '1' + '}'.repeat(20_000)))).toBe(20_000)
    expect(jsonDepthExceeded(bytes('['.repeat(256 * 1024)), MAX_JSON_DEPTH)).toBe(MAX_JSON_DEPTH)
  })

  it('agrees with JSON.parse on generated documents (strings full of brackets, quotes and escapes)', () => {
    let seed = 12345
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff)
    const nasty = ['[', ']', '{', '}', '"', '\\', 'ấ', '🌊', ',', ':', 'a', '\n']
    const str = () => Array.from({ length: Math.floor(rnd() * 8) }, () => nasty[Math.floor(rnd() * nasty.length)]).join('')
    const gen = (d: number): unknown => {
      const r = rnd()
      if (d > 6 || r < 0.3) return r < 0.15 ? str() : Math.round(r * 1000) / 10
      if (r < 0.65) return Array.from({ length: Math.floor(rnd() * 4) }, () => gen(d + 1))
      return Object.fromEntries(Array.from({ length: Math.floor(rnd() * 4) }, () => [str(), gen(d + 1)]))
    }
    for (let n = 0; n < 500; n++) {
      const value = gen(0)
      const text = JSON.stringify(value)
      expect(jsonDepth(bytes(text)), text).toBe(parsedDepth(JSON.parse(text)))
    }
  })
})

describe('boundedJson: JSON text of untrusted values without recursion, cut at a size', () => {
  const same: Array<[string, unknown]> = [
    ['a reading', { ts: 1773536400000, values: { salinity: 3.1, ph: 7.6 } }],
    ['scalars', [null, true, false, 0, -0, 1e21, 1.5e-7, 'x']],
    ['non-finite numbers', [NaN, Infinity, -Infinity]],
    ['undefined in arrays and objects', { a: undefined, b: [undefined, 1], c: 2 }],
    ['empty containers', { a: [], b: {}, c: [[], [{}]] }],
    ['escapes and unicode', { 'k"\\\n': 'Sông Đốc "x" \\ \u0001 🌊', lone: '\ud800' }],
    ['__proto__ key from JSON.parse', JSON.parse('{"__proto__":{"x":1},"y":[1]}')],
    ['a string', 'plain'],
  ]
  it.each(same.map(([name, value]) => ({ name, value })))('$name: same text as JSON.stringify', ({ value }) => {
    expect(boundedJson(value, 10_000)).toBe(JSON.stringify(value))
  })

  it('cuts at the limit and marks the cut', () => {
    const value = { readings: Array.from({ length: 500 }, (_, i) => ({ ts: i, values: { ph: 7 } })) }
    const text = boundedJson(value, 100)
    expect(text).toBe(`${JSON.stringify(value).slice(0, 100)}…`)
  })

  it('a value nested 60,000 deep (which JSON.stringify cannot write) gives bounded text', () => {
    const deep = JSON.parse('['.repeat(60_000) + ']'.repeat(60_000)) as unknown
    expect(() => JSON.stringify(deep)).toThrow(RangeError)
    expect(boundedJson(deep, 512)).toBe(`${'['.repeat(512)}…`)
    const objects = JSON.parse('{"a":'.repeat(20_000) + '1' + '}'.repeat(20_000)) as unknown
    expect(boundedJson(objects, 512)).toBe(`${'{"a":'.repeat(20_000).slice(0, 512)}…`)
  })

  it('huge strings and keys are cut before they are escaped; a cycle ends at the limit', () => {
    expect(boundedJson('x'.repeat(1_000_000), 64)).toBe(`"${'x'.repeat(63)}…`)
    expect(boundedJson({ ['k'.repeat(100_000)]: 1 }, 64)).toHaveLength(65)
    const cycle: unknown[] = []
    cycle.push(cycle)
    expect(boundedJson(cycle, 64)).toBe(`${'['.repeat(64)}…`)
  })
})

describe('validatePayload: hostile nesting is quarantined as PAYLOAD_TOO_DEEP, never thrown', () => {
  const NOW = Date.parse('2026-03-15T08:00:00+07:00')
  const limits: ValidationLimits = { maxPayloadBytes: 256 * 1024, maxBatchReadings: 500, lateAfterMs: 15 * 60_000, maxAgeMs: 90 * 86_400_000, maxFutureMs: 5 * 60_000 }
  const station: StationContext = { id: 'st-1', enabled: true, calibration: {} }
  const v = (payload: Buffer) => validatePayload(station, 'st-1', payload, NOW, limits)

  const hostile: Array<[string, string]> = [
    ['array depth 6,000', '['.repeat(6_000) + ']'.repeat(6_000)],
    ['array depth 60,000', '['.repeat(60_000) + ']'.repeat(60_000)],
    ['object depth 20,000', '{"a":'.repeat(20_000) + '1' + '}'.repeat(20_000)],
    ['deep inside a reading value', `{"ts":${NOW},"values":{"ph":${'['.repeat(6_000)}${']'.repeat(6_000)}}}`],
    ['deep inside a batch', `{"readings":[{"ts":${NOW},"values":{"ph":7}},${'['.repeat(6_000)}${']'.repeat(6_000)}]}`],
    ['unclosed (not even JSON)', '['.repeat(100_000)],
  ]
  it.each(hostile.map(([name, text]) => ({ name, text })))('$name', ({ text }) => {
    const r = v(bytes(text))
    expect(r.accepted).toEqual([])
    expect(r.rejected).toHaveLength(1)
    expect(r.rejected[0]).toMatchObject({ stationId: 'st-1', reason: 'PAYLOAD_TOO_DEEP' })
    expect(r.rejected[0]!.detail).toContain(`deeper than ${MAX_JSON_DEPTH} levels`)
    expect(r.rejected[0]!.excerpt.length).toBeLessThanOrEqual(513)
  })

  it('a BOM-prefixed deep payload is refused the same way; a BOM-prefixed good reading is stored', () => {
    expect(v(Buffer.concat([BOM, bytes('['.repeat(6_000) + ']'.repeat(6_000))])).rejected[0]!.reason).toBe('PAYLOAD_TOO_DEEP')
    const good = v(Buffer.concat([BOM, bytes(JSON.stringify({ ts: NOW, values: { ph: 7.5 } }))]))
    expect(good.rejected).toEqual([])
    expect(good.accepted).toHaveLength(1)
  })

  it('nesting up to the limit inside a value is refused by its own rule, with a bounded detail and excerpt', () => {
    const inner = '['.repeat(MAX_JSON_DEPTH - 2) + ']'.repeat(MAX_JSON_DEPTH - 2)
    const r = v(bytes(`{"ts":${NOW},"values":{"ph":${inner},"salinity":3.1}}`))
    expect(r.accepted).toHaveLength(1) // salinity is stored
    expect(r.rejected).toMatchObject([{ reason: 'VALUE_NOT_NUMBER', sensor: 'ph' }])
    expect(r.rejected[0]!.detail).toContain('[[[')
  })

  it('a 100 kB key and a 100 kB string value stay bounded in sensor, detail and excerpt', () => {
    const key = 'k'.repeat(100_000)
    const r = v(bytes(JSON.stringify({ ts: NOW, values: { [key]: 1, ph: 'x'.repeat(100_000) } })))
    expect(r.rejected.map((x) => x.reason).sort()).toEqual(['READING_UNKNOWN_SENSOR', 'VALUE_NOT_NUMBER'])
    for (const x of r.rejected) {
      expect(x.detail.length).toBeLessThanOrEqual(513)
      expect(x.excerpt.length).toBeLessThanOrEqual(513)
      expect(x.sensor!.length).toBeLessThanOrEqual(65)
    }
  })

  it('a strict-schema refusal quoting a 100 kB unknown key keeps its detail bounded', () => {
    const r = v(bytes(JSON.stringify({ ts: NOW, values: { ph: 7 }, ['z'.repeat(100_000)]: 1 })))
    expect(r.rejected[0]!.reason).toBe('PAYLOAD_SCHEMA')
    expect(r.rejected[0]!.detail.length).toBeLessThanOrEqual(513)
  })
})

describe('QuarantineStore: the last guard, whoever produced the refusal', () => {
  it('clips excerpt, detail, sensor and station id, so GET /api/v1/quarantine serves bounded text', () => {
    const store = new QuarantineStore(new Database(':memory:'), 100, silentLogger)
    store.add([{ stationId: 's'.repeat(500), reason: 'PAYLOAD_SCHEMA', detail: 'd'.repeat(100_000), sensor: 'k'.repeat(500), excerpt: '['.repeat(100_000) }], Date.now())
    const [e] = store.list()
    expect([e!.stationId.length, e!.detail.length, e!.sensor!.length, e!.excerpt.length]).toEqual([65, 1025, 65, 1025])
  })
})
