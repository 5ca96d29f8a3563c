/**
 * The firmware simulator: N stations, each with its own MQTT connection,
 * credentials and on-disk outbox, optionally behind a flaky 4G-like proxy.
 *
 * Time compression: with `speed` X a reading is taken every intervalSec / X
 * real seconds and the signals are evaluated at simulated time
 * simStart + elapsed·X, so a demo shows a day of tides in minutes. The `ts`
 * sent is always the wall clock, because the ingest rejects timestamps from
 * the future and the point of the simulator is to exercise the real ingest.
 */
import { isIP } from 'node:net'
import { z } from 'zod'
import type { Logger } from '../core/log.ts'
import { STATION_ID_PATTERN } from '../core/protocol.ts'
import { TidewatchError } from '../core/errors.ts'
import type { BackoffOptions } from './backoff.ts'
import { systemClock, type Clock } from './clock.ts'
import { demoProfile, demoStation } from './demo-stations.ts'
import type { FaultOptions } from './faults.ts'
import { createFlakyProxy, flaky4g, type FlakyProxy, type FlakyProxyOptions } from './flaky-proxy.ts'
import type { TimestampFormat } from './reading.ts'
import { defaultProfile, type StationProfile } from './signals.ts'
import { createStation, type Station, type StationCredentials, type StationStats } from './station.ts'

export type { StationCredentials } from './station.ts'

export interface SimulatedStation extends StationCredentials {
  /** Default: the demo station's profile for a demo id, else one derived from the id. */
  readonly profile?: StationProfile
}

export type FlakyOptions = Omit<FlakyProxyOptions, 'target' | 'log' | 'clock'>

export interface SimulatorOptions {
  /** mqtt://host:port or mqtts://host:port. */
  readonly brokerUrl: string
  readonly stations: readonly SimulatedStation[]
  /** Simulated seconds between readings. Default 900 (15 min, like the Mekong buoys). */
  readonly intervalSec?: number
  /** Time compression factor. Default 1. */
  readonly speed?: number
  /** Seed for every random choice. Default 1. */
  readonly seed?: number
  /** Fault injection; off when absent. */
  readonly faults?: FaultOptions
  /** Put a flaky proxy between the stations and the broker: true for the realistic 4G profile (cuts and outages). */
  readonly flaky?: boolean | FlakyOptions
  /** Parent directory of the per-station outboxes. */
  readonly dataDir: string
  /** CA certificate(s) for mqtts://. */
  readonly ca?: string | Buffer
  /** Default 'epoch-ms'. */
  readonly tsFormat?: TimestampFormat
  /** Outbox capacity per station, readings. Default 20,000. */
  readonly outboxMax?: number
  readonly backoff?: BackoffOptions
  /** Simulated epoch ms at start. Default: the wall clock at start. */
  readonly simStartMs?: number
  readonly log: Logger
  readonly clock?: Clock
}

export interface SimulatorStats {
  readonly published: number
  readonly acked: number
  readonly buffered: number
  readonly dropped: number
  /** Stations currently connected. */
  readonly connected: number
  /** Readings or values the ingest refused, summed over the stations' feedback. */
  readonly refused: number
  readonly stations: readonly StationStats[]
}

export interface Simulator {
  start(): Promise<void>
  /** Stops every station cleanly (each publishes retained "offline") and the proxy. */
  stop(): Promise<void>
  stats(): SimulatorStats
  /** The flaky proxy, when enabled (tests cut it). */
  readonly proxy: FlakyProxy | undefined
  /** Simulated epoch ms now. */
  simulatedNow(): number
}

const OptionsSchema = z.object({
  brokerUrl: z.string().regex(/^mqtts?:\/\/[^/]+/, 'must be mqtt://host:port or mqtts://host:port'),
  stations: z.array(z.object({ id: z.string().regex(STATION_ID_PATTERN), secret: z.string().min(1) })).min(1),
  intervalSec: z.number().positive().default(900),
  speed: z.number().positive().default(1),
  seed: z.number().int().default(1),
  dataDir: z.string().min(1),
})

export function createSimulator(options: SimulatorOptions): Simulator {
  const parsed = OptionsSchema.safeParse(options)
  if (!parsed.success) throw new TidewatchError('CONFIG_INVALID', { issues: parsed.error.issues })
  const cfg = Object.freeze(parsed.data)
  const ids = new Set(cfg.stations.map((s) => s.id))
  if (ids.size !== cfg.stations.length) throw new TidewatchError('CONFIG_INVALID', { reason: 'duplicate station id' })

  const clock = options.clock ?? systemClock
  const log = options.log.child({ component: 'firmware-sim' })
  const intervalMs = (cfg.intervalSec * 1000) / cfg.speed
  let realStart = 0
  let simStart = 0
  let proxy: FlakyProxy | undefined
  let stations: Station[] = []
  let started = false

  const simulatedNow = () => simStart + (clock.now() - realStart) * cfg.speed

  return {
    get proxy() {
      return proxy
    },
    simulatedNow,

    async start() {
      if (started) return
      started = true
      realStart = clock.now()
      simStart = options.simStartMs ?? realStart
      const broker = new URL(cfg.brokerUrl)
      let url = cfg.brokerUrl
      let servername: string | undefined
      if (options.flaky) {
        // true: the realistic 4G profile, with link cuts and outages (flaky-proxy.ts FLAKY_4G).
        const flaky = options.flaky === true ? flaky4g(cfg.speed) : options.flaky
        const port = Number(broker.port || (broker.protocol === 'mqtts:' ? 8883 : 1883))
        proxy = createFlakyProxy({ seed: cfg.seed, ...flaky, target: { host: broker.hostname, port }, log, clock })
        const proxyPort = await proxy.start()
        url = `${broker.protocol}//127.0.0.1:${proxyPort}`
        // Through the proxy the TLS peer is still the broker: verify its name,
        // not 127.0.0.1. SNI must not be an IP address (RFC 6066 §3).
        if (isIP(broker.hostname) === 0) servername = broker.hostname
      }
      stations = options.stations.map((s) =>
        createStation({
          brokerUrl: url,
          credentials: { id: s.id, secret: s.secret },
          profile: s.profile ?? profileFor(s.id),
          dataDir: cfg.dataDir,
          intervalMs,
          simulatedNow,
          seed: cfg.seed,
          faults: options.faults,
          ca: options.ca,
          servername: broker.protocol === 'mqtts:' ? servername : undefined,
          tsFormat: options.tsFormat,
          outboxMax: options.outboxMax,
          backoff: options.backoff,
          log,
          clock,
        }),
      )
      for (const station of stations) station.start()
      log.info({ stations: stations.length, intervalMs, speed: cfg.speed, flaky: proxy !== undefined, url }, 'simulator started')
    },

    async stop() {
      await Promise.all(stations.map((s) => s.stop()))
      await proxy?.stop()
      log.info(summary(stations.map((s) => s.stats())), 'simulator stopped')
    },

    stats() {
      const per = stations.map((s) => s.stats())
      return { ...summary(per), stations: per }
    },
  }
}

function profileFor(id: string): StationProfile {
  const demo = demoStation(id)
  return demo ? demoProfile(demo) : defaultProfile(id)
}

function summary(per: readonly StationStats[]): Omit<SimulatorStats, 'stations'> {
  return {
    published: per.reduce((n, s) => n + s.published, 0),
    acked: per.reduce((n, s) => n + s.acked, 0),
    buffered: per.reduce((n, s) => n + s.buffered, 0),
    dropped: per.reduce((n, s) => n + s.dropped, 0),
    connected: per.filter((s) => s.connected).length,
    refused: per.reduce((n, s) => n + s.refused, 0),
  }
}
