/**
 * InfluxDB line protocol, the one copy every writer uses (readings,
 * quarantine, alert events, notifications, the levels in force). Rules from
 * the InfluxDB 1.x line-protocol reference: tag keys and values escape
 * commas, equals signs and spaces; string field values are double-quoted and
 * escape quotes and backslashes.
 */

const TAG_SPECIAL = /[,= \\]/
const TAG_SPECIAL_ALL = /[,= \\]/g

export function escapeTag(value: string): string {
  // Station ids never need escaping (STATION_ID_PATTERN): test first, so the
  // per-reading call allocates nothing.
  return TAG_SPECIAL.test(value) ? value.replace(TAG_SPECIAL_ALL, (c) => `\\${c}`) : value
}

export function fieldString(value: string): string {
  // Line protocol cannot carry a newline even inside a quoted string: one would split the point.
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`).replace(/[\r\n]+/g, ' ')}"`
}

export function fieldFloat(v: number): string {
  // InfluxDB would type an integer-looking literal without "i" as float anyway,
  // but writing it explicitly keeps the field float on every version.
  return Number.isInteger(v) ? `${v}.0` : String(v)
}

/** Hands out strictly increasing ms timestamps per key, so arrival-timed points never collide. */
export class UniqueMsClock {
  private readonly last = new Map<string, number>()
  private static readonly MAX_KEYS = 10_000

  next(key: string, now: number): number {
    const prev = this.last.get(key)
    const t = prev !== undefined && prev >= now ? prev + 1 : now
    if (this.last.size >= UniqueMsClock.MAX_KEYS && prev === undefined) this.last.clear()
    this.last.set(key, t)
    return t
  }
}
