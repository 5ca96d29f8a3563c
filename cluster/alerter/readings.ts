import type { AcceptedReading, AcceptedValue } from '../../core/reading.ts'
import { SENSOR_KINDS, isSensorKind } from '../../core/sensors.ts'
import { LEGACY_READING_MEASUREMENT, READING_MEASUREMENT, flagsField, rawField, valueField } from '../../influx/schema.ts'

/**
 * Accepted readings back out of a readings-log message: the `station_reading`
 * lines that ingest/points.ts readingLines() wrote, one per reading with a
 * field per sensor (influx/schema.ts). The log carries exactly what the
 * writers POST to InfluxDB, so the alerter needs no second format from the
 * edges. Lines of the legacy schema (`reading`, one per sensor value, from
 * edges not yet upgraded) are grouped again by station and device timestamp.
 * Lines of other measurements (station_health) are skipped; a line that does
 * not parse is counted by the caller and skipped, never thrown.
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
    const wide = line.startsWith(`${READING_MEASUREMENT},`)
    if (!wide && !line.startsWith(`${LEGACY_READING_MEASUREMENT},`)) continue
    const p = parseLine(line)
    const values = p && (wide ? wideValues(p.fields) : legacyValue(p))
    if (!p || !values || values.length === 0) {
      malformed++
      continue
    }
    const station = p.tags.get('station')!
    const key = `${station}\u0000${p.ts}`
    let r = byKey.get(key)
    if (!r) {
      const seq = p.fields.get('seq')
      r = {
        stationId: station,
        ts: p.ts,
        receivedAt: p.ts + Math.round((Number(p.fields.get('delay_s') ?? 0) || 0) * 1000),
        late: p.fields.get('late') === 'true',
        values: [],
      }
      if (seq !== undefined && /^-?\d+i$/.test(seq)) r.seq = Number(seq.slice(0, -1))
      byKey.set(key, r)
    }
    r.values.push(...values)
  }
  return { readings: [...byKey.values()], malformed }
}

interface Line {
  tags: Map<string, string>
  fields: Map<string, string>
  ts: number
}

function parseLine(line: string): Line | null {
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
  const ts = Number(parts[2])
  if (!tags.get('station') || !Number.isFinite(ts)) return null
  return { tags, fields, ts }
}

function acceptedValue(sensor: AcceptedValue['sensor'], value: string | undefined, raw: string | undefined, flags: string | undefined): AcceptedValue | null {
  const v = Number(value)
  if (value === undefined || !Number.isFinite(v)) return null
  const r = Number(raw ?? value)
  return { sensor, value: v, raw: Number.isFinite(r) ? r : v, flags: flags ? unquote(flags).split(',').filter(Boolean) : [] }
}

/** One point per reading: every sensor field present; null if one does not parse. */
function wideValues(fields: Map<string, string>): AcceptedValue[] | null {
  const out: AcceptedValue[] = []
  for (const sensor of SENSOR_KINDS) {
    if (!fields.has(valueField(sensor))) continue
    const v = acceptedValue(sensor, fields.get(valueField(sensor)), fields.get(rawField(sensor)), fields.get(flagsField(sensor)))
    if (!v) return null
    out.push(v)
  }
  return out
}

/** The legacy schema: one sensor value, named by the `sensor` tag. */
function legacyValue(p: Line): AcceptedValue[] | null {
  const sensor = p.tags.get('sensor')
  if (!sensor || !isSensorKind(sensor)) return null
  const v = acceptedValue(sensor, p.fields.get('value'), p.fields.get('raw'), p.fields.get('flags'))
  return v ? [v] : null
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
