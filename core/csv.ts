/**
 * RFC 4180 CSV reading for imports (stations, farmers): quoted fields,
 * doubled quotes, CRLF or LF, a leading UTF-8 BOM dropped, blank lines
 * skipped. The delimiter is a parameter because Excel on a Vietnamese
 * Windows writes `;` (the decimal separator there is the comma).
 */
export interface CsvRows {
  rows: string[][]
  /** A quoted field was still open at the end of the text. */
  unclosedQuote: boolean
}

export function parseCsvRows(text: string, delimiter: ',' | ';', maxRows = Infinity): CsvRows {
  const src = text.replace(/^\uFEFF/, '')
  const rows: string[][] = []
  let row: string[] = []
  let cell = ''
  let quoted = false
  const endRow = (): void => {
    row.push(cell)
    cell = ''
    if (row.some((x) => x.trim() !== '')) rows.push(row)
    row = []
  }
  for (let i = 0; i < src.length && rows.length <= maxRows; i++) {
    const c = src[i]!
    if (quoted) {
      if (c === '"' && src[i + 1] === '"') (cell += '"'), i++
      else if (c === '"') quoted = false
      else cell += c
    } else if (c === '"' && cell === '') quoted = true
    else if (c === delimiter) row.push(cell), (cell = '')
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && src[i + 1] === '\n') i++
      endRow()
    } else cell += c
  }
  if (rows.length <= maxRows) endRow()
  return { rows, unclosedQuote: quoted }
}

/** `;` when the header line has semicolons and no commas (Excel in Vietnam), else `,`. */
export function detectDelimiter(text: string): ',' | ';' {
  const header = text.replace(/^\uFEFF/, '').split(/\r?\n/, 1)[0] ?? ''
  return header.includes(';') && !header.includes(',') ? ';' : ','
}
