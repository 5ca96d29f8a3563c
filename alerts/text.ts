import { isGsm7 } from './sms/segments.ts'

/** Text helpers shared by templates and keywords: NFC, diacritics, GSM-7 transliteration, phone numbers. */

/**
 * Vietnamese without diacritics: NFD, drop combining marks, Đ/đ -> D/d (and
 * the look-alike Icelandic Ð/ð, which station lists copied from spreadsheets
 * contain). Result is NFC.
 */
export function stripDiacritics(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[đð]/g, 'd')
    .replace(/[ĐÐ]/g, 'D')
    .normalize('NFC')
}

/**
 * Characters that survive NFKC and diacritic stripping but are not in the
 * GSM 03.38 default alphabet (3GPP TS 23.038 §6.2.1), or are in it but would
 * make encodingFor() pick UCS-2 (Latin-1 letters such as Ø, Æ, ß). Each maps
 * to plain GSM-7 text, so one stray character never turns a 1-part GSM-7 SMS
 * into a 2-part UCS-2 one.
 */
const GSM_MAP: Readonly<Record<string, string>> = {
  // 1 ‰ ≈ 1 g/L in practice (docs/ALERTS.md); ° has no GSM-7 form ("25°C" -> "25C").
  '‰': 'g/l', '°': '', 'º': '',
  // Dashes and minus signs.
  '\u2010': '-', '\u2011': '-', '\u2012': '-', '\u2013': '-', '\u2014': '-', '\u2015': '-', '\u2212': '-', '\u2043': '-', '\u2044': '/',
  // Quotes and primes.
  '\u2018': "'", '\u2019': "'", '\u201A': "'", '\u201B': "'", '\u2032': "'", '\u2039': "'", '\u203A': "'", '`': "'", '´': "'",
  '\u201C': '"', '\u201D': '"', '\u201E': '"', '\u201F': '"', '\u2033': '"', '«': '"', '»': '"',
  // Bullets and dots.
  '\u2022': '-', '\u2023': '-', '\u25CF': '-', '\u25E6': '-', '\u2219': '.', '·': '.', '\u2027': '.',
  // Letters without a decomposition; GSM-7 has some, but they force UCS-2 in encodingFor.
  'Ø': 'O', 'ø': 'o', 'Æ': 'AE', 'æ': 'ae', 'ß': 'ss', 'Œ': 'OE', 'œ': 'oe', 'Ł': 'L', 'ł': 'l', 'Þ': 'Th', 'þ': 'th', 'ı': 'i',
  'µ': 'u', 'μ': 'u',
  // Symbols.
  '×': 'x', '÷': '/', '±': '+/-', '≈': '~', '≤': '<=', '≥': '>=', '→': '->', '←': '<-', '©': '(c)', '®': '(R)', '₫': 'd', '¢': 'c', '\t': ' ',
  '\u2028': '\n', '\u2029': '\n',
}

/** Removed outright: zero-width characters, BOM, soft hyphen, variation selectors. */
const INVISIBLE = /[\u00AD\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\uFE00-\uFE0F\uFEFF]/g
/** Every space-like character (NBSP, narrow NBSP, en/em spaces, ideographic space) becomes a space. */
const SPACES = /[\u00A0\u1680\u2000-\u200A\u202F\u205F\u3000]/g

/** A name as typed into a spreadsheet, tidied for any message: no invisible characters, plain spaces. */
export function tidySpaces(text: string): string {
  return text.replace(INVISIBLE, '').replace(SPACES, ' ').replace(/ {2,}/g, ' ').trim()
}

/**
 * Text reduced to the GSM-7 default alphabet for subscribers and gateways
 * without Unicode: NFKC (full-width forms, ligatures, superscripts), spaces
 * and invisible characters, diacritics stripped, then GSM_MAP. Whatever is
 * still not GSM-7 (Han, emoji) becomes "?", so the result always goes as
 * GSM-7 and is never silently sent as UCS-2.
 */
export function toGsm7(text: string): string {
  const folded = stripDiacritics(text.normalize('NFC').replace(INVISIBLE, '').replace(SPACES, ' ').normalize('NFKC'))
  let out = ''
  for (const ch of folded) {
    const mapped = GSM_MAP[ch]
    if (mapped !== undefined) out += mapped
    else if (isGsm7(ch) && !/[\u00C0-\u024F]/.test(ch)) out += ch
    else out += '?'
  }
  return out
}

/** Key for case- and diacritics-insensitive matching of keywords, communes, station ids. */
export function foldKey(text: string): string {
  return stripDiacritics(text.normalize('NFC')).toUpperCase().replace(/\s+/g, ' ').trim()
}

/**
 * Normalizes a Vietnamese mobile number to E.164 (+84…). Accepts +84…, 84…, 0…
 * Returns undefined for anything that is not 9–10 national digits.
 */
export function normalizePhone(input: string): string | undefined {
  const digits = input.replace(/[\s().-]/g, '')
  let national: string
  if (/^\+84\d+$/.test(digits)) national = digits.slice(3)
  else if (/^84\d{9,10}$/.test(digits)) national = digits.slice(2)
  else if (/^0\d+$/.test(digits)) national = digits.slice(1)
  else if (/^\+\d{8,15}$/.test(digits)) return digits // foreign number, kept as given
  else return undefined
  return /^\d{9,10}$/.test(national) ? `+84${national}` : undefined
}
