/**
 * History for a fresh demo: the readings each station would have taken over
 * the last days, sent the way real firmware sends a backlog after an outage
 * (docs/PROTOCOL.md, "A batch (store and forward)"): over MQTT, with the
 * station's own credentials, as batches of readings with their original
 * timestamps, oldest first, QoS 1, the next batch only after the PUBACK of
 * the previous one. So the history goes through the broker's authorization
 * and the ingest's validation like any reading; the ingest stores readings
 * older than 15 minutes with `late = true`, and the alerter never sends an
 * SMS for a late reading.
 *
 * The rate is bounded on purpose: one station at a time, one batch in
 * flight, a pause between batches, so a backfill never crowds out live
 * readings, the API or /health.
 *
 * Signals come from the same pure functions as the live simulator
 * (signals.ts), with a seeded noise stream of their own, so a backfill is
 * reproducible and the chart joins the live readings without a seam.
 */
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt'
import type { Logger } from '../core/log.ts'
import { MAX_BATCH_READINGS, topics } from '../core/protocol.ts'
import { demoProfile, demoStation } from './demo-stations.ts'
import { createRng, hashSeed } from './prng.ts'
import { defaultProfile, sampleSignals, type StationProfile } from './signals.ts'
import type { StationCredentials } from './station.ts'

export interface BackfillStation extends StationCredentials {
  /** Default: the demo station's profile for a demo id, else one derived from the id. */
  readonly profile?: StationProfile
}

export interface BackfillOptions {
  /** mqtt://host:port or mqtts://host:port. */
  readonly brokerUrl: string
  readonly stations: readonly BackfillStation[]
  /** First reading at or after this instant (epoch ms). */
  readonly fromMs: number
  /** Readings strictly before this instant (epoch ms). */
  readonly toMs: number
  /** Seconds between readings. Default 900: real buoys sample every 15 minutes (FIELD-NOTES "Sampling"). */
  readonly intervalSec?: number
  /** Readings per batch. Default 96 (a day at 15 minutes), well under MAX_BATCH_READINGS and the 256 KiB payload limit. */
  readonly batchSize?: number
  /** Pause between two batches, ms. Default 200: the rate bound. */
  readonly pauseMs?: number
  /** Seed of the noise. Default 1. */
  readonly seed?: number
  /** CA certificate(s) for mqtts://. */
  readonly ca?: string | Buffer
  /** Stops the backfill between batches (shutdown). */
  readonly signal?: AbortSignal
  readonly log: Logger
}

export interface BackfillResult {
  /** Readings acknowledged by the broker, per station id. */
  readonly acked: Readonly<Record<string, number>>
  /** True when every station's history was acknowledged. */
  readonly complete: boolean
}

const CONNECT_TIMEOUT_MS = 30_000

/** Readings of one station at fixed instants, in wire format, oldest first. */
export function historyReadings(profile: StationProfile, fromMs: number, toMs: number, intervalMs: number, seed: number): Array<Record<string, unknown>> {
  // Its own stream: the backfill must not shift the live station's noise.
  const rng = createRng(hashSeed(seed, profile.id)).fork('backfill')
  // Align to the interval grid, as a logger's RTC-driven sampling would be.
  const first = Math.ceil(fromMs / intervalMs) * intervalMs
  const out: Array<Record<string, unknown>> = []
  for (let ts = first; ts < toMs; ts += intervalMs) {
    const s = sampleSignals(profile, ts, rng)
    out.push({ ts, values: s.values, battery: s.battery, rssi: s.rssi })
  }
  return out
}

function profileFor(s: BackfillStation): StationProfile {
  if (s.profile) return s.profile
  const demo = demoStation(s.id)
  return demo ? demoProfile(demo) : defaultProfile(s.id)
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms)
    function done(): void {
      clearTimeout(t)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}

/**
 * Sends each station's history. Failures (refused login, lost connection)
 * are logged and end that station's backfill; the result says whether all
 * of it was acknowledged. Never throws for a broker problem.
 */
export async function backfillStations(options: BackfillOptions): Promise<BackfillResult> {
  // The caller names the component (demo-backfill, or a test's own logger).
  const log = options.log
  const intervalMs = (options.intervalSec ?? 900) * 1000
  const batchSize = Math.min(options.batchSize ?? 96, MAX_BATCH_READINGS)
  const pauseMs = options.pauseMs ?? 200
  const acked: Record<string, number> = {}
  let complete = true

  for (const station of options.stations) {
    if (options.signal?.aborted) return { acked, complete: false }
    const readings = historyReadings(profileFor(station), options.fromMs, options.toMs, intervalMs, options.seed ?? 1)
    acked[station.id] = 0
    let client: MqttClient | undefined
    try {
      const mqttOptions: IClientOptions = {
        // Not the live station's client id: the same id would take over (and
        // close) the live connection ([MQTT-3.1.4-2]).
        clientId: `station-${station.id}-backfill`,
        username: station.id,
        password: station.secret,
        protocolVersion: 4,
        clean: true,
        reconnectPeriod: 0,
        connectTimeout: CONNECT_TIMEOUT_MS,
        ...(options.ca !== undefined ? { ca: options.ca } : {}),
      }
      const c = await connectAsync(options.brokerUrl, mqttOptions)
      client = c
      // With reconnectPeriod 0 a dropped connection never settles a pending
      // publish: race every publish against the close.
      const closed = new Promise<never>((_, reject) => c.once('close', () => reject(new Error('connection closed'))))
      closed.catch(() => {})
      for (let i = 0; i < readings.length; i += batchSize) {
        if (options.signal?.aborted) break
        const batch = readings.slice(i, i + batchSize)
        // Resolves on PUBACK: the data center has it on disk (docs/PROTOCOL.md).
        await Promise.race([c.publishAsync(topics.readings(station.id), JSON.stringify({ readings: batch }), { qos: 1 }), closed])
        acked[station.id]! += batch.length
        if (i + batchSize < readings.length) await sleep(pauseMs, options.signal)
      }
      log.info({ station: station.id, readings: acked[station.id], of: readings.length }, 'backfilled history')
    } catch (err) {
      log.warn({ station: station.id, err: (err as Error).message, acked: acked[station.id] }, 'backfill stopped for this station')
    } finally {
      await client?.endAsync().catch(() => {})
    }
    if (acked[station.id] !== readings.length) complete = false
  }
  return { acked, complete }
}
