/**
 * What a simulated station stores and sends: the reading in wire format
 * (docs/PROTOCOL.md), or a deliberately broken payload from fault injection.
 */
import type { SensorKind } from '../core/sensors.ts'
import { MAX_BATCH_READINGS } from '../core/protocol.ts'
import type { OutboxRecord } from './outbox.ts'
import { LOCAL_OFFSET_MS, LOCAL_UTC_OFFSET } from '../core/local-time.ts'

export interface StationReading {
  readonly ts: number | string
  readonly seq: number
  readonly values: Partial<Record<SensorKind, number>>
  readonly battery: number
  readonly rssi: number
}

/** One outbox record: a reading, or raw text that must be sent verbatim and alone. */
export type OutboxBody = { readonly r: StationReading } | { readonly raw: string }

export type TimestampFormat = 'epoch-ms' | 'rfc3339'

/** Epoch ms, or RFC 3339 in Vietnam local time with its +07:00 offset, as a station's RTC prints it. */
export function formatTimestamp(ms: number, format: TimestampFormat): number | string {
  if (format === 'epoch-ms') return ms
  return new Date(ms + LOCAL_OFFSET_MS).toISOString().replace('Z', LOCAL_UTC_OFFSET)
}

export interface Payload {
  /** The records this payload carries; ack through the last one's id on PUBACK. */
  readonly records: readonly OutboxRecord<OutboxBody>[]
  readonly text: string
}

/**
 * The next payload from the oldest pending records. One pending reading goes
 * out as a single reading; a backlog goes out as batches of at most
 * MAX_BATCH_READINGS, because MQTT.js replays one message per round trip and
 * on 4G that is far too slow. A raw (malformed) record always travels alone
 * so it cannot take good readings down with it.
 */
export function nextPayload(pending: readonly OutboxRecord<OutboxBody>[], maxBatch = MAX_BATCH_READINGS): Payload | undefined {
  const first = pending[0]
  if (!first) return undefined
  if ('raw' in first.body) return { records: [first], text: first.body.raw }
  const records: OutboxRecord<OutboxBody>[] = []
  for (const rec of pending) {
    if (records.length >= maxBatch || 'raw' in rec.body) break
    records.push(rec)
  }
  const readings = records.map((rec) => (rec.body as { r: StationReading }).r)
  const text = readings.length === 1 ? JSON.stringify(readings[0]) : JSON.stringify({ readings })
  return { records, text }
}
