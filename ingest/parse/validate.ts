import type { ErrorCode } from '../../core/errors.ts'
import { BatchSchema, parseTimestamp, ReadingSchema, type ReadingPayload } from '../../core/protocol.ts'
import { salinityFromConductivity } from '../../core/pss78.ts'
import { HEALTH_RANGES, isSensorKind, SENSORS, type SensorKind } from '../../core/sensors.ts'
import type { AcceptedReading, AcceptedValue, Rejection, StationContext } from '../../core/reading.ts'
import { boundedJson, jsonDepthExceeded, MAX_JSON_DEPTH } from './json-depth.ts'

export interface ValidationLimits {
  maxPayloadBytes: number
  maxBatchReadings: number
  lateAfterMs: number
  maxAgeMs: number
  maxFutureMs: number
}

export interface ValidationResult {
  accepted: AcceptedReading[]
  rejected: Rejection[]
  /** Number of readings the payload held (1 for a single reading). */
  readingCount: number
}

const EXCERPT_BYTES = 512
/**
 * Everything a station sends ends up, bounded, in the quarantine (SQLite),
 * its InfluxDB point and the API: a detail quotes keys and values from the
 * payload, and a sensor is a key the station chose. 512 characters hold any
 * real detail; 64 is the longest id the protocol allows (STATION_ID_PATTERN)
 * and far more than any sensor kind.
 */
const DETAIL_CHARS = 512
const SENSOR_CHARS = 64
/** The flags of every unflagged value: one frozen list, not an array per value. */
const NO_FLAGS: readonly string[] = Object.freeze([])
/** How much of a refused value a detail quotes. */
const QUOTED_VALUE_CHARS = 64
/** Reused: a fatal decoder keeps no state between complete decode() calls. */
const UTF8 = new TextDecoder('utf-8', { fatal: true })

/** Bounded text, never JSON.stringify of the whole value: that recurses and overflows on deep input (json-depth.ts). */
function excerptOf(value: unknown): string {
  if (typeof value === 'string') return value.length > EXCERPT_BYTES ? `${value.slice(0, EXCERPT_BYTES)}…` : value
  return boundedJson(value, EXCERPT_BYTES)
}

function bounded(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text
}

function describeZodIssues(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>): string {
  return issues
    .slice(0, 5)
    .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`)
    .join('; ')
}

/**
 * Validates one MQTT payload from a station. Never throws: everything that
 * is wrong becomes a Rejection with a stable reason code, and everything that
 * is right is returned even when its neighbours in the batch are not.
 */
export function validatePayload(
  station: StationContext | undefined,
  stationId: string,
  payload: Buffer,
  receivedAt: number,
  limits: ValidationLimits,
): ValidationResult {
  // No closures on this path: it runs per message, and the dev runner's
  // keepNames wraps every named closure in a defineProperty call.
  if (payload.length > limits.maxPayloadBytes) {
    return rejectPayload(stationId, payload, 'PAYLOAD_TOO_LARGE', `payload is ${payload.length} bytes, maximum is ${limits.maxPayloadBytes}`)
  }
  if (!station) return rejectPayload(stationId, payload, 'STATION_UNKNOWN', `station "${stationId}" is not in the registry`)
  if (!station.enabled) return rejectPayload(stationId, payload, 'STATION_DISABLED', `station "${stationId}" is disabled`)

  let text: string
  try {
    text = UTF8.decode(payload)
  } catch {
    return rejectPayload(stationId, payload, 'PAYLOAD_NOT_UTF8', 'payload bytes are not valid UTF-8')
  }
  // Before anything recurses into it (issue 12): JSON.parse itself takes any
  // depth, but the schema, the excerpt and every later reader would not.
  const tooDeepAt = jsonDepthExceeded(payload, MAX_JSON_DEPTH)
  if (tooDeepAt >= 0) {
    return rejectPayload(stationId, payload, 'PAYLOAD_TOO_DEEP', `JSON nests deeper than ${MAX_JSON_DEPTH} levels (at byte ${tooDeepAt})`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    return rejectPayload(stationId, payload, 'PAYLOAD_NOT_JSON', (err as Error).message)
  }

  if (json !== null && typeof json === 'object' && !Array.isArray(json) && 'readings' in json) {
    const batch = BatchSchema.safeParse(json)
    if (!batch.success) return rejectPayload(stationId, payload, 'PAYLOAD_SCHEMA', describeZodIssues(batch.error.issues))
    const items = batch.data.readings
    if (items.length === 0) return rejectPayload(stationId, payload, 'BATCH_EMPTY', 'readings array is empty')
    if (items.length > limits.maxBatchReadings) {
      return rejectPayload(stationId, payload, 'BATCH_TOO_LARGE', `batch holds ${items.length} readings, maximum is ${limits.maxBatchReadings}`)
    }
    const result: ValidationResult = { accepted: [], rejected: [], readingCount: items.length }
    for (let index = 0; index < items.length; index++) validateReading(station, items[index], receivedAt, limits, result, index)
    return result
  }
  const result: ValidationResult = { accepted: [], rejected: [], readingCount: 1 }
  validateReading(station, json, receivedAt, limits, result, undefined)
  return result
}

function rejectPayload(stationId: string, payload: Buffer, reason: ErrorCode, detail: string): ValidationResult {
  return {
    accepted: [],
    rejected: [{ stationId, reason, detail: bounded(detail, DETAIL_CHARS), excerpt: excerptOf(payload.subarray(0, EXCERPT_BYTES).toString('utf8')) }],
    readingCount: 1,
  }
}

function rejectReading(out: ValidationResult, stationId: string, item: unknown, index: number | undefined, reason: ErrorCode, detail: string, ts?: number): void {
  out.rejected.push({ stationId, reason, detail: bounded(detail, DETAIL_CHARS), index, ts, excerpt: excerptOf(item) })
}

function rejectValue(out: ValidationResult, stationId: string, index: number | undefined, ts: number, rawTs: unknown, key: string, value: unknown, reason: ErrorCode, detail: string): void {
  out.rejected.push({
    stationId,
    reason,
    detail: bounded(detail, DETAIL_CHARS),
    index,
    ts,
    sensor: bounded(key, SENSOR_CHARS),
    excerpt: excerptOf({ ts: rawTs, values: { [key]: value } }),
  })
}

function validateReading(
  station: StationContext,
  item: unknown,
  receivedAt: number,
  limits: ValidationLimits,
  out: ValidationResult,
  index: number | undefined,
): void {
  const stationId = station.id
  const parsed = ReadingSchema.safeParse(item)
  if (!parsed.success) {
    const tsIssue = item !== null && typeof item === 'object' && 'ts' in item ? parsed.error.issues.find((i) => i.path[0] === 'ts') : undefined
    if (tsIssue) return rejectReading(out, stationId, item, index, 'TS_INVALID', `ts: ${tsIssue.message}; use RFC 3339 with offset or epoch milliseconds`)
    return rejectReading(out, stationId, item, index, 'PAYLOAD_SCHEMA', describeZodIssues(parsed.error.issues))
  }
  const reading: ReadingPayload = parsed.data
  const ts = parseTimestamp(reading.ts)
  if (!Number.isFinite(ts)) return rejectReading(out, stationId, item, index, 'TS_INVALID', `ts "${String(reading.ts)}" is not a valid time`)
  if (ts > receivedAt + limits.maxFutureMs) {
    return rejectReading(out, stationId, item, index, 'TS_IN_FUTURE', `ts is ${Math.round((ts - receivedAt) / 1000)} s ahead of the server clock; limit is ${limits.maxFutureMs / 1000} s`, ts)
  }
  if (ts < receivedAt - limits.maxAgeMs) {
    const hint = typeof reading.ts === 'number' && reading.ts < 1e11 ? ' (looks like epoch seconds; send milliseconds)' : ''
    return rejectReading(out, stationId, item, index, 'TS_TOO_OLD', `ts ${new Date(ts).toISOString()} is older than ${limits.maxAgeMs / 86_400_000} days${hint}`, ts)
  }

  // Object.keys, not Object.entries: one array per reading instead of one
  // per value on the hot path. Not for…in: that would also walk a
  // prototype a hostile "__proto__" key might have set.
  const values = reading.values
  const keys = Object.keys(values)
  if (keys.length === 0) return rejectReading(out, stationId, item, index, 'READING_NO_VALUES', 'values is empty')
  // One pass: a value is checked, calibrated and range-checked in turn. No
  // map of raw values and no find() afterwards: this runs for every reading
  // (bench/micro.ts). JSON.parse keeps one value per key, so each sensor
  // appears at most once.
  const accepted: AcceptedValue[] = []
  let salinityReported = false
  let conductivity: AcceptedValue | undefined
  let temperature: AcceptedValue | undefined
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k]!
    const raw = values[key]
    if (!isSensorKind(key)) {
      rejectValue(out, stationId, index, ts, reading.ts, key, raw, 'READING_UNKNOWN_SENSOR', `"${bounded(key, SENSOR_CHARS)}" is not one of ${Object.keys(SENSORS).join(', ')}`)
      continue
    }
    if (typeof raw !== 'number' || !Number.isFinite(raw)) {
      rejectValue(out, stationId, index, ts, reading.ts, key, raw, 'VALUE_NOT_NUMBER', `${bounded(key, SENSOR_CHARS)} must be a finite number, got ${boundedJson(raw, QUOTED_VALUE_CHARS)}`)
      continue
    }
    if (key === 'salinity') salinityReported = true
    const cal = station.calibration[key]
    const value = cal ? raw * cal.scale + cal.offset : raw
    if (!withinSensorRange(key, value)) {
      rejectOutOfRange(out, stationId, index, ts, key, value, '', { ts: reading.ts, values: { [key]: raw } })
      continue
    }
    const v: AcceptedValue = { sensor: key, value, raw, flags: NO_FLAGS }
    accepted.push(v)
    if (key === 'conductivity') conductivity = v
    else if (key === 'temperature') temperature = v
  }

  // PSS-78: derive salinity for stations that only carry a conductivity probe.
  if (conductivity && temperature && !salinityReported) {
    const { salinity, inRange } = salinityFromConductivity(conductivity.value, temperature.value)
    const cal = station.calibration.salinity
    const value = round(cal ? salinity * cal.scale + cal.offset : salinity, 4)
    // A derived salinity passes the same range check as a reported one
    // (SENSORS.salinity, 0..50 ‰): a fouled or miscalibrated cell must not
    // put 95 ‰ in the database and in farmers' SMS. It is quarantined under
    // the same reason code, alone; the conductivity and temperature it came
    // from were checked on their own and stay accepted.
    if (!withinSensorRange('salinity', value)) {
      const inputs = { ts: reading.ts, values: { conductivity: conductivity.raw, temperature: temperature.raw } }
      rejectOutOfRange(out, stationId, index, ts, 'salinity', value, ` (derived with PSS-78 from conductivity ${conductivity.value} mS/cm at ${temperature.value} °C)`, inputs)
    } else {
      // 42..50 ‰ is kept but flagged: PSS-78 (and so GSW) is only defined to
      // 42 and the value is an extrapolation of its polynomial, yet dry-season
      // shrimp ponds really reach the low 40s (core/sensors.ts), and a
      // reported 45 ‰ is stored too. Refusing it would hide a real
      // hypersaline pond; the flag tells readers not to trust the decimals.
      accepted.push({ sensor: 'salinity', value, raw: round(salinity, 4), flags: inRange ? ['derived_pss78'] : ['derived_pss78', 'pss78_out_of_range'] })
    }
  }

  if (accepted.length === 0) return
  out.accepted.push({
    stationId,
    ts,
    receivedAt,
    seq: reading.seq,
    late: ts < receivedAt - limits.lateAfterMs,
    values: accepted,
    battery: inRange(reading.battery, HEALTH_RANGES.battery),
    rssi: inRange(reading.rssi, HEALTH_RANGES.rssi),
  })
}

/** The catalog's plausible range (core/sensors.ts), after calibration; NaN is outside. */
function withinSensorRange(sensor: SensorKind, value: number): boolean {
  const spec = SENSORS[sensor]
  return value >= spec.min && value <= spec.max
}

function rejectOutOfRange(out: ValidationResult, stationId: string, index: number | undefined, ts: number, sensor: SensorKind, value: number, how: string, excerpt: unknown): void {
  const spec = SENSORS[sensor]
  out.rejected.push({
    stationId,
    reason: 'VALUE_OUT_OF_RANGE',
    detail: `${sensor} = ${value} ${spec.unit}${how} is outside ${spec.min}..${spec.max} ${spec.unit}`,
    index,
    ts,
    sensor,
    excerpt: excerptOf(excerpt),
  })
}

function inRange(v: number | undefined, range: { min: number; max: number }): number | undefined {
  return v !== undefined && Number.isFinite(v) && v >= range.min && v <= range.max ? v : undefined
}

function round(v: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(v * f) / f
}
