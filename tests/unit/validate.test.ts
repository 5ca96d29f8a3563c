import { describe, expect, it } from 'vitest'
import type { StationContext } from '../../core/reading.ts'
import { validatePayload, type ValidationLimits } from '../../ingest/parse/validate.ts'

const NOW = Date.parse('2026-03-15T08:00:00+07:00')
const limits: ValidationLimits = { maxPayloadBytes: 1024 * 1024, maxBatchReadings: 500, lateAfterMs: 15 * 60_000, maxAgeMs: 90 * 86_400_000, maxFutureMs: 5 * 60_000 }
const station: StationContext = { id: 'st-1', enabled: true, calibration: { salinity: { offset: 0.1, scale: 2 } } }
const uncalibrated: StationContext = { id: 'st-1', enabled: true, calibration: {} }
const v = (payload: unknown, st: StationContext | null = station) =>
  validatePayload(st ?? undefined, 'st-1', Buffer.isBuffer(payload) ? payload : Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)), NOW, limits)

describe('payload validation: every bad input gets its stable reason code', () => {
  const cases: Array<[string, unknown, string]> = [
    ['malformed JSON', '{"ts": ', 'PAYLOAD_NOT_JSON'],
    ['invalid UTF-8', Buffer.from([0xc3, 0x28]), 'PAYLOAD_NOT_UTF8'],
    ['array at top level', [1, 2], 'PAYLOAD_SCHEMA'],
    ['missing ts', { values: { ph: 7 } }, 'PAYLOAD_SCHEMA'],
    ['unknown top-level key', { ts: NOW, values: { ph: 7 }, extra: 1 }, 'PAYLOAD_SCHEMA'],
    ['ts without offset', { ts: '2026-03-15T08:00:00', values: { ph: 7 } }, 'TS_INVALID'],
    ['ts as text', { ts: 'now', values: { ph: 7 } }, 'TS_INVALID'],
    ['ts negative', { ts: -5, values: { ph: 7 } }, 'TS_INVALID'],
    ['ts 10 min ahead', { ts: NOW + 600_000, values: { ph: 7 } }, 'TS_IN_FUTURE'],
    ['reset RTC (year 2000)', { ts: '2000-01-01T00:00:00Z', values: { ph: 7 } }, 'TS_TOO_OLD'],
    ['epoch seconds', { ts: Math.floor(NOW / 1000), values: { ph: 7 } }, 'TS_TOO_OLD'],
    ['empty values', { ts: NOW, values: {} }, 'READING_NO_VALUES'],
    ['unknown sensor', { ts: NOW, values: { oxygen: 6 } }, 'READING_UNKNOWN_SENSOR'],
    ['string value', { ts: NOW, values: { ph: '7' } }, 'VALUE_NOT_NUMBER'],
    ['null value', { ts: NOW, values: { ph: null } }, 'VALUE_NOT_NUMBER'],
    ['pH 15', { ts: NOW, values: { ph: 15 } }, 'VALUE_OUT_OF_RANGE'],
    ['negative salinity after calibration', { ts: NOW, values: { salinity: -1 } }, 'VALUE_OUT_OF_RANGE'],
    ['water level 20 m', { ts: NOW, values: { water_level: 2000 } }, 'VALUE_OUT_OF_RANGE'],
    ['empty batch', { readings: [] }, 'BATCH_EMPTY'],
    ['batch of 501', { readings: Array.from({ length: 501 }, () => ({ ts: NOW, values: { ph: 7 } })) }, 'BATCH_TOO_LARGE'],
  ]
  it.each(cases.map(([name, payload, reason]) => ({ name, payload, reason })))('$name -> $reason', ({ payload, reason }) => {
    const r = v(payload)
    expect(r.accepted).toHaveLength(0)
    expect(r.rejected.map((x) => x.reason)).toEqual([reason])
    expect(r.rejected[0]!.detail.length).toBeGreaterThan(5)
  })

  it('oversized payload -> PAYLOAD_TOO_LARGE', () => {
    expect(v('x'.repeat(2 * 1024 * 1024)).rejected[0]!.reason).toBe('PAYLOAD_TOO_LARGE')
  })
  it('unknown and disabled stations', () => {
    expect(v({ ts: NOW, values: { ph: 7 } }, null).rejected[0]!.reason).toBe('STATION_UNKNOWN')
    expect(v({ ts: NOW, values: { ph: 7 } }, { ...station, enabled: false }).rejected[0]!.reason).toBe('STATION_DISABLED')
  })
})

describe('payload validation: what is accepted', () => {
  it('accepts RFC 3339 with offset and epoch ms, applies calibration and keeps the raw value', () => {
    const r = v({ ts: '2026-03-15T07:59:00+07:00', seq: 4, values: { salinity: 2, ph: 7.5 }, battery: 12.4, rssi: -80 })
    expect(r.rejected).toEqual([])
    expect(r.accepted[0]).toMatchObject({ ts: NOW - 60_000, seq: 4, late: false, battery: 12.4, rssi: -80 })
    expect(r.accepted[0]!.values.find((x) => x.sensor === 'salinity')).toMatchObject({ value: 4.1, raw: 2 })
  })
  it('keeps the good values of a reading when one electrode is out of range', () => {
    const r = v({ ts: NOW, values: { ph: 99, no2: 0.2 } })
    expect(r.accepted[0]!.values.map((x) => x.sensor)).toEqual(['no2'])
    expect(r.rejected).toMatchObject([{ reason: 'VALUE_OUT_OF_RANGE', sensor: 'ph' }])
  })
  it('keeps the good readings of a batch and reports the index of the bad ones', () => {
    const r = v({ readings: [{ ts: NOW - 1000, values: { ph: 7 } }, { ts: 'bad', values: { ph: 7 } }, { ts: NOW, values: { ph: 7.1 } }] })
    expect(r.accepted).toHaveLength(2)
    expect(r.rejected).toMatchObject([{ reason: 'TS_INVALID', index: 1 }])
  })
  it('marks old readings late but stores them', () => {
    expect(v({ ts: NOW - 3_600_000, values: { ph: 7 } }).accepted[0]!.late).toBe(true)
  })
  it('derives salinity with PSS-78 from conductivity and temperature; fresh water uses the Hill extension, unflagged', () => {
    const r = v({ ts: NOW, values: { conductivity: 33.8, temperature: 30 } }, uncalibrated)
    const sal = r.accepted[0]!.values.find((x) => x.sensor === 'salinity')!
    expect(sal.value).toBeGreaterThan(19)
    expect(sal.value).toBeLessThan(21)
    expect(sal.flags).toEqual(['derived_pss78'])
    // GSW 3.6.16 SP_from_C(0.5, 30, 0) = 0.217196...
    const fresh = v({ ts: NOW, values: { conductivity: 0.5, temperature: 30 } }, uncalibrated).accepted[0]!.values.find((x) => x.sensor === 'salinity')!
    expect(fresh.value).toBeCloseTo(0.2172, 4)
    expect(fresh.flags).toEqual(['derived_pss78'])
  })
})

// Reference values: GSW 3.6.16 SP_from_C(80, 5, 0) = 95.45, (80, 25, 0) = 55.90, (75, 30, 0) = 46.55.
describe('payload validation: a derived salinity is range-checked like a reported one', () => {
  it.each([
    { name: '80 mS/cm at 5 °C (95 ‰)', conductivity: 80, temperature: 5, expected: 95.45 },
    { name: '80 mS/cm at 25 °C (56 ‰)', conductivity: 80, temperature: 25, expected: 55.9 },
  ])('$name -> VALUE_OUT_OF_RANGE for salinity alone; conductivity and temperature are kept', ({ conductivity, temperature, expected }) => {
    const r = v({ ts: NOW, seq: 7, values: { conductivity, temperature, ph: 7.2 } }, uncalibrated)
    expect(r.rejected).toHaveLength(1)
    expect(r.rejected[0]).toMatchObject({ reason: 'VALUE_OUT_OF_RANGE', sensor: 'salinity', ts: NOW })
    expect(r.rejected[0]!.detail).toContain(`salinity = ${expected}`)
    expect(r.rejected[0]!.detail).toContain('derived with PSS-78')
    expect(r.rejected[0]!.detail).toContain('0..50')
    // The excerpt holds the inputs a reader needs to see why.
    expect(JSON.parse(r.rejected[0]!.excerpt)).toEqual({ ts: NOW, values: { conductivity, temperature } })
    expect(r.accepted).toHaveLength(1)
    expect(r.accepted[0]!.values.map((x) => x.sensor).sort()).toEqual(['conductivity', 'ph', 'temperature'])
  })
  it('refuses a derived value that the station\'s salinity calibration pushes past 50 ‰, as for a reported one', () => {
    // 43.2046 mS/cm at 30 °C is 24.99997 ‰ (GSW); the test station's calibration is ×2 + 0.1.
    const r = v({ ts: NOW, values: { conductivity: 43.2046, temperature: 30 } })
    expect(r.rejected).toMatchObject([{ reason: 'VALUE_OUT_OF_RANGE', sensor: 'salinity' }])
    expect(r.rejected[0]!.detail).toContain('salinity = 50.0999')
    expect(r.accepted[0]!.values.map((x) => x.sensor)).toEqual(['conductivity', 'temperature'])
  })
  it('keeps 42..50 ‰ (extrapolated PSS-78) flagged pss78_out_of_range, like a reported 45 ‰ is kept', () => {
    const r = v({ ts: NOW, values: { conductivity: 75, temperature: 30 } }, uncalibrated)
    expect(r.rejected).toEqual([])
    const sal = r.accepted[0]!.values.find((x) => x.sensor === 'salinity')!
    expect(sal.value).toBeCloseTo(46.5516, 4)
    expect(sal.flags).toEqual(['derived_pss78', 'pss78_out_of_range'])
  })
  it('reports the batch index of a reading whose derived salinity was refused, and keeps its neighbours', () => {
    const r = v({ readings: [{ ts: NOW - 2000, values: { conductivity: 20, temperature: 28 } }, { ts: NOW - 1000, values: { conductivity: 80, temperature: 5 } }] }, uncalibrated)
    expect(r.rejected).toMatchObject([{ reason: 'VALUE_OUT_OF_RANGE', sensor: 'salinity', index: 1 }])
    expect(r.accepted).toHaveLength(2)
    expect(r.accepted[0]!.values.some((x) => x.sensor === 'salinity')).toBe(true)
    expect(r.accepted[1]!.values.some((x) => x.sensor === 'salinity')).toBe(false)
  })
  it('does not derive from a conductivity that was itself refused', () => {
    const r = v({ ts: NOW, values: { conductivity: 150, temperature: 25 } }, uncalibrated)
    expect(r.rejected).toMatchObject([{ reason: 'VALUE_OUT_OF_RANGE', sensor: 'conductivity' }])
    expect(r.accepted[0]!.values.map((x) => x.sensor)).toEqual(['temperature'])
  })
})
