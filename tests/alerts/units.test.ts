import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { encodingFor, segmentInfo, splitSms, isGsm7 } from '../../alerts/sms/segments.ts'
import { render, localTime } from '../../alerts/templates.ts'
import { parseKeyword } from '../../alerts/keywords.ts'
import { normalizePhone, stripDiacritics } from '../../alerts/text.ts'
import { targetLevel } from '../../levels/rules.ts'
import { zoneRule } from '../../levels/zones.ts'
import { Engine, RiseWindow } from '../../alerts/engine.ts'
import { RuleBook, singleZone } from '../../levels/book.ts'
import { migrateAlerts } from '../../alerts/store.ts'
import { quietEnd } from '../../alerts/notify.ts'
import { reading } from './helpers.ts'

describe('segments', () => {
  it('counts GSM-7 160/153 with extension characters as 2', () => {
    expect(segmentInfo('a'.repeat(160))).toMatchObject({ encoding: 'gsm7', segments: 1 })
    expect(segmentInfo('a'.repeat(161))).toMatchObject({ encoding: 'gsm7', segments: 2 })
    expect(segmentInfo('a'.repeat(306)).segments).toBe(2)
    expect(segmentInfo('a'.repeat(307)).segments).toBe(3)
    expect(segmentInfo('€'.repeat(80))).toMatchObject({ units: 160, segments: 1 })
    expect(segmentInfo('a' + '€'.repeat(80)).segments).toBe(2)
    // An escape pair is never split: 152 + [ would be 154 in part one.
    const parts = splitSms('a'.repeat(152) + '[' + 'b'.repeat(10), 'gsm7')
    expect(parts[0]).toBe('a'.repeat(152))
  })
  it('counts UCS-2 70/67', () => {
    expect(segmentInfo('ệ'.repeat(70))).toMatchObject({ encoding: 'ucs2', segments: 1 })
    expect(segmentInfo('ệ'.repeat(71)).segments).toBe(2)
    expect(segmentInfo('ệ'.repeat(134)).segments).toBe(2)
    expect(segmentInfo('ệ'.repeat(135)).segments).toBe(3)
    // "Xin chào" is GSM-7-encodable, yet Vietnamese must go as UCS-2 (data_coding 8).
    expect(isGsm7('Xin chào')).toBe(true)
    expect(encodingFor('Xin chào')).toBe('ucs2')
    expect(segmentInfo('à'.repeat(71)).segments).toBe(2)
    expect(encodingFor('Xin chao')).toBe('gsm7')
  })
})

describe('templates', () => {
  const level = zoneRule('rice', 'salinity', 1)!.levels[1]!
  const base = { kind: 'alert' as const, station: { id: 'CM03', name: 'Cống Tân Thuận - Sông Bảy Háp, huyện Đầm Dơi', zone: 'rice' as const }, sensor: 'salinity', level, side: 'above' as const, value: 4.25, threshold: 4, ts: Date.parse('2026-03-12T07:30:00Z'), trend: 'up' as const }
  it('fits the common alert into one GSM-7 segment without diacritics', () => {
    const r = render(base, { lang: 'vi', diacritics: false })
    expect(r.encoding).toBe('gsm7')
    expect(r.segments).toBe(1)
    expect(r.text).toMatch(/^NGUY HIEM: Do man 4,3g\/l \(nguong 4g\/l\) tai Cong Tan Thuan.* \(CM03\) luc 14:30 12\/03, dang tang\. Dong cong, khong lay nuoc\.$/)
  })
  it('renders Vietnamese with diacritics in NFC, and English', () => {
    const vi = render(base, { lang: 'vi', diacritics: true })
    expect(vi.text).toBe(vi.text.normalize('NFC'))
    expect(vi.encoding).toBe('ucs2')
    expect(vi.text).toContain('Độ mặn 4,3‰ (ngưỡng 4‰)')
    const en = render({ ...base, kind: 'resolved', value: 1.5, threshold: 3.6 }, { lang: 'en', diacritics: false })
    expect(en.text).toMatch(/^CLEARED DANGER: Salinity at .* now 1\.5g\/l 14:30 12\/03\. Back below 4g\/l\.$/)
    expect(localTime(Date.parse('2026-03-12T17:05:00Z'))).toBe('00:05 13/03')
  })
  it('strips diacritics and normalizes phones', () => {
    expect(stripDiacritics('Đầm Dơi, Cà Mau')).toBe('Dam Doi, Ca Mau')
    expect(stripDiacritics('Ðầm Dơi')).toBe('Dam Doi') // U+00D0, the look-alike of Đ
    expect(normalizePhone('0912 345 678')).toBe('+84912345678')
    expect(normalizePhone('84912345678')).toBe('+84912345678')
    expect(normalizePhone('12')).toBeUndefined()
  })
})

describe('keywords', () => {
  it('is case- and diacritics-insensitive', () => {
    expect(parseKeyword('đk cm01')).toEqual({ cmd: 'subscribe', station: 'CM01' })
    expect(parseKeyword('  Đăng ký  CM01 ')).toEqual({ cmd: 'subscribe', station: 'CM01' })
    expect(parseKeyword('Hủy')).toEqual({ cmd: 'unsubscribe', station: null })
    expect(parseKeyword('huy CM02')).toEqual({ cmd: 'unsubscribe', station: 'CM02' })
    expect(parseKeyword('TT cm3')).toEqual({ cmd: 'status', station: 'CM3' })
    expect(parseKeyword('dk')).toEqual({ cmd: 'help', reason: 'missing_station' })
    expect(parseKeyword('cho hỏi')).toEqual({ cmd: 'help', reason: 'unknown' })
  })
})

describe('rules and engine', () => {
  it('applies hysteresis', () => {
    const levels = zoneRule('rice', 'salinity', 1)!.levels
    expect(targetLevel(levels, 1.9, null)).toBeNull()
    expect(targetLevel(levels, 2.0, null)?.name).toBe('warning')
    expect(targetLevel(levels, 1.9, 'warning')?.name).toBe('warning')
    expect(targetLevel(levels, 1.1, 'warning')?.name).toBe('warning')
    expect(targetLevel(levels, 1.0, 'warning')).toBeNull()
    expect(targetLevel(levels, 3.1, 'danger')?.name).toBe('danger')
    expect(targetLevel(levels, 2.9, 'danger')?.name).toBe('warning')
    const ph = zoneRule('rice', 'ph', 1)!.levels
    expect(targetLevel(ph, 5.9, null)?.name).toBe('ph_low')
    expect(targetLevel(ph, 8.6, null)?.name).toBe('ph_high')
    expect(targetLevel(ph, 6.1, 'ph_low')?.name).toBe('ph_low')
    expect(targetLevel(ph, 6.3, 'ph_low')).toBeNull()
  })

  function engine() {
    const db = new Database(':memory:')
    migrateAlerts(db)
    return new Engine(db, new RuleBook(db, singleZone()), { staleAfterMs: 30 * 60_000 })
  }

  it('needs N readings (pending), ignores late and out-of-order readings, and fires rate-of-rise', () => {
    const e = engine()
    const t = Date.parse('2026-03-12T07:00:00Z')
    const m = 15 * 60_000
    expect(e.evaluate(reading('S', t, { salinity: 0.5 }), t)).toEqual([])
    const p = e.evaluate(reading('S', t + m, { salinity: 1.2 }), t + m)
    expect(p.map((x) => `${x.ladder}:${x.to}`)).toEqual([])
    const w1 = e.evaluate(reading('S', t + 2 * m, { salinity: 2.1 }), t + 2 * m)
    // Pending warning; rise of 1.6 ‰ within the hour fires the rise ladder at once.
    expect(w1.map((x) => `${x.ladder}:${x.to}:${x.level.name}`)).toEqual(['level:pending:warning', 'rise:firing:rise'])
    // A late reading never moves state.
    expect(e.evaluate(reading('S', t + 3 * m, { salinity: 9 }, true), t + 3 * m)).toEqual([])
    // An old (out-of-order) reading neither.
    expect(e.evaluate(reading('S', t + m, { salinity: 9 }), t + 3 * m)).toEqual([])
    const w2 = e.evaluate(reading('S', t + 3 * m, { salinity: 2.2 }), t + 3 * m)
    expect(w2.map((x) => `${x.ladder}:${x.to}:${x.level.name}`)).toContain('level:firing:warning')
    expect(e.state('S', 'salinity', 'level')?.status).toBe('firing')
    // A stale reading (older than staleAfter on arrival) is skipped too.
    expect(e.evaluate(reading('S', t + 4 * m, { salinity: 0.1 }), t + 4 * m + 3_600_000)).toEqual([])
    expect(e.counters.skippedLate).toBe(1)
  })

  it('keeps the rise window\'s oldest value and minimum equal to a full scan', () => {
    // RiseWindow replaces a per-reading scan of up to 240 samples; check it
    // against that scan over random walks with expiry and a full ring.
    let seed = 7
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
    for (const capacity of [1, 3, 16]) {
      const w = new RiseWindow(capacity)
      let held: Array<{ ts: number; value: number }> = []
      let ts = 0
      for (let i = 0; i < 2000; i++) {
        ts += 1 + Math.floor(random() * 5)
        const from = ts - 1 - Math.floor(random() * 40)
        w.expireBefore(from)
        held = held.filter((s) => s.ts >= from)
        expect(w.size).toBe(held.length)
        if (held.length) {
          expect(w.oldestValue()).toBe(held[0]!.value)
          expect(w.min()).toBe(Math.min(...held.map((s) => s.value)))
        }
        const value = Math.round(random() * 20) / 2
        w.push(ts, value)
        held.push({ ts, value })
        if (held.length > capacity) held = held.slice(held.length - capacity)
      }
    }
  })

  it('computes quiet hours in Asia/Ho_Chi_Minh', () => {
    const q = { start: '21:00', end: '06:00' }
    expect(quietEnd(Date.parse('2026-03-12T15:00:00Z'), q)).toBe(Date.parse('2026-03-12T23:00:00Z')) // 22:00 local
    expect(quietEnd(Date.parse('2026-03-12T05:00:00Z'), q)).toBeNull() // 12:00 local
  })
})
