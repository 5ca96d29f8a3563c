import { SENSORS, isSensorKind } from '../core/sensors.ts'
import type { Level } from '../levels/rules.ts'
import type { Zone } from '../levels/zones.ts'
import { encodingFor, isGsm7, segmentInfo, type SmsEncoding } from './sms/segments.ts'
import { stripDiacritics } from './text.ts'

/**
 * Message texts. Vietnamese is written with diacritics and reduced to plain
 * ASCII for subscribers (or gateways) without Unicode; English for the rest.
 * Everything returned is NFC. In no-diacritics mode the common alert is kept
 * within one GSM-7 segment (160) by shortening the station name if needed.
 */
export type Lang = 'vi' | 'en'
export type Trend = 'up' | 'down' | 'flat' | null

export interface MessageInput {
  kind: 'alert' | 'resolved'
  /** The zone decides the advice: rice advice is wrong for a shrimp pond. */
  station: { id: string; name: string; zone: Zone }
  sensor: string
  level: Level
  /** The side of the level the value is on (an outside band's high or low side); decides the advice and the resolved wording. */
  side: 'above' | 'below'
  value: number | null
  threshold: number
  /** Rise rules: the increase within the window. */
  delta?: number
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

const DECIMALS: Record<string, number> = { salinity: 1, ph: 1, no2: 2, water_level: 0, temperature: 1, conductivity: 1 }

export function formatNumber(v: number, sensor: string, lang: Lang): string {
  const d = DECIMALS[sensor] ?? 1
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

const LABEL: Record<Lang, Record<string, string>> = {
  vi: { salinity: 'Độ mặn', water_level: 'Mực nước', ph: 'pH', no2: 'Nitrit', temperature: 'Nhiệt độ nước', conductivity: 'Độ dẫn điện' },
  en: { salinity: 'Salinity', water_level: 'Water level', ph: 'pH', no2: 'Nitrite', temperature: 'Water temp', conductivity: 'Conductivity' },
}

function headline(level: Level, lang: Lang): string {
  const bd = /^bd([1-3])$/.exec(level.name)
  if (bd) return lang === 'vi' ? `BÁO ĐỘNG ${bd[1]}` : `ALARM LEVEL ${bd[1]}`
  if (level.name === 'no_data') return lang === 'vi' ? 'MẤT TÍN HIỆU' : 'NO DATA'
  if (level.severity === 'danger') return lang === 'vi' ? 'NGUY HIỂM' : 'DANGER'
  return lang === 'vi' ? 'CẢNH BÁO' : 'WARNING'
}

const ADVICE: Record<Lang, Record<string, string>> = {
  vi: {
    'salinity.warning': 'Không lấy nước vào ruộng lúa.',
    'salinity.danger': 'Đóng cống, không lấy nước.',
    'salinity.rise': 'Theo dõi trước khi lấy nước.',
    ph: 'Kiểm tra ao nuôi, hạn chế thay nước.',
    no2: 'Giảm cho ăn, kiểm tra ao tôm.',
    water_level: 'Gia cố bờ bao, theo dõi triều.',
    resolved: 'Đã dưới ngưỡng.',
  },
  en: {
    'salinity.warning': 'Do not take water into rice fields.',
    'salinity.danger': 'Close sluice gates, take no water.',
    'salinity.rise': 'Check before taking water.',
    ph: 'Check ponds, limit water exchange.',
    no2: 'Feed less, check shrimp ponds.',
    water_level: 'Reinforce dykes, watch the tide.',
    resolved: 'Back below the limit.',
  },
}

function advice(sensor: string, level: Level, lang: Lang): string {
  const a = ADVICE[lang]
  return a[`${sensor}.${level.name}`] ?? a[`${sensor}.${level.severity}`] ?? a[sensor] ?? ''
}

function trendText(trend: Trend, lang: Lang): string {
  if (!trend) return ''
  const t = lang === 'vi' ? { up: 'đang tăng', down: 'đang giảm', flat: 'ổn định' } : { up: 'rising', down: 'falling', flat: 'steady' }
  return t[trend]
}

function compose(m: MessageInput, lang: Lang, gsm: boolean, name: string): string {
  const vi = lang === 'vi'
  const label = LABEL[lang][m.sensor] ?? m.sensor
  const unit = unitOf(m.sensor, gsm)
  const num = (v: number): string => `${formatNumber(v, m.sensor, lang)}${unit}`
  const where = `${vi ? 'tại' : 'at'} ${name} (${m.station.id})`
  const when = `${vi ? 'lúc ' : ''}${localTime(m.ts)}`
  const head = headline(m.level, lang)
  if (m.level.name === 'no_data') {
    return m.kind === 'alert'
      ? vi
        ? `${head}: trạm ${name} (${m.station.id}) không gửi dữ liệu, kiểm tra lúc ${localTime(m.ts)}.`
        : `${head}: station ${name} (${m.station.id}) silent, checked ${localTime(m.ts)}.`
      : vi
        ? `CÓ TÍN HIỆU LẠI: trạm ${name} (${m.station.id}) ${when}.`
        : `DATA BACK: station ${name} (${m.station.id}) ${when}.`
  }
  if (m.kind === 'resolved') {
    const value = m.value === null ? '' : ` ${vi ? 'còn' : 'now'} ${num(m.value)}`
    return `${vi ? 'HẾT' : 'CLEARED'} ${head}: ${label} ${where}${value} ${when}. ${ADVICE[lang].resolved}`
  }
  const trend = trendText(m.trend, lang)
  const tail = [trend, advice(m.sensor, m.level, lang)].filter(Boolean)
  const adviceText = advice(m.sensor, m.level, lang)
  if (m.level.name === 'rise') {
    const delta = num(m.delta ?? m.threshold)
    const now = m.value === null ? '' : `, ${vi ? 'nay' : 'now'} ${num(m.value)}`
    return vi
      ? `${head}: ${label} tăng ${delta} trong 1 giờ${now} ${where} ${when}. ${adviceText}`
      : `${head}: ${label} up ${delta} in 1 h${now} ${where} ${when}. ${adviceText}`
  }
  const value = m.value === null ? '' : ` ${num(m.value)}`
  const limit = `(${vi ? 'ngưỡng' : 'limit'} ${num(m.threshold)})`
  const rest = tail.length ? (trend ? `, ${trend}. ${adviceText}` : `. ${adviceText}`) : '.'
  return `${head}: ${label}${value} ${limit} ${where} ${when}${rest}`.trim()
}

export function render(m: MessageInput, opts: RenderOptions): Rendered {
  const plain = !opts.diacritics
  const finish = (name: string): string => {
    const t = compose(m, opts.lang, plain, name).normalize('NFC')
    return plain ? stripDiacritics(t) : t
  }
  let text = finish(m.station.name)
  if (plain) {
    // Keep the common alert in one segment: shorten the station name, never the facts.
    let name = stripDiacritics(m.station.name)
    while (segmentInfo(text).segments > 1 && name.length > 8) {
      name = name.slice(0, name.length - 4) + '.'
      text = finish(name)
    }
  }
  return finalize(text)
}

export function finalize(text: string): Rendered {
  const nfc = text.normalize('NFC')
  const encoding = encodingFor(nfc)
  return { text: nfc, encoding, segments: segmentInfo(nfc, encoding).segments }
}

/** Forces a message to GSM-7 for gateways that refuse Unicode. */
export function toGsm(text: string): string {
  const plain = stripDiacritics(text).replace(/‰/g, 'g/l').replace(/°/g, '')
  return Array.from(plain)
    .map((ch) => (isGsm7(ch) ? ch : '?'))
    .join('')
}
