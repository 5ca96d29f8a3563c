import { describe, expect, it } from 'vitest'
import { escapeTag, fieldFloat, fieldString } from '../../influx/line-protocol.ts'

/** The InfluxDB 1.x line-protocol escaping rules (influx/line-protocol.ts cites them). */
describe('line protocol escaping', () => {
  it('tags escape commas, equals signs, spaces and backslashes, and leave everything else as it is', () => {
    expect(escapeTag('cm-songdoc-01')).toBe('cm-songdoc-01')
    expect(escapeTag('a,b=c d\\e')).toBe('a\\,b\\=c\\ d\\\\e')
    // The same input twice: a global regex keeps lastIndex, a test() must not.
    expect(escapeTag('x y')).toBe('x\\ y')
    expect(escapeTag('x y')).toBe('x\\ y')
    expect(escapeTag('Cà Mau')).toBe('Cà\\ Mau')
  })
  it('string fields quote, escape quotes and backslashes, and never carry a newline', () => {
    expect(fieldString('say "hi"\\\nnext')).toBe('"say \\"hi\\"\\\\ next"')
  })
  it('floats always look like floats', () => {
    expect(fieldFloat(3)).toBe('3.0')
    expect(fieldFloat(3.25)).toBe('3.25')
    expect(fieldFloat(-0.5)).toBe('-0.5')
  })
})
