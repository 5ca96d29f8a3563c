import type { Logger } from '../core/log.ts'
import type { AcceptedReading } from '../core/reading.ts'
import type { DurableGate, RefusalSink } from '../broker/hooks/authorize-publish.ts'
import type { IngestService } from '../ingest/service.ts'

/**
 * What crosses from one component to the next, one named adapter a hand-off,
 * so platform.ts reads as the wiring and nothing else:
 *
 *   station → broker ─ingestGate─→ ingest ─AcceptedReadingsFanOut─→ alerter
 *   external broker ─ingestMessageHandler─→ ingest
 *   broker refusal ─refusalRecorder─→ quarantine
 *   alerter points ─liveSpoolWriter─→ live spool lane → InfluxDB
 */

export interface ReadingsListener {
  /** Must only enqueue: it runs on the ingest's path, after the spool's fsync. */
  onAccepted(readings: AcceptedReading[]): void
}

/**
 * Accepted readings → whoever evaluates them (the alerter, a test's hook).
 * The ingest starts first (the alerter writes through its spool), so the
 * listeners join after it; the platform is not yet listening for stations
 * then, so no reading passes unseen.
 */
export class AcceptedReadingsFanOut {
  private readonly listeners: ReadingsListener[] = []

  listen(listener: ReadingsListener): void {
    this.listeners.push(listener)
  }

  /** Passed to the ingest as its onAccepted. */
  readonly deliver = (readings: AcceptedReading[]): void => {
    for (const listener of this.listeners) listener.onAccepted(readings)
  }
}

/**
 * Embedded broker → ingest: a station's publish is handed over, and the
 * PUBACK waits for this promise, i.e. for the spool's fsync (acknowledge
 * only what is durable, docs/DURABILITY.md).
 */
export function ingestGate(ingest: IngestService): DurableGate {
  // The ingest's own promise, not an async wrapper: one frame fewer per message in flight.
  return (stationId, payload) => ingest.ingest.handle(stationId, payload)
}

/**
 * A publish the broker refused before the ingest saw it (too large, bad
 * topic, retained reading) → the quarantine, kept for inspection and counted.
 */
export function refusalRecorder(ingest: IngestService, log: Logger): RefusalSink {
  return (refusal) => void ingest.ingest.quarantineOnly([refusal]).catch((err: unknown) => log.error({ err }, 'cannot record refusal'))
}

/** External broker → ingest: the source acknowledges once this resolves (ingest/source/mqtt-source.ts). */
export function ingestMessageHandler(ingest: IngestService): (topic: string, payload: Buffer) => Promise<unknown> {
  return (topic, payload) => ingest.ingest.handleMessage(topic, payload)
}

/** The alerter's points (events, incidents) → the live spool lane: as durable as a reading, and never behind a backlog. */
export function liveSpoolWriter(ingest: IngestService): (lines: string[]) => Promise<void> {
  return (lines) => ingest.liveSpool.append([{ receivedAt: Date.now(), lines }])
}
