/**
 * Message texts (alerts/templates.ts, alerts/text.ts): advice by zone and
 * direction, wording of low/high, swings and all-clears, and the GSM-7
 * transliteration that keeps a plain message in one segment. Pure functions;
 * the engine part uses an in-memory SQLite database.
 */
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { Engine } from '../../alerts/engine.ts'
import { encodingFor, segmentInfo } from '../../alerts/sms/segments.ts'
import { migrateAlerts } from '../../alerts/store.ts'
import { advice, render, type MessageInput } from '../../alerts/templates.ts'
import { toGsm7 } from '../../alerts/text.ts'
import { RuleBook, singleZone } from '../../levels/book.ts'
import { clearFor, limitFor, riseLevel, sideOf, type Level, type SensorRule } from '../../levels/rules.ts'
import { alarmLevelsRule, allZoneRules, zoneRule, type Zone } from '../../levels/zones.ts'
import { reading } from './helpers.ts'

const MARCH = Date.parse('2026-03-12T07:30:00Z') // 14:30 local, shrimp season for rice–shrimp
const SEPTEMBER = Date.parse('2026-09-12T07:30:00Z') // rice season
/** A real-looking name as station lists carry it: NBSP, an en dash, and Ð (U+00D0) typed for Đ. */
const NAME = 'Cống\u00a0Tân Thuận – Ðầm Dơi'

function input(zone: Zone, sensor: string, level: Level, value: number, extra: Partial<MessageInput> = {}): MessageInput {
  const kind = extra.kind ?? 'alert'
  return {
    kind,
    station: { id: 'SD01', name: NAME, zone },
    sensor,
    level,
    side: sideOf(level, value),
    value,
    threshold: kind === 'resolved' ? clearFor(level, value) : limitFor(level, value),
    ts: MARCH,
    trend: null,
    ...extra,
  }
}

const rule = (zone: Zone, sensor: string, ts = MARCH): SensorRule => zoneRule(zone, sensor, new Date(ts + 7 * 3600_000).getUTCMonth() + 1)!
const level = (zone: Zone, sensor: string, name: string, ts = MARCH): Level => rule(zone, sensor, ts).levels.find((l) => l.name === name)!
const vi = (m: MessageInput, diacritics = true): string => render(m, { lang: 'vi', diacritics }).text
const en = (m: MessageInput): string => render(m, { lang: 'en', diacritics: false }).text

describe('advice by zone and direction', () => {
  it('tells a rice farmer to close the sluice on high salinity', () => {
    const m = input('rice', 'salinity', level('rice', 'salinity', 'danger'), 4.3, { trend: 'up' })
    expect(vi(m)).toBe('NGUY HIỂM: Độ mặn 4,3‰ (ngưỡng 4‰) tại Cống Tân Thuận – Ðầm Dơi (SD01) lúc 14:30 12/03, đang tăng. Đóng cống, không lấy nước.')
    expect(vi(input('rice', 'salinity', level('rice', 'salinity', 'warning'), 2.4))).toContain('Không lấy nước vào ruộng lúa.')
  })

  it('never tells a shrimp farmer whose pond is going fresh to close the sluice', () => {
    const low = input('brackish_aquaculture', 'salinity', level('brackish_aquaculture', 'salinity', 'warning'), 3.1, { trend: 'down' })
    expect(low.side).toBe('below')
    expect(vi(low)).toBe('CẢNH BÁO: Độ mặn 3,1‰ thấp (ngưỡng 5‰) tại Cống Tân Thuận – Ðầm Dơi (SD01) lúc 14:30 12/03, đang giảm. Hạn chế thay nước, bổ sung vôi/khoáng.')
    const lowDanger = input('brackish_aquaculture', 'salinity', level('brackish_aquaculture', 'salinity', 'danger'), 1.2)
    expect(vi(lowDanger)).toContain('thấp (ngưỡng 2‰)')
    expect(vi(lowDanger)).toContain('Ngưng thay nước, bổ sung vôi/khoáng, theo dõi tôm.')
    const high = input('brackish_aquaculture', 'salinity', level('brackish_aquaculture', 'salinity', 'warning'), 36.5)
    expect(vi(high)).toContain('Độ mặn 36,5‰ cao (ngưỡng 35‰)')
    expect(vi(high)).toContain('Bổ sung nước ngọt, giảm cho ăn.')
    expect(en(high)).toContain('Salinity 36.5g/l high (limit 35g/l)')
    for (const m of [low, lowDanger, high]) expect(vi(m)).not.toMatch(/Đóng cống|không lấy nước/)
  })

  it('follows the season of a rice–shrimp field', () => {
    const shrimp = input('rice_shrimp', 'salinity', level('rice_shrimp', 'salinity', 'warning', MARCH), 3.5)
    expect(vi(shrimp)).toContain('Hạn chế thay nước')
    const rice = input('rice_shrimp', 'salinity', level('rice_shrimp', 'salinity', 'danger', SEPTEMBER), 4.5, { ts: SEPTEMBER })
    expect(vi(rice)).toContain('Đóng cống, không lấy nước.')
    // pH has no band to tell the season by: the local month does.
    const phLow = (ts: number): MessageInput => input('rice_shrimp', 'ph', level('rice_shrimp', 'ph', 'ph_low', ts), 5.5, { ts })
    expect(vi(phLow(MARCH))).toContain('Bón vôi nâng pH')
    expect(vi(phLow(SEPTEMBER))).toContain('Không lấy nước phèn vào ruộng.')
  })

  it('tells a drinking-water intake to stop taking raw water', () => {
    const m = input('water_supply', 'salinity', level('water_supply', 'salinity', 'danger'), 0.46)
    expect(vi(m)).toContain('Độ mặn 0,46‰ (ngưỡng 0,45‰)')
    expect(vi(m)).toContain('Ngừng lấy nước thô vào nhà máy, dùng nước trữ.')
    expect(vi(input('water_supply', 'salinity', level('water_supply', 'salinity', 'warning'), 0.3))).toContain('Tích trữ nước')
  })

  it('gives pH advice by side and zone', () => {
    expect(vi(input('brackish_aquaculture', 'ph', level('brackish_aquaculture', 'ph', 'ph_low'), 6.8))).toContain('pH 6,8 thấp (ngưỡng 7)')
    expect(vi(input('brackish_aquaculture', 'ph', level('brackish_aquaculture', 'ph', 'ph_high'), 9.3))).toContain('Thay bớt nước, không bón vôi.')
    expect(vi(input('rice', 'ph', level('rice', 'ph', 'ph_low'), 5.2))).toContain('Không lấy nước phèn vào ruộng.')
    expect(vi(input('water_supply', 'ph', level('water_supply', 'ph', 'ph_high'), 8.9))).toContain('Điều chỉnh pH khi xử lý nước.')
  })

  it('states the basis of a nitrite value', () => {
    const m = input('rice', 'no2', level('rice', 'no2', 'warning'), 0.2)
    expect(vi(m)).toContain('Nitrit (NO2⁻) 0,2mg/L (ngưỡng 0,16mg/L)')
    expect(en(m)).toContain('Nitrite (NO2-) 0.2mg/L (limit 0.16mg/L)')
    expect(vi(input('brackish_aquaculture', 'no2', level('brackish_aquaculture', 'no2', 'danger'), 3.5))).toContain('Ngưng cho ăn, sục khí, thay bớt nước.')
  })

  it('names the official alarm level and advises on dykes', () => {
    const bd = alarmLevelsRule({ bd1: 140, bd2: 150, bd3: 160 }).levels
    const m = input('rice', 'water_level', bd[2]!, 171)
    expect(vi(m)).toBe('BÁO ĐỘNG 3: Mực nước 171cm (BĐ3 160cm) tại Cống Tân Thuận – Ðầm Dơi (SD01) lúc 14:30 12/03. Gia cố bờ bao, kê cao tài sản, theo dõi triều.')
    expect(vi(input('brackish_aquaculture', 'water_level', bd[0]!, 142))).toContain('BÁO ĐỘNG 1: Mực nước 142cm (BĐ1 140cm)')
    expect(vi(input('brackish_aquaculture', 'water_level', bd[0]!, 142))).toContain('Theo dõi triều, kiểm tra bờ bao.')
  })

  it('gives no advice rather than a wrong one', () => {
    // A rice rule has no low side; an override with one gets facts, no advice.
    const low: Level = { name: 'low', severity: 'warning', direction: 'below', threshold: 0.5, pendingReadings: 1, pendingSec: 0, notifyFarmers: true }
    expect(advice(input('rice', 'salinity', low, 0.3), 'vi')).toBe('')
    expect(vi(input('rice', 'salinity', low, 0.3))).toMatch(/thấp \(ngưỡng 0,5‰\) tại .* lúc 14:30 12\/03\.$/)
  })
})

describe('swings and rises name their real window', () => {
  it('reads a 24 h swing in a shrimp pond as a change, with its direction', () => {
    const swing = riseLevel(rule('brackish_aquaculture', 'salinity').rise!)
    const m = input('brackish_aquaculture', 'salinity', swing, 12, { delta: 5.2, windowSec: 86_400, threshold: 5, trend: 'down' })
    expect(vi(m)).toBe('CẢNH BÁO: Độ mặn thay đổi 5,2‰ trong 24 giờ, nay 12‰ tại Cống Tân Thuận – Ðầm Dơi (SD01) lúc 14:30 12/03, đang giảm. Hạn chế thay nước, giữ ổn định ao.')
    expect(en(m)).toContain('Salinity changed 5.2g/l in 24 h, now 12g/l')
  })

  it('reads a rice rise as a rise within its hour, and never invents a window', () => {
    const rise = riseLevel(rule('rice', 'salinity').rise!)
    const m = input('rice', 'salinity', rise, 2.1, { delta: 1.6, windowSec: 3600, threshold: 1 })
    expect(vi(m)).toContain('Độ mặn tăng 1,6‰ trong 1 giờ, nay 2,1‰')
    expect(vi(m)).toContain('Đo mặn trước khi lấy nước.')
    expect(vi({ ...m, windowSec: 1800 })).toContain('tăng 1,6‰ trong 30 phút')
    const { windowSec: _, ...noWindow } = m
    expect(vi(noWindow)).toContain('Độ mặn tăng 1,6‰, nay 2,1‰')
  })

  it('carries the rule window from the engine to the transition', () => {
    const db = new Database(':memory:')
    migrateAlerts(db)
    const e = new Engine(db, new RuleBook(db, singleZone('brackish_aquaculture'), () => MARCH), { staleAfterMs: 30 * 60_000 })
    const swing = rule('brackish_aquaculture', 'salinity').rise!
    const t0 = MARCH
    e.evaluate(reading('P1', t0, { salinity: 18 }), t0)
    const out = e.evaluate(reading('P1', t0 + 3 * 3600_000, { salinity: 18 - swing.delta - 0.5 }), t0 + 3 * 3600_000)
    const change = out.find((t) => t.ladder === 'rise')!
    expect(change.level.name).toBe('change')
    expect(change.windowSec).toBe(swing.windowSec)
    expect(change.delta).toBe(swing.delta + 0.5)
  })
})

describe('the all-clear fits the direction', () => {
  it('says a low pH is back above its limit, not below the threshold', () => {
    const m = input('rice', 'ph', level('rice', 'ph', 'ph_low'), 6.4, { kind: 'resolved' })
    expect(vi(m)).toBe('HẾT CẢNH BÁO: pH tại Cống Tân Thuận – Ðầm Dơi (SD01) còn 6,4 lúc 14:30 12/03. Đã trở lại trên 6.')
    expect(en(m)).toMatch(/Back above 6\.$/)
    expect(vi(m)).not.toMatch(/dưới/)
  })

  it('says a band is back within its range, and a high value back below its limit', () => {
    const band = input('brackish_aquaculture', 'salinity', level('brackish_aquaculture', 'salinity', 'warning'), 8, { kind: 'resolved' })
    expect(vi(band)).toMatch(/Đã trở lại trong khoảng 5–35‰\.$/)
    expect(vi(band, false)).toMatch(/Da tro lai trong khoang 5-35g\/l\.$/)
    expect(en(band)).toMatch(/Back within 5-35g\/l\.$/)
    const rice = input('rice', 'salinity', level('rice', 'salinity', 'danger'), 1.5, { kind: 'resolved' })
    expect(vi(rice)).toMatch(/^HẾT NGUY HIỂM: Độ mặn tại .* còn 1,5‰ lúc 14:30 12\/03\. Đã xuống dưới 4‰\.$/)
    const bd = input('rice', 'water_level', alarmLevelsRule({ bd1: 65, bd2: 75, bd3: 85 }).levels[1]!, 70, { kind: 'resolved' })
    expect(vi(bd)).toMatch(/^HẾT BÁO ĐỘNG 2: .* Đã xuống dưới BĐ2 75cm\.$/)
    const swing = input('brackish_aquaculture', 'salinity', riseLevel(rule('brackish_aquaculture', 'salinity').rise!), 14, { kind: 'resolved', threshold: 2.5 })
    expect(vi(swing)).toMatch(/Đã ổn định trở lại\.$/)
  })
})

describe('GSM-7 transliteration', () => {
  it('maps every non-GSM character instead of falling back to UCS-2', () => {
    const cases: Array<[string, string]> = [
      ['Cống\u00a0Tân\u202fThuận', 'Cong Tan Thuan'], // NBSP, narrow NBSP
      ['Ðầm Dơi – Cái Nước — Năm Căn', 'Dam Doi - Cai Nuoc - Nam Can'], // Ð U+00D0, en and em dash
      ['Đ đ ð', 'D d d'],
      ['“Cống” ‘Đá’ «x»', '"Cong" \'Da\' "x"'],
      ['a\u200bb\u200d\ufeffc\u00adD', 'abcD'], // zero-width, BOM, soft hyphen removed
      ['3,1‰ 25°C', '3,1g/l 25C'],
      ['• một…', '- mot...'],
      ['Ø Æ ß ½ ＡＢ ×', 'O AE ss 1/2 AB x'], // no decomposition; NFKC fractions and full-width
      ['中😀', '??'], // nothing to transliterate: one "?" per character, still GSM-7
    ]
    for (const [input, expected] of cases) {
      const out = toGsm7(input)
      expect(out, input).toBe(expected)
      expect(encodingFor(out), input).toBe('gsm7')
    }
  })

  it('keeps a name with NBSP, dashes and Ð whole, in one GSM-7 segment', () => {
    const m = input('rice', 'salinity', level('rice', 'salinity', 'danger'), 4.3, { trend: 'up' })
    const plain = render(m, { lang: 'vi', diacritics: false })
    expect(plain).toMatchObject({ encoding: 'gsm7', segments: 1 })
    expect(plain.text).toBe('NGUY HIEM: Do man 4,3g/l (nguong 4g/l) tai Cong Tan Thuan - Dam Doi (SD01) luc 14:30 12/03, dang tang. Dong cong, khong lay nuoc.')
    // Before: the stray characters made the text UCS-2 and the name was cut.
    expect(render({ ...m, station: { ...m.station, name: 'Trạm\u00a0Sông Đốc – Ðá Bạc' } }, { lang: 'vi', diacritics: false }).text).toContain('tai Tram Song Doc - Da Bac (SD01)')
  })

  it('shortens a name only as a last resort, and always keeps the station id', () => {
    const long = { ...input('brackish_aquaculture', 'salinity', level('brackish_aquaculture', 'salinity', 'danger'), 41.5, { trend: 'up' }), station: { id: 'SD01', name: 'Cống Tân Thuận – Sông Bảy Háp, xã Tân Thuận, huyện Đầm Dơi', zone: 'brackish_aquaculture' as const } }
    const r = render(long, { lang: 'vi', diacritics: false })
    expect(r).toMatchObject({ encoding: 'gsm7', segments: 1 })
    expect(r.text).toMatch(/tai Cong Tan Thuan - Song Bay Hap.*\. \(SD01\) luc 14:30 12\/03, dang tang\. Cap nuoc ngot, giam cho an, theo doi tom\.$/)
    const absurd = render({ ...long, station: { ...long.station, name: 'x'.repeat(400) } }, { lang: 'vi', diacritics: false })
    expect(absurd.segments).toBe(1)
    expect(absurd.text).toMatch(/ tai x+\. \(SD01\) luc /)
  })

  it('fits every default level of every zone, each side, alert and all-clear, in one plain segment', () => {
    const rules = allZoneRules().map((r) => ({ zone: r.zone, sensor: r.sensor as string, rule: r.rule, ts: r.months.includes(3) ? MARCH : SEPTEMBER }))
    rules.push({ zone: 'rice', sensor: 'water_level', rule: alarmLevelsRule({ bd1: 180, bd2: 200, bd3: 220 }), ts: MARCH })
    let checked = 0
    for (const { zone, sensor, rule: r, ts } of rules) {
      const cases: Array<{ level: Level; value: number; delta?: number; windowSec?: number }> = []
      for (const l of r.levels) {
        const past = (edge: number, sign: 1 | -1): number => Math.max(0, edge + sign * Math.max(Math.abs(edge) * 0.137, 0.137))
        if (l.direction !== 'below') cases.push({ level: l, value: past(l.high ?? l.threshold, 1) })
        if (l.direction !== 'above') cases.push({ level: l, value: past(l.threshold, -1) })
      }
      if (r.rise) cases.push({ level: riseLevel(r.rise), value: 23.4, delta: r.rise.delta * 1.13, windowSec: r.rise.windowSec })
      for (const c of cases) {
        for (const kind of ['alert', 'resolved'] as const) {
          const m = input(zone, sensor, c.level, c.value, { kind, ts, trend: 'down', ...(c.delta === undefined ? {} : { delta: c.delta, windowSec: c.windowSec!, threshold: c.level.threshold }) })
          for (const lang of ['vi', 'en'] as const) {
            const out = render(m, { lang, diacritics: false })
            expect(out.encoding, out.text).toBe('gsm7')
            expect(out.segments, out.text).toBe(1)
            expect(segmentInfo(out.text).encoding).toBe('gsm7')
            // The full name: nothing was cut for any default message.
            expect(out.text, out.text).toContain('Cong Tan Thuan - Dam Doi (SD01)')
            checked++
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(100)
  })
})
