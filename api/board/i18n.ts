import { SENSORS, type SensorKind } from '../../core/sensors.ts'
import { LOCAL_OFFSET_MS, type SalinityLevel } from './data.ts'

/**
 * The board's words, Vietnamese first (farmers read it), English for
 * agencies and visitors. Numbers use the local decimal mark: 3,2 ‰ in
 * Vietnamese, 3.2 ‰ in English.
 */
export type Lang = 'vi' | 'en'

export function langOf(raw: unknown): Lang {
  return raw === 'en' ? 'en' : 'vi'
}

export interface Strings {
  htmlLang: string
  title: string
  intro: (warning: string, danger: string) => string
  station: string
  salinity: string
  level: string
  last24h: string
  levels: Record<SalinityLevel | 'none', string>
  thresholdNames: Record<string, string>
  summary: (danger: number, warning: number, ok: number) => string
  otherLang: string
  otherLangCode: Lang
  back: string
  last7d: string
  latest: string
  noData: string
  noStations: string
  notFoundTitle: string
  notFoundText: string
  unavailable: string
  openData: string
  localTime: string
  sensor: (kind: SensorKind) => string
  ago: (ms: number) => string
  sparkLabel: (min: string, max: string, unit: string) => string
  chartLabel: (label: string, unit: string) => string
}

const EN_SENSORS: Record<SensorKind, string> = {
  salinity: 'Salinity',
  water_level: 'Water level',
  ph: 'pH',
  no2: 'Nitrite (NO2)',
  temperature: 'Water temperature',
  conductivity: 'Conductivity',
}

export const STRINGS: Readonly<Record<Lang, Strings>> = Object.freeze({
  vi: {
    htmlLang: 'vi',
    title: 'Độ mặn kênh rạch Cà Mau',
    intro: (w, d) => `Số đo mới nhất tại các trạm quan trắc. Cảnh báo từ ${w}, nguy hiểm từ ${d}.`,
    station: 'Trạm',
    salinity: 'Độ mặn',
    level: 'Mức',
    last24h: '24 giờ qua',
    levels: { ok: 'Bình thường', warning: 'Cảnh báo', danger: 'Nguy hiểm', none: 'Không có số liệu' },
    thresholdNames: { warning: 'cảnh báo', danger: 'nguy hiểm', ph_low: 'pH thấp', ph_high: 'pH cao' },
    summary: (d, w, o) => `${d} trạm nguy hiểm · ${w} trạm cảnh báo · ${o} trạm bình thường`,
    otherLang: 'English',
    otherLangCode: 'en',
    back: '← Tất cả các trạm',
    last7d: '7 ngày qua, trung bình mỗi giờ',
    latest: 'Số đo mới nhất',
    noData: 'Không có số liệu',
    noStations: 'Chưa có trạm nào.',
    notFoundTitle: 'Không tìm thấy trạm',
    notFoundText: 'Trạm này không tồn tại hoặc đã ngừng hoạt động.',
    unavailable: 'Tạm thời không lấy được số liệu. Vui lòng thử lại sau ít phút.',
    openData: 'Dữ liệu mở (CC BY 4.0)',
    localTime: 'Giờ Việt Nam (UTC+7)',
    sensor: (k) => SENSORS[k].label,
    ago: (ms) => {
      const min = Math.floor(ms / 60_000)
      if (min < 1) return 'vừa xong'
      if (min < 60) return `${min} phút trước`
      if (min < 48 * 60) return `${Math.floor(min / 60)} giờ trước`
      return `${Math.floor(min / 1440)} ngày trước`
    },
    sparkLabel: (min, max, unit) => `Độ mặn 24 giờ qua: thấp nhất ${min} ${unit}, cao nhất ${max} ${unit}`,
    chartLabel: (label, unit) => `${label} (${unit}) trong 7 ngày qua`,
  },
  en: {
    htmlLang: 'en',
    title: 'Canal salinity in Cà Mau',
    intro: (w, d) => `Latest readings from the monitoring stations. Warning from ${w}, danger from ${d}.`,
    station: 'Station',
    salinity: 'Salinity',
    level: 'Level',
    last24h: 'Last 24 h',
    levels: { ok: 'Normal', warning: 'Warning', danger: 'Danger', none: 'No data' },
    thresholdNames: { warning: 'warning', danger: 'danger', ph_low: 'pH low', ph_high: 'pH high' },
    summary: (d, w, o) => `${d} in danger · ${w} at warning · ${o} normal`,
    otherLang: 'Tiếng Việt',
    otherLangCode: 'vi',
    back: '← All stations',
    last7d: 'Last 7 days, hourly means',
    latest: 'Latest readings',
    noData: 'No data',
    noStations: 'No stations yet.',
    notFoundTitle: 'Station not found',
    notFoundText: 'This station does not exist or is no longer in service.',
    unavailable: 'Readings are temporarily unavailable. Please try again in a few minutes.',
    openData: 'Open data (CC BY 4.0)',
    localTime: 'Viet Nam time (UTC+7)',
    sensor: (k) => EN_SENSORS[k],
    ago: (ms) => {
      const min = Math.floor(ms / 60_000)
      if (min < 1) return 'just now'
      if (min < 60) return `${min} min ago`
      if (min < 48 * 60) return `${Math.floor(min / 60)} h ago`
      return `${Math.floor(min / 1440)} days ago`
    },
    sparkLabel: (min, max, unit) => `Salinity over the last 24 h: lowest ${min} ${unit}, highest ${max} ${unit}`,
    chartLabel: (label, unit) => `${label} (${unit}) over the last 7 days`,
  },
})

/** Decimal number in the page's language: 3,2 (vi) or 3.2 (en). */
export function formatNumber(value: number, lang: Lang, digits = 1): string {
  const s = value.toFixed(digits)
  return lang === 'vi' ? s.replace('.', ',') : s
}

/** Digits worth showing for a sensor: pH and NO2 need two, water level none. */
export function digitsOf(kind: SensorKind): number {
  if (kind === 'water_level') return 0
  if (kind === 'ph' || kind === 'no2') return 2
  return 1
}

/** Local wall-clock time "HH:MM dd/mm" (UTC+7). */
export function localClock(ts: number): string {
  const d = new Date(ts + LOCAL_OFFSET_MS).toISOString()
  return `${d.slice(11, 16)} ${d.slice(8, 10)}/${d.slice(5, 7)}`
}

/** Local day "dd/mm" (UTC+7). */
export function localDayLabel(ts: number): string {
  const d = new Date(ts + LOCAL_OFFSET_MS).toISOString()
  return `${d.slice(8, 10)}/${d.slice(5, 7)}`
}
