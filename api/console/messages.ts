import type { ErrorCode } from '../../core/errors.ts'

/**
 * What staff read when the API refuses a change: one Vietnamese sentence per
 * stable error code (core/errors.ts). The code is shown next to it, so a
 * support call can quote it.
 */
export const ERROR_VI: Partial<Record<ErrorCode | string, string>> = {
  BAD_REQUEST: 'Dữ liệu chưa hợp lệ. Xem các ô được đánh dấu bên dưới.',
  STATION_EXISTS: 'Mã trạm này đã có. Chọn mã khác hoặc sửa trạm đang có.',
  STATION_NOT_FOUND: 'Không tìm thấy trạm này.',
  STATION_ID_INVALID: 'Mã trạm chỉ gồm chữ không dấu, số, "-" hoặc "_" (tối đa 64 ký tự).',
  STATION_ZONE_INVALID: 'Vùng phải là một trong: lúa, lúa – tôm, nuôi trồng nước lợ, cấp nước, quan trắc.',
  STATION_CODE_INVALID: 'Mã SMS gồm 2–4 chữ cái rồi 1–3 chữ số, ví dụ SD01.',
  STATION_CODE_TAKEN: 'Mã SMS này đã được trạm khác dùng.',
  CSV_INVALID: 'Tệp CSV không đọc được. Kiểm tra dấu phân cách ";" và dòng tiêu đề.',
  UNAUTHORIZED: 'Phiên làm việc không còn hiệu lực. Vui lòng đăng nhập lại.',
  FORBIDDEN: 'Tài khoản của bạn chỉ được xem, không được thay đổi.',
  RATE_LIMITED: 'Quá nhiều yêu cầu trong một phút. Vui lòng đợi rồi thử lại.',
  NOT_FOUND: 'Không tìm thấy.',
  INFLUX_UNAVAILABLE: 'Cơ sở dữ liệu số đo (InfluxDB) đang không truy cập được.',
  INFLUX_QUERY_FAILED: 'Truy vấn số đo thất bại. Thử lại sau.',
  ALERT_RULE_INVALID: 'Ngưỡng chưa hợp lệ. Xem các ô được đánh dấu bên dưới.',
  SUBSCRIBER_INVALID: 'Thông tin người nhận tin chưa hợp lệ.',
  SUBSCRIBER_NOT_FOUND: 'Không tìm thấy người nhận tin này.',
  SUBSCRIBER_EXISTS: 'Số điện thoại này đã đăng ký nhận tin.',
  CONSOLE_SIGNIN_FAILED: 'Sai tên đăng nhập hoặc mật khẩu, hoặc mã truy cập không đúng / đã thu hồi.',
  CONSOLE_SESSION_EXPIRED: 'Phiên làm việc đã hết hạn. Vui lòng đăng nhập lại.',
  CONSOLE_CSRF_INVALID: 'Biểu mẫu đã cũ hoặc không hợp lệ (thiếu mã chống giả mạo). Tải lại trang rồi thử lại.',
  STAFF_ACCOUNT_INVALID: 'Tên đăng nhập hoặc mật khẩu chưa hợp lệ.',
  STAFF_ACCOUNT_EXISTS: 'Tên đăng nhập này đã có.',
  QUARANTINE_NOT_RELEASABLE: 'Không thể đưa số đo này vào lại: đã xử lý rồi, hoặc phần trích không phải toàn bộ gói tin.',
  OUTBOX_NOT_RETRYABLE: 'Chỉ gửi lại được tin nhắn đã thất bại.',
  INTERNAL: 'Lỗi hệ thống. Vui lòng báo cho quản trị viên.',
}

/** Why a reading was refused, for the quarantine page. */
export const REASON_VI: Partial<Record<ErrorCode | string, string>> = {
  PAYLOAD_TOO_LARGE: 'Gói tin quá lớn',
  PAYLOAD_NOT_UTF8: 'Không phải UTF-8',
  PAYLOAD_NOT_JSON: 'Không phải JSON',
  PAYLOAD_TOO_DEEP: 'JSON lồng quá sâu',
  PAYLOAD_SCHEMA: 'Sai cấu trúc số đo',
  BATCH_TOO_LARGE: 'Lô quá nhiều số đo',
  BATCH_EMPTY: 'Lô rỗng',
  READING_NO_VALUES: 'Không có giá trị đo',
  READING_UNKNOWN_SENSOR: 'Loại cảm biến lạ',
  VALUE_NOT_NUMBER: 'Giá trị không phải số',
  VALUE_OUT_OF_RANGE: 'Giá trị ngoài khoảng hợp lý',
  TS_INVALID: 'Thời gian sai định dạng',
  TS_IN_FUTURE: 'Thời gian ở tương lai (đồng hồ trạm chạy nhanh)',
  TS_TOO_OLD: 'Thời gian quá cũ (đồng hồ trạm bị đặt lại?)',
  STATION_UNKNOWN: 'Trạm chưa đăng ký',
  STATION_DISABLED: 'Trạm đang tắt',
  TOPIC_INVALID: 'Sai chủ đề MQTT',
  READING_RETAINED: 'Gửi với cờ retain',
}

/** Field names as staff know them, for "which box is wrong". */
export const FIELD_VI: Record<string, string> = {
  id: 'Mã trạm',
  name: 'Tên',
  lat: 'Vĩ độ',
  lon: 'Kinh độ',
  commune: 'Xã',
  district: 'Huyện',
  zone: 'Vùng',
  code: 'Mã SMS',
  intervalSec: 'Chu kỳ gửi (giây)',
  alarmLevels: 'Mức báo động BĐ',
  'alarmLevels.bd1': 'BĐ1',
  'alarmLevels.bd2': 'BĐ2',
  'alarmLevels.bd3': 'BĐ3',
  sensors: 'Cảm biến',
  phone: 'Số điện thoại',
  stations: 'Trạm theo dõi',
  communes: 'Xã theo dõi',
  threshold: 'Ngưỡng',
  high: 'Ngưỡng trên',
  clear: 'Mức gỡ',
  clearHigh: 'Mức gỡ (trên)',
  note: 'Ghi chú',
}

/**
 * The API's field messages are zod's, in English; the common ones are said in
 * Vietnamese (the original is kept in parentheses for the rest).
 */
const ISSUE_VI: Array<[RegExp, string]> = [
  [/received undefined|^Required$/i, 'chưa nhập'],
  [/expected number/i, 'phải là số'],
  [/expected boolean/i, 'phải là có/không'],
  [/Invalid option|expected one of/i, 'không có trong danh sách cho phép'],
  [/Too small.*>=?\s*(-?[\d.]+)|must be >=?\s*(-?[\d.]+)/i, 'quá nhỏ (tối thiểu $1$2)'],
  [/Too big.*<=?\s*(-?[\d.]+)|must be <=?\s*(-?[\d.]+)/i, 'quá lớn (tối đa $1$2)'],
  [/phone must be a Vietnamese mobile number/i, 'phải là số di động Việt Nam (09…, +849…)'],
  [/must be 2–4 letters then 1–3 digits/i, 'gồm 2–4 chữ cái rồi 1–3 chữ số, ví dụ SD01'],
  [/must match \^\[A-Za-z0-9_-\]/i, 'chỉ gồm chữ không dấu, số, "-" hoặc "_"'],
  [/alarm levels must rise/i, 'phải tăng dần: BĐ1 < BĐ2 < BĐ3'],
  [/clear must be on the safe side of threshold/i, 'mức gỡ phải ở phía an toàn của ngưỡng'],
  [/an outside level needs high > threshold/i, 'mức "ngoài khoảng" cần ngưỡng trên lớn hơn ngưỡng; các mức khác không có ngưỡng trên'],
  [/level names must be unique/i, 'tên các mức không được trùng nhau'],
  [/Invalid string: must match pattern/i, 'sai định dạng'],
]

export function issueVi(message: string): string {
  for (const [re, vi] of ISSUE_VI) {
    const m = re.exec(message)
    if (m) return vi.replace(/\$(\d)/g, (_x, i: string) => m[Number(i)] ?? '')
  }
  return message
}

export interface FieldIssue {
  field: string
  message: string
}

/** The API's error body → a Vietnamese sentence and the field issues it carries. */
export function explainError(body: unknown): { code: string; text: string; issues: FieldIssue[] } {
  const err = (body as { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | undefined)?.error
  const code = err?.code ?? 'INTERNAL'
  const raw = (err?.details?.issues as Array<Record<string, unknown>> | undefined) ?? []
  const issues = raw.map((i) => {
    const field = String(i.parameter ?? i.key ?? i.path ?? '')
    return { field, message: issueVi(String(i.message ?? i.reason ?? '')) }
  })
  // A code without a sentence still says what happened, in the API's words.
  const text = ERROR_VI[code] ?? `${err?.message ?? 'Lỗi không rõ'}`
  return { code, text, issues }
}
