import { z } from 'zod'

/** Shared wire formats of the HTTP API: time parameters and CSV (RFC 4180). */

/** A time query parameter: RFC 3339 with offset, or epoch milliseconds. */
export const TimeParam = z.union([z.iso.datetime({ offset: true }), z.string().regex(/^\d{1,15}$/, 'must be RFC 3339 or epoch milliseconds')])

export function timeParamMs(v: string): number {
  return /^\d+$/.test(v) ? Number(v) : Date.parse(v)
}

export function csvField(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v)
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

/** Rows to CSV text with CRLF line ends, as RFC 4180 says. */
export function csv(rows: readonly unknown[][]): string {
  return rows.map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n'
}
