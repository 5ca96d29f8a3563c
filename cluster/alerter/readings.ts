import type { AcceptedReading, AcceptedValue } from '../../core/reading.ts'
import { isSensorKind } from '../../core/sensors.ts'

/**
 * Accepted readings back out of a readings-log message: the `reading` lines
 * that ingest/points.ts readingLines() wrote, one per sensor value, grouped
 * again by station and device timestamp. The log carries exactly what the
 * writers POST to InfluxDB, so the alerter needs no second format from the
 * edges. Lines of other measurements (station_health) are skipped; a line
 * that does not parse is counted by the caller and skipped, never thrown.
 *
 * receivedAt is `ts + delay_s` (delay_s is rounded to 0.1 s by readingLines):
 * deterministic for every node that reads the same message, which is what
 * makes a successor's re-evaluation give the same decisions and keys.
 */
export interface ParsedMessage {
  readings: AcceptedReading[]
  /** Lines that looked like readings but did not parse. */
  malformed: number
}

export function readingsFromBody(body: string): ParsedMessage {
  const byKey = new Map<string, AcceptedReading>()
  let malformed = 0
  for (const line of body.split('\n')) {
    if (!line.startsWith('reading,')) continue
    const p = parseReadingLine(line)
    if (!p) {
      malformed++
      continue
    }
    const key = `${p.station}\u0000${p.ts}`
    let r = byKey.get(key)
    if (!r) {
      r = { stationId: p.station, ts: p.ts, receivedAt: p.ts + Math.round(p.delayS * 1000), late: p.late, values: [] }
      if (p.seq !== undefined) r.seq = p.seq
      byKey.set(key, r)
    }
    r.values.push(p.value)
  }
  return { readings: [...byKey.values()], malformed }
}

interface ReadingLine {
  station: string
  ts: number
  late: boolean
  delayS: number
  seq?: number
  value: AcceptedValue
}

function parseReadingLine(line: string): ReadingLine | null {
  const parts = splitUnescaped(line, ' ')
  if (parts.length !== 3) return null
  const tags = new Map<string, string>()
  for (const kv of splitUnescaped(parts[0]!, ',').slice(1)) {
    const [k, v] = splitUnescaped(kv, '=')
    if (k === undefined || v === undefined) return null
    tags.set(unescapeTag(k), unescapeTag(v))
  }
  const fields = new Map<string, string>()
  for (const kv of splitUnescaped(parts[1]!, ',')) {
    const i = kv.indexOf('=')
    if (i <= 0) return null
    fields.set(kv.slice(0, i), kv.slice(i + 1))
  }
  const station = tags.get('station')
  const sensor = tags.get('sensor')
  const ts = Number(parts[2])
  const value = Number(fields.get('value'))
  const raw = Number(fields.get('raw') ?? fields.get('value'))
  if (!station || !sensor || !isSensorKind(sensor) || !Number.isFinite(ts) || !Number.isFinite(value)) return null
  const flags = fields.get('flags')
  const seq = fields.get('seq')
  const out: ReadingLine = {
    station,
    ts,
    late: fields.get('late') === 'true',
    delayS: Number(fields.get('delay_s') ?? 0) || 0,
    value: { sensor, value, raw: Number.isFinite(raw) ? raw : value, flags: flags ? unquote(flags).split(',').filter(Boolean) : [] } as AcceptedValue,
  }
  if (seq !== undefined && /^-?\d+i$/.test(seq)) out.seq = Number(seq.slice(0, -1))
  return out
}

/** Splits on `sep` outside backslash escapes and double quotes (line-protocol rules). */
function splitUnescaped(s: string, sep: string): string[] {
  const out: string[] = []
  let start = 0
  let quoted = false
  for (let i = 0; i < s.length; i++) {
    const c = s[i]
    if (c === '\\') {
      i++
      continue
    }
    if (c === '"') quoted = !quoted
    else if (c === sep && !quoted) {
      out.push(s.slice(start, i))
      start = i + 1
      if (sep === '=') break // a tag value may contain an escaped '='; only the first bare one splits
    }
  }
  out.push(s.slice(start))
  return out
}

function unescapeTag(s: string): string {
  return s.replace(/\\([,= \\])/g, '$1')
}

function unquote(s: string): string {
  return s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1).replace(/\\(["\\])/g, '$1') : s
}
