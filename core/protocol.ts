import { z } from 'zod'
import { isPlainObject } from './json.ts'

/**
 * The station <-> data center wire protocol (docs/PROTOCOL.md). Everything a
 * firmware maker needs is derived from the constants and schemas here.
 */
export const STATION_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/
export const MAX_BATCH_READINGS = 500

export const topics = {
  readings: (id: string) => `stations/${id}/readings`,
  status: (id: string) => `stations/${id}/status`,
  config: (id: string) => `stations/${id}/config`,
  /** What the ingest refused from this station (docs/PROTOCOL.md, "Feedback: what was refused"). */
  feedback: (id: string) => `stations/${id}/feedback`,
  allReadings: 'stations/+/readings',
  allStatus: 'stations/+/status',
} as const

export type StationTopicKind = 'readings' | 'status' | 'config' | 'feedback'

const STATIONS_PREFIX = 'stations/'

/** Splits `stations/{id}/{kind}`; undefined for anything else. */
export function parseStationTopic(topic: string): { stationId: string; kind: StationTopicKind } | undefined {
  // indexOf, not split('/'): the broker runs this for every publish.
  if (!topic.startsWith(STATIONS_PREFIX)) return undefined
  const slash = topic.indexOf('/', STATIONS_PREFIX.length)
  if (slash < 0 || topic.indexOf('/', slash + 1) >= 0) return undefined
  const stationId = topic.slice(STATIONS_PREFIX.length, slash)
  const kind = topic.slice(slash + 1)
  if (!STATION_ID_PATTERN.test(stationId)) return undefined
  if (kind !== 'readings' && kind !== 'status' && kind !== 'config' && kind !== 'feedback') return undefined
  return { stationId, kind }
}

/** `ts`: RFC 3339 with an explicit offset (Z or ±hh:mm), or integer epoch milliseconds. */
export const TimestampSchema = z.union([
  z.iso.datetime({ offset: true, local: false }),
  z.number().int().nonnegative(),
])

export const ReadingSchema = z.strictObject({
  ts: TimestampSchema,
  seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
  // Values are checked one by one after the shape, so one broken electrode
  // quarantines only its own value and not the whole reading. So zod only
  // checks that `values` is an object, and hands the parsed object on as it
  // is: z.record(z.string(), z.unknown()) copied it key by key, and without
  // that copy bench/micro.ts's validation went from 3.03 to 2.37 µs per
  // reading (docs/PERFORMANCE.md, "Unrouted publishes and a lighter ingest").
  values: z.custom<Record<string, unknown>>(isPlainObject, 'expected an object of sensor values'),
  battery: z.number().optional(),
  rssi: z.number().optional(),
})
export type ReadingPayload = z.infer<typeof ReadingSchema>

export const BatchSchema = z.strictObject({
  readings: z.array(z.unknown()),
})

export const STATUS_ONLINE = 'online'
export const STATUS_OFFLINE = 'offline'

export function parseTimestamp(ts: string | number): number {
  return typeof ts === 'number' ? ts : Date.parse(ts)
}

/** Feedback on `stations/<id>/feedback`: what the ingest refused from one payload (docs/PROTOCOL.md, "Feedback: what was refused"). */
/** The wire format, version 1. Short keys: a station's MQTT buffer is small. */
export const FeedbackItemSchema = z.strictObject({
  /** Position in the batch (0-based); absent for a single reading or a payload-wide refusal. */
  i: z.number().int().nonnegative().optional(),
  /** The refused reading's own `seq`, when it carried one. */
  seq: z.number().int().nonnegative().optional(),
  /** Stable reason code, the same the quarantine stores (core/errors.ts). */
  code: z.string(),
  /** Set when only this sensor's value was refused; the rest of the reading was checked on its own. */
  sensor: z.string().optional(),
})
export const FeedbackMessageSchema = z.strictObject({
  v: z.literal(1),
  /** When the data center received the payload, epoch ms. */
  at: z.number().int(),
  /** Readings the payload held (1 for a single reading or an unreadable payload). */
  readings: z.number().int().nonnegative(),
  /** Readings stored with at least one value. */
  stored: z.number().int().nonnegative(),
  /** The payload's `seq`, for a single reading that carried one. */
  seq: z.number().int().nonnegative().optional(),
  refused: z.array(FeedbackItemSchema),
  /** Refusals left out past MAX_ITEMS. */
  omitted: z.number().int().positive().optional(),
})
export type FeedbackItem = z.infer<typeof FeedbackItemSchema>
export type FeedbackMessage = z.infer<typeof FeedbackMessageSchema>
