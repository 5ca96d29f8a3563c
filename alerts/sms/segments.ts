/**
 * SMS segment counting and splitting (3GPP TS 23.038 / 23.040).
 *
 * GSM-7: 160 septets in one SMS, 153 per part when concatenated (the 6-octet
 * UDH takes 7 septets). Characters of the extension table are sent as ESC +
 * char and count 2; an escape pair is never split across parts.
 * UCS-2: 70 UTF-16 code units in one SMS, 67 per part; a surrogate pair is
 * never split.
 */
const GSM_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà'
const GSM_EXTENSION = '\f^{}\\[~]|€'

const basic = new Set(GSM_BASIC)
const extension = new Set(GSM_EXTENSION)

export type SmsEncoding = 'gsm7' | 'ucs2'

export interface SegmentInfo {
  encoding: SmsEncoding
  /** Septets (GSM-7) or UTF-16 code units (UCS-2). */
  units: number
  segments: number
  /** Units per segment at this length (160/153 or 70/67). */
  perSegment: number
}

export function isGsm7(text: string): boolean {
  for (const ch of text) if (!basic.has(ch) && !extension.has(ch)) return false
  return true
}

/**
 * The encoding to send text in. Accented Latin letters that happen to be in
 * GSM-7 (à, é, ù…) still go as UCS-2: "Xin chào" auto-detects as GSM and an
 * SMSC may garble it (docs/ALERTS.md). Only plain text goes as GSM-7.
 */
export function encodingFor(text: string): SmsEncoding {
  return isGsm7(text) && !/[\u00C0-\u024F\u1E00-\u1EFF]/.test(text) ? 'gsm7' : 'ucs2'
}

function gsmUnits(ch: string): number {
  return extension.has(ch) ? 2 : 1
}

export function segmentInfo(text: string, encoding: SmsEncoding = encodingFor(text)): SegmentInfo {
  if (encoding === 'gsm7') {
    let units = 0
    for (const ch of text) units += gsmUnits(ch)
    // Parts cannot split an escape pair, so count with the real splitter when long.
    const segments = units <= 160 ? 1 : splitSms(text, 'gsm7').length
    return { encoding, units, segments, perSegment: segments === 1 ? 160 : 153 }
  }
  const units = text.length
  const segments = units <= 70 ? 1 : splitSms(text, 'ucs2').length
  return { encoding, units, segments, perSegment: segments === 1 ? 70 : 67 }
}

/** Splits text into the parts of a concatenated SMS (one part when it fits a single SMS). */
export function splitSms(text: string, encoding: SmsEncoding): string[] {
  const single = encoding === 'gsm7' ? 160 : 70
  const per = encoding === 'gsm7' ? 153 : 67
  const chars = Array.from(text) // code points: a surrogate pair stays together
  const cost = (ch: string): number => (encoding === 'gsm7' ? gsmUnits(ch) : ch.length)
  const total = chars.reduce((n, ch) => n + cost(ch), 0)
  if (total <= single) return [text]
  const parts: string[] = []
  let current = ''
  let used = 0
  for (const ch of chars) {
    const c = cost(ch)
    if (used + c > per) {
      parts.push(current)
      current = ''
      used = 0
    }
    current += ch
    used += c
  }
  if (current) parts.push(current)
  return parts
}
