import type { ErrorCode } from './errors.ts'
import type { SensorKind } from './sensors.ts'

/**
 * The reading model every component shares: what a station is to the
 * validator (StationContext, Calibration), what validation accepts
 * (AcceptedReading, AcceptedValue) and what it refuses (Rejection). The
 * ingest produces them; the registry, the alerter and the platform consume
 * them. docs/PROTOCOL.md describes the payloads they come from.
 */

/** Per-sensor linear calibration from the registry: stored = raw * scale + offset. */
export interface Calibration {
  offset: number
  scale: number
}

export interface StationContext {
  id: string
  enabled: boolean
  calibration: Partial<Record<SensorKind, Calibration>>
}

/** A value that passed every check, calibrated, ready to be stored. */
export interface AcceptedValue {
  sensor: SensorKind
  value: number
  raw: number
  /** Quality flags, e.g. "derived_pss78", "pss78_out_of_range". Read-only: unflagged values share one empty list. */
  flags: readonly string[]
}

export interface AcceptedReading {
  stationId: string
  ts: number
  receivedAt: number
  seq?: number
  late: boolean
  values: AcceptedValue[]
  battery?: number
  rssi?: number
}

export interface Rejection {
  stationId: string
  reason: ErrorCode
  /** Human-readable specifics: which field, which value, which limit. */
  detail: string
  /** Position in a batch, when the payload was one. */
  index?: number
  sensor?: string
  ts?: number
  excerpt: string
}
