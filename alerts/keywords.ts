import { foldKey } from './text.ts'

/**
 * SMS keywords, case- and diacritics-insensitive ("đk sd01", "Hủy", "tt CM03"):
 *   DK <station>   subscribe        HUY [station]  unsubscribe (all without a station)
 *   TT [station]   current values and levels (all the farmer's stations without one)
 *   anything else  help
 * <station> is the station's short SMS code (SD01, shown on the board) or its id.
 */
export type Command =
  | { cmd: 'subscribe'; station: string }
  | { cmd: 'unsubscribe'; station: string | null }
  | { cmd: 'status'; station: string | null }
  | { cmd: 'help'; reason: 'unknown' | 'missing_station' }

const ALIASES: Record<string, 'DK' | 'HUY' | 'TT'> = {
  DK: 'DK', DANGKY: 'DK', 'DANG KY': 'DK',
  HUY: 'HUY', 'HUY BO': 'HUY', STOP: 'HUY',
  TT: 'TT', 'THONG TIN': 'TT',
}

export function parseKeyword(text: string): Command {
  const folded = foldKey(text).replace(/[^A-Z0-9_\- ]/g, ' ').replace(/\s+/g, ' ').trim()
  const words = folded.split(' ').filter(Boolean)
  // Two-word forms first ("DANG KY CM03", "THONG TIN CM03").
  let kw: 'DK' | 'HUY' | 'TT' | undefined
  let rest: string[] = []
  if (words.length >= 2 && ALIASES[`${words[0]} ${words[1]}`]) {
    kw = ALIASES[`${words[0]} ${words[1]}`]
    rest = words.slice(2)
  } else if (words.length >= 1 && ALIASES[words[0]!]) {
    kw = ALIASES[words[0]!]
    rest = words.slice(1)
  }
  // A code typed with a space on a keypad ("DK SD 01") is still the code SD01.
  const station = rest.length >= 2 && /^[A-Z]{2,4}$/.test(rest[0]!) && /^[0-9]{1,3}$/.test(rest[1]!) ? `${rest[0]}${rest[1]}` : (rest[0] ?? null)
  switch (kw) {
    case 'DK':
      return station ? { cmd: 'subscribe', station } : { cmd: 'help', reason: 'missing_station' }
    case 'HUY':
      return { cmd: 'unsubscribe', station }
    case 'TT':
      return { cmd: 'status', station }
    default:
      return { cmd: 'help', reason: 'unknown' }
  }
}

/** Reply texts, Vietnamese with diacritics; the caller strips them when the phone wants plain text. */
export const REPLIES = {
  subscribed: (id: string, name: string) => `Đã đăng ký nhận cảnh báo trạm ${name} (${id}). Soạn TT ${id} để xem số liệu, HUY ${id} để hủy.`,
  unsubscribed: (id: string) => `Đã hủy nhận cảnh báo trạm ${id}.`,
  unsubscribedAll: () => `Đã hủy nhận tất cả cảnh báo. Soạn DK <mã trạm> để đăng ký lại.`,
  notSubscribed: () => `Số này chưa đăng ký trạm nào. Soạn DK <mã trạm> để đăng ký.`,
  unknownStation: (id: string) => `Không tìm thấy trạm ${id}. Kiểm tra mã trạm và soạn lại.`,
  /** A monitoring station never SMSes farmers (levels/zones.ts): subscribing would promise alerts that never come. */
  staffStation: (code: string, name: string) => `${name} (${code}) là trạm quan trắc của cán bộ, không gửi cảnh báo cho bà con. Soạn TT ${code} để xem số liệu.`,
  noData: (station: string) => `${station}: chưa có số liệu.`,
  /** Appended when a TT reply for all the farmer's stations would not fit in two SMS. */
  more: (n: number) => `Còn ${n} trạm, soạn TT <mã trạm>.`,
  help: () => `Cú pháp: DK <mã trạm> để đăng ký, TT <mã trạm> xem số liệu, HUY <mã trạm> để hủy.`,
} as const
