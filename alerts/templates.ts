import { SENSORS, isSensorKind, shownDecimals } from '../core/sensors.ts'
import type { Level } from '../levels/rules.ts'
import { zoneRule, type Zone } from '../levels/zones.ts'
import { localMonth } from '../levels/book.ts'
import { encodingFor, segmentInfo, type SmsEncoding } from './sms/segments.ts'
import { tidySpaces, toGsm7 } from './text.ts'

/**
 * Message texts. Vietnamese is written with diacritics and transliterated to
 * the GSM-7 alphabet for subscribers (or gateways) without Unicode; English
 * for the rest. Everything returned is NFC. The advice depends on what the
 * water is used for (the station's zone) and on which side of its limit the
 * value is: "close the sluice" protects a rice field from salt and would
 * harm a shrimp pond going fresh after rain. Examples per zone are in
 * docs/ALERTS.md ("Messages"). Without diacritics a message is kept within
 * one GSM-7 segment (160); the station name is shortened only as a last
 * resort, and the station id is always kept.
 */
export type Lang = 'vi' | 'en'
export type Trend = 'up' | 'down' | 'flat' | null

export interface MessageInput {
  kind: 'alert' | 'resolved'
  /** The zone decides the advice: rice advice is wrong for a shrimp pond. */
  /** code: the short SMS code (SD01), named instead of the id when set: it is what the farmer types to subscribe. */
  station: { id: string; name: string; zone: Zone; code?: string | null }
  sensor: string
  level: Level
  /** The side of the level the value is on (an outside band's high or low side); decides the advice and the resolved wording. */
  side: 'above' | 'below'
  value: number | null
  threshold: number
  /** Rise rules: the increase (or, for a 'change' rule, the swing) within the window. */
  delta?: number
  /** Rise rules: the window the delta was measured over; without it the message names no window. */
  windowSec?: number
  ts: number
  trend: Trend
}

export interface RenderOptions {
  lang: Lang
  diacritics: boolean
}

export interface Rendered {
  text: string
  encoding: SmsEncoding
  segments: number
}

const TZ = 'Asia/Ho_Chi_Minh'
const timeFmt = new Intl.DateTimeFormat('en-GB', { timeZone: TZ, hour: '2-digit', minute: '2-digit', day: '2-digit', month: '2-digit', hourCycle: 'h23' })

/** "14:30 12/03" in Asia/Ho_Chi_Minh. */
export function localTime(ts: number): string {
  const p = Object.fromEntries(timeFmt.formatToParts(new Date(ts)).map((x) => [x.type, x.value]))
  return `${p.hour}:${p.minute} ${p.day}/${p.month}`
}

export function formatNumber(v: number, sensor: string, lang: Lang): string {
  const d = shownDecimals(sensor, v) // core/sensors.ts: one precision table for SMS, pages and APIs
  const s = String(Number(v.toFixed(d)))
  return lang === 'vi' ? s.replace('.', ',') : s
}

function unitOf(sensor: string, gsm: boolean): string {
  if (sensor === 'ph') return ''
  const unit = isSensorKind(sensor) ? SENSORS[sensor].unit : ''
  if (!gsm) return unit
  // ‰ and ° are not in the GSM-7 alphabet; 1 ‰ ≈ 1 g/L in practice.
  return unit === '‰' ? 'g/l' : unit === '°C' ? 'C' : unit
}

/**
 * Nitrite is stated with its basis: stations report mg/L of NO2⁻, and the
 * QCVN 08:2023/BTNMT limit is written as N (0.05 as N = 0.164 as NO2⁻;
 * levels/zones.ts NO2_PER_N), a factor of 3.3 a reader must not guess.
 */
const LABEL: Record<Lang, Record<string, string>> = {
  vi: { salinity: 'Độ mặn', water_level: 'Mực nước', ph: 'pH', no2: 'Nitrit (NO2⁻)', temperature: 'Nhiệt độ nước', conductivity: 'Độ dẫn điện' },
  en: { salinity: 'Salinity', water_level: 'Water level', ph: 'pH', no2: 'Nitrite (NO2⁻)', temperature: 'Water temp', conductivity: 'Conductivity' },
}

function headline(level: Level, lang: Lang): string {
  const bd = /^bd([1-3])$/.exec(level.name)
  if (bd) return lang === 'vi' ? `BÁO ĐỘNG ${bd[1]}` : `ALARM LEVEL ${bd[1]}`
  if (level.name === 'no_data') return lang === 'vi' ? 'MẤT TÍN HIỆU' : 'NO DATA'
  if (level.severity === 'danger') return lang === 'vi' ? 'NGUY HIỂM' : 'DANGER'
  return lang === 'vi' ? 'CẢNH BÁO' : 'WARNING'
}

/**
 * Whose advice a message carries. A rice–shrimp field is a shrimp pond in
 * the dry season and a rice field after the rains (levels/zones.ts
 * ZONE_SEASONS), so its profile follows the season; a salinity level names
 * its own season by its shape (a band or a swing rule protects shrimp, an
 * upper limit protects rice), which also holds for station overrides.
 */
export type AdviceProfile = 'rice' | 'shrimp' | 'supply' | 'monitoring'

export function adviceProfile(zone: Zone, sensor: string, level: Level, ts: number): AdviceProfile {
  switch (zone) {
    case 'brackish_aquaculture':
      return 'shrimp'
    case 'water_supply':
      return 'supply'
    case 'monitoring':
      return 'monitoring'
    case 'rice':
      return 'rice'
    case 'rice_shrimp': {
      if (sensor === 'salinity') return level.direction === 'outside' || level.name === 'change' ? 'shrimp' : 'rice'
      const season = zoneRule('rice_shrimp', 'salinity', localMonth(ts))
      return season?.levels.some((l) => l.direction === 'outside') ? 'shrimp' : 'rice'
    }
  }
}

/**
 * Advice, keyed profile.sensor then level name (rise, change, bd1…) or
 * side.severity or side; '*' applies to every profile. Short on purpose:
 * the whole alert must fit one 160-character GSM-7 SMS with the station's
 * full name. Agronomic sources: docs/ALERTS.md ("Messages").
 */
type AdviceTable = Readonly<Record<string, string>>
const ADVICE: Record<Lang, AdviceTable> = {
  vi: {
    // Rice: salt in the field kills seedlings; the sluice keeps it out.
    'rice.salinity.above.warning': 'Không lấy nước vào ruộng lúa.',
    'rice.salinity.above.danger': 'Đóng cống, không lấy nước.',
    'rice.salinity.rise': 'Đo mặn trước khi lấy nước.',
    'rice.ph.below': 'Không lấy nước phèn vào ruộng.',
    'rice.ph.above': 'Kiểm tra nước trước khi lấy vào ruộng.',
    'rice.no2.above': 'Hạn chế lấy nước này vào ao nuôi.',
    // Shrimp: fresh water after heavy rain shocks shrimp; keep the pond water, add lime and minerals.
    'shrimp.salinity.below.warning': 'Hạn chế thay nước, bổ sung vôi/khoáng.',
    'shrimp.salinity.below.danger': 'Ngưng thay nước, bổ sung vôi/khoáng, theo dõi tôm.',
    'shrimp.salinity.above.warning': 'Bổ sung nước ngọt, giảm cho ăn.',
    'shrimp.salinity.above.danger': 'Cấp nước ngọt, giảm cho ăn, theo dõi tôm.',
    'shrimp.salinity.change': 'Hạn chế thay nước, giữ ổn định ao.',
    'shrimp.salinity.rise': 'Hạn chế thay nước, giữ ổn định ao.',
    'shrimp.ph.below': 'Bón vôi nâng pH, hạn chế thay nước.',
    'shrimp.ph.above': 'Thay bớt nước, không bón vôi.',
    'shrimp.no2.above.warning': 'Giảm cho ăn, tăng sục khí.',
    'shrimp.no2.above.danger': 'Ngưng cho ăn, sục khí, thay bớt nước.',
    // Drinking-water intake: salt cannot be treated out; stop the raw-water intake and use storage.
    'supply.salinity.above.warning': 'Tích trữ nước, sẵn sàng ngừng lấy nước thô.',
    'supply.salinity.above.danger': 'Ngừng lấy nước thô vào nhà máy, dùng nước trữ.',
    'supply.salinity.rise': 'Tích trữ nước, theo dõi độ mặn.',
    'supply.ph.below': 'Điều chỉnh pH khi xử lý nước.',
    'supply.ph.above': 'Điều chỉnh pH khi xử lý nước.',
    'supply.no2.above': 'Ngừng lấy nước thô, kiểm tra nước cấp.',
    // Monitoring stations: staff only, watching the salt front move inland.
    'monitoring.salinity.above': 'Theo dõi xâm nhập mặn.',
    'monitoring.salinity.rise': 'Theo dõi xâm nhập mặn.',
    // Official alarm levels (BĐ1–BĐ3): the same for every zone.
    '*.water_level.bd1': 'Theo dõi triều, kiểm tra bờ bao.',
    '*.water_level.bd2': 'Gia cố bờ bao, theo dõi triều.',
    '*.water_level.bd3': 'Gia cố bờ bao, kê cao tài sản, theo dõi triều.',
    '*.water_level.above.warning': 'Gia cố bờ bao, theo dõi triều.',
    '*.water_level.above.danger': 'Gia cố bờ bao, kê cao tài sản, theo dõi triều.',
  },
  en: {
    'rice.salinity.above.warning': 'Do not take water into rice fields.',
    'rice.salinity.above.danger': 'Close sluice gates, take no water.',
    'rice.salinity.rise': 'Check salinity before taking water.',
    'rice.ph.below': 'Do not take acid water into fields.',
    'rice.ph.above': 'Check water before taking it in.',
    'rice.no2.above': 'Avoid this water for ponds.',
    'shrimp.salinity.below.warning': 'Limit water exchange, add lime/minerals.',
    'shrimp.salinity.below.danger': 'Stop water exchange, add lime/minerals, watch shrimp.',
    'shrimp.salinity.above.warning': 'Add fresh water, feed less.',
    'shrimp.salinity.above.danger': 'Add fresh water, feed less, watch shrimp.',
    'shrimp.salinity.change': 'Limit water exchange, keep the pond stable.',
    'shrimp.salinity.rise': 'Limit water exchange, keep the pond stable.',
    'shrimp.ph.below': 'Add lime to raise pH, limit water exchange.',
    'shrimp.ph.above': 'Exchange some water, no lime.',
    'shrimp.no2.above.warning': 'Feed less, aerate more.',
    'shrimp.no2.above.danger': 'Stop feeding, aerate, exchange some water.',
    'supply.salinity.above.warning': 'Store water, be ready to stop the intake.',
    'supply.salinity.above.danger': 'Stop raw water intake, use stored water.',
    'supply.salinity.rise': 'Store water, watch salinity.',
    'supply.ph.below': 'Adjust pH in treatment.',
    'supply.ph.above': 'Adjust pH in treatment.',
    'supply.no2.above': 'Stop raw water intake, test supplied water.',
    'monitoring.salinity.above': 'Watch the salt front.',
    'monitoring.salinity.rise': 'Watch the salt front.',
    '*.water_level.bd1': 'Watch the tide, check dykes.',
    '*.water_level.bd2': 'Reinforce dykes, watch the tide.',
    '*.water_level.bd3': 'Reinforce dykes, raise belongings, watch the tide.',
    '*.water_level.above.warning': 'Reinforce dykes, watch the tide.',
    '*.water_level.above.danger': 'Reinforce dykes, raise belongings, watch the tide.',
  },
}

/** The advice for an alert, or '' when none fits (no advice is better than wrong advice). */
export function advice(m: Pick<MessageInput, 'station' | 'sensor' | 'level' | 'side' | 'ts'>, lang: Lang): string {
  const table = ADVICE[lang]
  const p = adviceProfile(m.station.zone, m.sensor, m.level, m.ts)
  const { name, severity } = m.level
  for (const scope of [p, '*']) {
    const base = `${scope}.${m.sensor}`
    const hit = table[`${base}.${name}`] ?? table[`${base}.${m.side}.${severity}`] ?? table[`${base}.${m.side}`]
    if (hit !== undefined) return hit
  }
  return ''
}

function trendText(trend: Trend, lang: Lang): string {
  if (!trend) return ''
  const t = lang === 'vi' ? { up: 'đang tăng', down: 'đang giảm', flat: 'ổn định' } : { up: 'rising', down: 'falling', flat: 'steady' }
  return t[trend]
}

/** "trong 24 giờ" / "in 24 h"; '' when the window is unknown (never a made-up one). */
function windowText(windowSec: number | undefined, lang: Lang): string {
  if (!windowSec) return ''
  const vi = lang === 'vi'
  const n = windowSec % 3600 === 0 ? `${windowSec / 3600} ${vi ? 'giờ' : 'h'}` : `${Math.round(windowSec / 60)} ${vi ? 'phút' : 'min'}`
  return ` ${vi ? 'trong' : 'in'} ${n}`
}

function compose(m: MessageInput, lang: Lang, gsm: boolean, name: string): string {
  const vi = lang === 'vi'
  const label = LABEL[lang][m.sensor] ?? m.sensor
  const unit = unitOf(m.sensor, gsm)
  const num = (v: number): string => `${formatNumber(v, m.sensor, lang)}${unit}`
  // The station id is always there; the name only when there is room (render()).
  const ref = m.station.code || m.station.id
  const station = name ? `${name} (${ref})` : ref
  const where = `${vi ? 'tại' : 'at'} ${station}`
  const when = `${vi ? 'lúc ' : ''}${localTime(m.ts)}`
  const head = headline(m.level, lang)
  if (m.level.name === 'no_data') {
    return m.kind === 'alert'
      ? vi
        ? `${head}: trạm ${station} không gửi dữ liệu, kiểm tra lúc ${localTime(m.ts)}.`
        : `${head}: station ${station} silent, checked ${localTime(m.ts)}.`
      : vi
        ? `CÓ TÍN HIỆU LẠI: trạm ${station} ${when}.`
        : `DATA BACK: station ${station} ${when}.`
  }
  const swing = m.level.name === 'rise' || m.level.name === 'change'
  if (m.kind === 'resolved') {
    const value = m.value === null ? '' : ` ${vi ? 'còn' : 'now'} ${num(m.value)}`
    return `${vi ? 'HẾT' : 'CLEARED'} ${head}: ${label} ${where}${value} ${when}. ${resolvedText(m, lang, swing, num)}`
  }
  const trend = trendText(m.trend, lang)
  const adviceText = advice(m, lang)
  const end = adviceText ? `. ${adviceText}` : '.'
  if (swing) {
    const delta = num(m.delta ?? m.threshold)
    const now = m.value === null ? '' : `, ${vi ? 'nay' : 'now'} ${num(m.value)}`
    const moved = m.level.name === 'change' ? (vi ? 'thay đổi' : 'changed') : vi ? 'tăng' : 'up'
    // A swing can go either way: the trend says which. A rise is rising by definition.
    const dir = m.level.name === 'change' && trend ? `, ${trend}` : ''
    return `${head}: ${label} ${moved} ${delta}${windowText(m.windowSec, lang)}${now} ${where} ${when}${dir}${end}`
  }
  const value = m.value === null ? '' : ` ${num(m.value)}`
  // "Độ mặn 3,1‰ thấp (ngưỡng 5‰)": a lower limit or a band must say which way the value is off.
  const sideWord = m.level.direction === 'above' || m.value === null ? '' : m.side === 'below' ? (vi ? ' thấp' : ' low') : vi ? ' cao' : ' high'
  const bd = /^bd[1-3]$/.test(m.level.name) ? `${vi ? 'BĐ' : 'alarm '}${m.level.name.slice(2)} ` : ''
  const limit = `(${bd || (vi ? 'ngưỡng ' : 'limit ')}${num(m.threshold)})`
  return `${head}: ${label}${value}${sideWord} ${limit} ${where} ${when}${trend ? `, ${trend}` : ''}${end}`
}

/**
 * The all-clear, worded by the rule's direction: a pH that was too low is
 * "back above 6", not "below the threshold"; a band says "back within 5–35".
 */
function resolvedText(m: MessageInput, lang: Lang, swing: boolean, num: (v: number) => string): string {
  const vi = lang === 'vi'
  const l = m.level
  if (swing) return vi ? 'Đã ổn định trở lại.' : 'Steady again.'
  if (l.direction === 'outside') {
    const band = `${formatNumber(l.threshold, m.sensor, lang)}–${num(l.high!)}`
    return vi ? `Đã trở lại trong khoảng ${band}.` : `Back within ${band}.`
  }
  if (l.direction === 'below') return vi ? `Đã trở lại trên ${num(l.threshold)}.` : `Back above ${num(l.threshold)}.`
  const bd = /^bd[1-3]$/.test(l.name) ? `${vi ? 'BĐ' : 'alarm level '}${l.name.slice(2)} ` : ''
  return vi ? `Đã xuống dưới ${bd}${num(l.threshold)}.` : `Back below ${bd}${num(l.threshold)}.`
}

export function render(m: MessageInput, opts: RenderOptions): Rendered {
  if (opts.diacritics) return finalize(compose(m, opts.lang, false, tidySpaces(m.station.name)))
  const plain = (name: string): string => toGsm7(compose(m, opts.lang, true, name))
  // Transliterated, never cut: NBSP, dashes and Ð become GSM-7, so the full name fits.
  let name = tidySpaces(toGsm7(m.station.name))
  let text = plain(name)
  // Last resort, for names too long for one SMS: shorten the name, never the
  // facts or the station id; with no room at all, the id alone.
  for (let units = segmentInfo(text, 'gsm7').units; units > 160 && name; units = segmentInfo(text, 'gsm7').units) {
    const stem = name.replace(/\.$/, '')
    const keep = stem.length - (units - 160) - 1 // room for the '.' that marks the cut
    name = keep >= 4 ? `${stem.slice(0, keep).replace(/[\s,;:()-]+$/, '')}.` : ''
    text = plain(name)
  }
  return finalize(text)
}

export function finalize(text: string): Rendered {
  const nfc = text.normalize('NFC')
  const encoding = encodingFor(nfc)
  return { text: nfc, encoding, segments: segmentInfo(nfc, encoding).segments }
}

/** Forces a message to GSM-7 for gateways that refuse Unicode (text.ts toGsm7: transliterated, never UCS-2). */
export function toGsm(text: string): string {
  return toGsm7(text)
}
