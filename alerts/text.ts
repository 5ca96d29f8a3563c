/** Text helpers shared by templates and keywords: NFC, diacritics, phone numbers. */

/** Vietnamese without diacritics: NFD, drop combining marks, đ -> d. Result is NFC. */
export function stripDiacritics(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/đ/g, 'd')
    .replace(/Đ/g, 'D')
    .normalize('NFC')
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
