import { TidewatchError } from '../../core/errors.ts'
import type { Form } from './routes.ts'
import { parseCsvRows } from '../../core/csv.ts'

/**
 * Form fields → the API's JSON bodies. Nothing is validated here: the API's
 * zod schemas do it, so the console and the API never disagree. A number
 * that does not parse is passed on as text, and the API names the field.
 */

/** A number as staff type it: "9,18" (Vietnamese decimal comma) or "9.18"; '' → undefined. */
export function numberOf(raw: string | null | undefined): number | string | undefined {
  const s = (raw ?? '').trim().replace(/\s/g, '')
  if (s === '') return undefined
  const n = Number(s.replace(',', '.'))
  return Number.isFinite(n) ? n : s
}

export function textOf(f: Form, name: string): string | undefined {
  const v = f.get(name)
  return v === null ? undefined : v.trim()
}

/** '' → null: "clear this field". */
export function nullableText(f: Form, name: string): string | null | undefined {
  const v = textOf(f, name)
  return v === undefined ? undefined : v === '' ? null : v
}

/** Comma-, semicolon- or newline-separated list, trimmed, empties dropped. */
export function listOf(raw: string | null | undefined): string[] {
  return (raw ?? '')
    .split(/[,;\n|]/)
    .map((s) => s.trim())
    .filter(Boolean)
}

/**
 * CSV as Excel saves it on a Vietnamese Windows: `;` between fields (the
 * list separator when the decimal separator is a comma), optional UTF-8 BOM,
 * CRLF, fields quoted with "" when they contain ; or quotes (RFC 4180 §2).
 * The first line is the header; column names are matched case-insensitively.
 * Bounded: at most `maxRows` rows.
 */
export function parseCsv(text: string, maxRows = 1000): Array<Record<string, string>> {
  // One row over the cap is read, so "too many rows" is told apart from exactly maxRows (+1 for the header).
  const { rows, unclosedQuote } = parseCsvRows(text, ';', maxRows + 2)
  if (unclosedQuote) throw new TidewatchError('CSV_INVALID', {}, 'a quoted field is not closed')
  const [header, ...body] = rows
  if (!header) throw new TidewatchError('CSV_INVALID', {}, 'the file is empty')
  if (header.length < 2) throw new TidewatchError('CSV_INVALID', { header }, 'the header has one column: fields must be separated by ";"')
  if (body.length > maxRows) throw new TidewatchError('CSV_INVALID', { maxRows }, `at most ${maxRows} rows per import`)
  const keys = header.map((h) => h.trim().toLowerCase())
  return body.map((cells) => Object.fromEntries(keys.map((k, i) => [k, (cells[i] ?? '').trim()])))
}
