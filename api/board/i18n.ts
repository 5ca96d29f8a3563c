import { SENSORS, shownDecimals, type SensorKind } from '../../core/sensors.ts'
import type { Zone } from '../../levels/zones.ts'
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
  intro: string
  station: string
  salinity: string
  level: string
  last24h: string
  /** unrated: the station's rule has no levels for the sensor (a monitoring station): a value, no judgment. */
  levels: Record<SalinityLevel | 'none' | 'unrated', string>
  /** Level names (levels/zones.ts, alarmLevelsRule): unknown names of custom rules are shown as they are. */
  thresholdNames: Record<string, string>
  /** Which edge of an outside band: salinity too high or too low for a shrimp pond. */
  sides: { above: string; below: string }
  zones: Record<Zone, string>
  zoneLabel: string
  smsTitle: string
  /** "Text DK SD01 to 0912…", from ready HTML pieces (no markup in the words); number null: not published yet. */
  smsHow: (code: string, number: string | null) => string
  smsHomeHow: (number: string | null) => string
  smsExample: string
  smsNone: string
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
  chartLabel: (label: string, unit: string, range: string) => string
  /** The chart ranges, as tab labels and in sentences. */
  ranges: Record<'24h' | '7d' | '30d', string>
  rangeNav: string
  rangeNote: (range: string, bucket: string) => string
  buckets: Record<'24h' | '7d' | '30d', string>
  mapLabel: string
  mapNote: string
  /** The map's zoom buttons, "in|out". */
  mapZoom: string
  csvHourly: string
  csvDaily: string
  downloads: string
  updated: string
  age: string
  derived: string
  openPage: {
    title: string
    intro: string
    whatTitle: string
    items: Array<[string, string, string]>
    licenceTitle: string
    licence: string
    csvTitle: string
    csv: string
    limitsTitle: string
    limits: string
    apiDocs: string
  }
}

const EN_SENSORS: Record<SensorKind, string> = {
  salinity: 'Salinity',
  water_level: 'Water level',
  ph: 'pH',
  no2: 'Nitrite',
  temperature: 'Water temperature',
  conductivity: 'Conductivity',
}

export const STRINGS: Readonly<Record<Lang, Strings>> = Object.freeze({
  vi: {
    htmlLang: 'vi',
    title: 'Độ mặn kênh rạch Cà Mau',
    intro: 'Số đo mới nhất tại các trạm quan trắc. Mỗi trạm được đánh giá theo mục đích dùng nước của vùng: lúa, lúa – tôm, nuôi tôm nước lợ hay cấp nước sinh hoạt.',
    station: 'Trạm',
    salinity: 'Độ mặn',
    level: 'Mức',
    last24h: '24 giờ qua',
    levels: { ok: 'Bình thường', warning: 'Cảnh báo', danger: 'Nguy hiểm', none: 'Không có số liệu', unrated: 'Chỉ quan trắc' },
    thresholdNames: { warning: 'cảnh báo', danger: 'nguy hiểm', ph_low: 'pH thấp', ph_high: 'pH cao', bd1: 'BĐ1', bd2: 'BĐ2', bd3: 'BĐ3', intrusion: 'ranh mặn', change: 'biến động nhanh', rise: 'tăng nhanh' },
    sides: { above: 'cao', below: 'thấp' },
    zones: { rice: 'Vùng trồng lúa', rice_shrimp: 'Vùng lúa – tôm', brackish_aquaculture: 'Vùng nuôi tôm nước lợ', water_supply: 'Điểm lấy nước sinh hoạt', monitoring: 'Trạm quan trắc (không nhắn tin cho nông dân)' },
    zoneLabel: 'Vùng',
    smsTitle: 'Nhận tin nhắn SMS',
    smsHow: (code, n) => (n ? `Soạn ${code} gửi ${n} để nhận tin cảnh báo của trạm này.` : `Soạn ${code} gửi tổng đài nhắn tin của tỉnh để nhận tin cảnh báo của trạm này.`),
    smsHomeHow: (n) => `Soạn <b>DK</b> + mã trạm gửi ${n ?? 'tổng đài nhắn tin của tỉnh'} để nhận tin cảnh báo. Mã trạm có trên trang của từng trạm.`,
    smsExample: 'Tin nhắn mẫu:',
    smsNone: 'Trạm này chỉ dành cho cán bộ theo dõi, không gửi tin nhắn cho nông dân.',
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
    // Nitrite's basis (as NO2⁻, not as N) is stated by its unit, unitOf() in data.ts.
    sensor: (k) => (k === 'no2' ? 'Nitrit' : SENSORS[k].label),
    ago: (ms) => {
      const min = Math.floor(ms / 60_000)
      if (min < 1) return 'vừa xong'
      if (min < 60) return `${min} phút trước`
      if (min < 48 * 60) return `${Math.floor(min / 60)} giờ trước`
      return `${Math.floor(min / 1440)} ngày trước`
    },
    sparkLabel: (min, max, unit) => `Độ mặn 24 giờ qua: thấp nhất ${min} ${unit}, cao nhất ${max} ${unit}`,
    chartLabel: (label, unit, range) => `${label} (${unit}), ${range}`,
    ranges: { '24h': '24 giờ', '7d': '7 ngày', '30d': '30 ngày' },
    rangeNav: 'Khoảng thời gian của biểu đồ',
    rangeNote: (range, bucket) => `${range} qua, ${bucket}. Chạm hoặc rê chuột lên biểu đồ để xem số đo.`,
    buckets: { '24h': 'trung bình mỗi giờ', '7d': 'trung bình mỗi 2 giờ', '30d': 'trung bình mỗi 6 giờ' },
    mapLabel: 'Bản đồ các trạm, màu theo mức hiện tại',
    mapNote: 'Ranh giới tỉnh gần đúng',
    mapZoom: 'Phóng to|Thu nhỏ',
    csvHourly: 'Tải CSV: trung bình mỗi giờ, 30 ngày',
    csvDaily: 'Tải CSV: tóm tắt mỗi ngày, 30 ngày',
    downloads: 'Tải số liệu',
    updated: 'Cập nhật',
    age: 'Đo lúc',
    derived: 'tính từ độ dẫn điện (PSS-78)',
    openPage: {
      title: 'Dữ liệu mở',
      intro: 'Mọi số đo của mạng quan trắc được công bố miễn phí để người dân, cơ quan và nhà nghiên cứu dùng lại.',
      whatTitle: 'Có những gì',
      items: [
        ['Danh sách trạm, số đo mới nhất và mức (JSON)', '/open/v1/stations', 'Mỗi trạm: vị trí, vùng, cảm biến, ngưỡng đang áp dụng, số đo mới nhất.'],
        ['Bản đồ trạm (GeoJSON)', '/open/v1/stations.geojson', 'Mở được bằng QGIS, geojson.io hay bất kỳ phần mềm bản đồ nào.'],
        ['Số đo của một trạm (CSV hoặc JSON)', '/open/v1/stations/{id}/readings.csv?every=1h', 'Số đo gốc, hoặc trung bình theo 15m, 1h, 1d…; tối đa 366 ngày mỗi lần tải.'],
        ['Tóm tắt theo ngày (CSV hoặc JSON)', '/open/v1/stations/{id}/daily.csv', 'Thấp nhất, cao nhất, trung bình và số giờ vượt ngưỡng mỗi ngày.'],
        ['OGC SensorThings API 1.1', '/sta/v1.1', 'Chuẩn quốc tế cho dữ liệu cảm biến, để hệ thống khác (LGSP) dùng không cần viết mã riêng.'],
      ],
      licenceTitle: 'Giấy phép',
      licence: 'Creative Commons Ghi công 4.0 (CC BY 4.0): được dùng, chia sẻ và chỉnh sửa, kể cả mục đích thương mại, miễn là ghi nguồn “tidewatch — mạng quan trắc môi trường tỉnh Cà Mau”.',
      csvTitle: 'Mở CSV bằng Excel',
      csv: 'Các tệp CSV có dấu BOM UTF-8 nên Excel hiển thị đúng tiếng Việt và ký hiệu ‰. Số dùng dấu chấm thập phân; giờ theo UTC (ISO 8601).',
      limitsTitle: 'Giới hạn',
      limits: 'Tối đa 100.000 điểm mỗi lần tải. Dữ liệu được lưu đệm 60 giây.',
      apiDocs: 'Tài liệu API (OpenAPI)',
    },
  },
  en: {
    htmlLang: 'en',
    title: 'Canal salinity in Cà Mau',
    intro: 'Latest readings from the monitoring stations. Each station is judged by what its water is used for: rice, rice–shrimp, brackish-water shrimp farming or drinking water.',
    station: 'Station',
    salinity: 'Salinity',
    level: 'Level',
    last24h: 'Last 24 h',
    levels: { ok: 'Normal', warning: 'Warning', danger: 'Danger', none: 'No data', unrated: 'Monitoring only' },
    thresholdNames: { warning: 'warning', danger: 'danger', ph_low: 'pH low', ph_high: 'pH high', bd1: 'BĐ1', bd2: 'BĐ2', bd3: 'BĐ3', intrusion: 'intrusion line', change: 'fast change', rise: 'rising fast' },
    sides: { above: 'high', below: 'low' },
    zones: { rice: 'Rice', rice_shrimp: 'Rice–shrimp', brackish_aquaculture: 'Brackish-water shrimp farming', water_supply: 'Drinking-water intake', monitoring: 'Monitoring only (no SMS to farmers)' },
    zoneLabel: 'Zone',
    smsTitle: 'SMS alerts',
    smsHow: (code, n) => (n ? `Text ${code} to ${n} to get this station’s alerts.` : `Text ${code} to the province’s SMS number to get this station’s alerts.`),
    smsHomeHow: (n) => `Text <b>DK</b> + the station code to ${n ?? 'the province’s SMS number'} to get alerts. Each station's page shows its code.`,
    smsExample: 'Sample message:',
    smsNone: 'This station is for staff only and sends no SMS to farmers.',
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
    chartLabel: (label, unit, range) => `${label} (${unit}), last ${range}`,
    ranges: { '24h': '24 hours', '7d': '7 days', '30d': '30 days' },
    rangeNav: 'Chart range',
    rangeNote: (range, bucket) => `Last ${range}, ${bucket}. Tap or hover on a chart to read the values.`,
    buckets: { '24h': 'hourly means', '7d': '2-hour means', '30d': '6-hour means' },
    mapLabel: 'Map of the stations, coloured by their current level',
    mapNote: 'Province outline approximate',
    mapZoom: 'Zoom in|Zoom out',
    csvHourly: 'Download CSV: hourly means, 30 days',
    csvDaily: 'Download CSV: daily summary, 30 days',
    downloads: 'Download the data',
    updated: 'Updated',
    age: 'Measured',
    derived: 'derived from conductivity (PSS-78)',
    openPage: {
      title: 'Open data',
      intro: 'Every reading of the monitoring network is published free of charge for residents, agencies and researchers to reuse.',
      whatTitle: 'What is there',
      items: [
        ['Stations, latest readings and levels (JSON)', '/open/v1/stations', 'Each station: location, zone, sensors, levels in force, latest values.'],
        ['Station map (GeoJSON)', '/open/v1/stations.geojson', 'Opens in QGIS, geojson.io or any map software.'],
        ['Readings of one station (CSV or JSON)', '/open/v1/stations/{id}/readings.csv?every=1h', 'Raw readings, or means per 15m, 1h, 1d…; up to 366 days per download.'],
        ['Daily summaries (CSV or JSON)', '/open/v1/stations/{id}/daily.csv', 'Lowest, highest, mean and hours past each level, per day.'],
        ['OGC SensorThings API 1.1', '/sta/v1.1', 'The international standard for sensor data, so other systems (the province’s LGSP) need no custom code.'],
      ],
      licenceTitle: 'Licence',
      licence: 'Creative Commons Attribution 4.0 (CC BY 4.0): use, share and adapt, commercially too, as long as you credit “tidewatch — Cà Mau environmental sensor network”.',
      csvTitle: 'Opening CSV in Excel',
      csv: 'CSV files start with a UTF-8 BOM, so Excel shows Vietnamese and ‰ correctly. Numbers use a decimal point; times are UTC (ISO 8601).',
      limitsTitle: 'Limits',
      limits: 'At most 100,000 points per download. Responses are cached for 60 seconds.',
      apiDocs: 'API documentation (OpenAPI)',
    },
  },
})

/** Decimal number in the page's language: 3,2 (vi) or 3.2 (en). */
export function formatNumber(value: number, lang: Lang, digits = 1): string {
  const s = value.toFixed(digits)
  return lang === 'vi' ? s.replace('.', ',') : s
}

/** Digits worth showing for a value of a sensor (core/sensors.ts shownDecimals: the one precision table). */
export function digitsOf(kind: SensorKind, value = 1): number {
  return shownDecimals(kind, value)
}

/** Local wall-clock "HH:MM" (UTC+7). */
export function localHour(ts: number): string {
  return new Date(ts + LOCAL_OFFSET_MS).toISOString().slice(11, 16)
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
