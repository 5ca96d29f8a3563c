/**
 * Local time of the network: Cà Mau keeps Asia/Ho_Chi_Minh time. Viet Nam
 * has used UTC+07:00 all year, without daylight saving, since 1975-06-13
 * (IANA tz database, file `asia`, zone Asia/Ho_Chi_Minh), so a fixed offset
 * is exact for every instant the network can have stored. A farmer's "day"
 * runs from local midnight (17:00Z the day before) to local midnight.
 */

export const LOCAL_TZ = 'Asia/Ho_Chi_Minh'
/** The same offset as ISO 8601 text, for documents that state it. */
export const LOCAL_UTC_OFFSET = '+07:00'
export const LOCAL_OFFSET_MS = 7 * 3_600_000

const DAY_MS = 86_400_000

/** Local calendar date (YYYY-MM-DD) of an instant. */
export function localDate(ts: number): string {
  return new Date(ts + LOCAL_OFFSET_MS).toISOString().slice(0, 10)
}

/** The instant a local calendar date (YYYY-MM-DD) begins (NaN for a malformed date). */
export function localDayStart(date: string): number {
  return Date.parse(`${date}T00:00:00${LOCAL_UTC_OFFSET}`)
}

/**
 * Offset in ms, in [0, everyMs), for InfluxQL `GROUP BY time(every, offset)`
 * so that buckets start on local wall-clock boundaries. InfluxDB aligns
 * buckets to the Unix epoch (00:00Z); shifting them by -7 h (taken modulo
 * the bucket, as a non-negative offset) puts a boundary on every local
 * midnight for any bucket that divides a day: 1d, 12h at local 00/12, 6h at
 * local 00/06/12/18, 3h, 1h. Multi-day buckets start on a local midnight.
 * Checked against influxd 1.6.7 (tests/api/local-days.test.ts); `tz()` works
 * there too, but a fixed offset needs no zone database and cannot drift.
 */
export function localBucketOffsetMs(everyMs: number): number {
  if (!Number.isInteger(everyMs) || everyMs <= 0) throw new RangeError(`bucket width must be a positive whole number of ms, got ${everyMs}`)
  return (everyMs - (LOCAL_OFFSET_MS % everyMs)) % everyMs
}

/** `time(every, offset)` for InfluxQL, on local boundaries. */
export function localGroupByTime(everyText: string, everyMs: number): string {
  return `time(${everyText}, ${localBucketOffsetMs(everyMs)}ms)`
}
