import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { EventLoopDelayMonitor } from '../core/event-loop.ts'
import type { Config } from '../core/config.ts'
import type { Logger } from '../core/log.ts'
import { fileSecret } from '../core/secrets.ts'
import { buildApi } from '../api/server.ts'
import { startBroker, type BrokerHandle } from '../broker/server.ts'
import type { ServiceAccount } from '../broker/hooks/authenticate.ts'
import { Registry } from '../devices/registry.ts'
import { createQueryClient, type InfluxQueryClient } from '../influx/query.ts'
import { startIngestService, type IngestService } from '../ingest/service.ts'
import { startMqttSource, type MqttSource } from '../ingest/source/mqtt-source.ts'
import type { AcceptedReading } from '../core/reading.ts'
import { createAlerter, type Alerter } from '../alerts/alerter.ts'
import { alertRoutes } from '../api/routes/alerts.ts'
import { TokenStore } from '../api/auth/tokens.ts'
import { AuditLog } from '../api/auth/audit.ts'
import { RuleBook } from '../levels/book.ts'
import { alertStateReader } from '../levels/status.ts'
import { sampleMessages } from '../api/board/sms-sample.ts'
import { influxLevelsSink, startLevelsWriter, type LevelsWriter } from '../levels/influx-levels.ts'
import { registryPath } from './args.ts'

/**
 * The composition root: builds the parts a command asked for from one frozen
 * config, wires them, and tears them down in the order that loses nothing:
 * stop taking messages, let the spool drain, then close the rest.
 */
export interface PlatformParts {
  broker?: boolean
  /** 'embedded' consumes inside the broker's publish path; 'mqtt' subscribes to an external broker. */
  ingest?: 'embedded' | 'mqtt'
  api?: boolean
}

export interface Platform {
  config: Readonly<Config>
  registry: Registry
  broker?: BrokerHandle
  ingest?: IngestService
  source?: MqttSource
  alerter?: Alerter
  /** Writes the levels in force to InfluxDB for the dashboards (levels/influx-levels.ts). */
  levels?: LevelsWriter
  api?: FastifyInstance
  apiUrl?: string
  query?: InfluxQueryClient
  stop(): Promise<void>
}

export function ingestServiceAccount(config: Readonly<Config>): ServiceAccount {
  return {
    name: 'ingest',
    username: config.mqtt.ingestUsername,
    password: config.mqtt.ingestPassword ?? fileSecret(join(config.dataDir, 'secrets', 'ingest-mqtt-password')),
  }
}

export function staffToken(config: Readonly<Config>): string {
  return config.http.staffToken ?? fileSecret(join(config.dataDir, 'secrets', 'staff-api-token'))
}

export function readQueryClient(config: Readonly<Config>): InfluxQueryClient | undefined {
  const target = config.influx.targets.find((t) => t.name === config.influx.readTarget) ?? config.influx.targets[0]
  if (!target) return undefined
  return createQueryClient({
    url: target.url,
    database: target.mode === 'v1' ? target.database : target.bucket!,
    username: target.username,
    password: target.password,
    token: target.mode === 'v2' ? target.token : undefined,
  })
}

/** The last 2 h of on-time readings, so rate-of-rise and TT work right after a restart. */
async function seedAlerter(alerter: Alerter, query: InfluxQueryClient | undefined, log: Logger): Promise<void> {
  if (!query) return
  try {
    const [series = []] = await query.query(`SELECT "value" FROM "reading" WHERE time > now() - 2h AND "late" = false GROUP BY "station", "sensor"`)
    const samples = series.flatMap((s) => s.values.map(([ts, value]) => ({ station: s.tags!.station!, sensor: s.tags!.sensor!, ts: ts as number, value: value as number })))
    alerter.seed(samples)
    log.info({ samples: samples.length }, 'alerter warmed from stored readings')
  } catch (err) {
    // InfluxDB down at start-up: the rise windows fill from the live stream instead.
    log.warn({ err: (err as Error).message }, 'cannot warm the alerter from InfluxDB')
  }
}

export interface StartPlatformOptions {
  config: Readonly<Config>
  log: Logger
  parts: PlatformParts
  onAccepted?: (readings: AcceptedReading[]) => void
  apiPlugins?: Parameters<typeof buildApi>[0]['plugins']
  apiMetrics?: Parameters<typeof buildApi>[0]['metrics']
}

export async function startPlatform(opts: StartPlatformOptions): Promise<Platform> {
  const { config, log, parts } = opts
  const registry = Registry.open(registryPath(config))
  const stops: Array<() => Promise<void>> = []
  const eventLoop = new EventLoopDelayMonitor()
  stops.push(async () => eventLoop.stop())
  const platform: Platform = {
    config,
    registry,
    query: readQueryClient(config),
    async stop() {
      for (const stop of stops.reverse()) {
        try {
          await stop()
        } catch (err) {
          log.error({ err }, 'error during shutdown')
        }
      }
      registry.close()
    },
  }
  try {
    if (parts.ingest) {
      // The alerter evaluates readings as the ingest accepts them (never by
      // polling), and writes its events through the same durable spool.
      let alerter: Alerter | undefined
      platform.ingest = await startIngestService({
        config,
        registry,
        log,
        onAccepted: (readings) => {
          alerter?.onAccepted(readings)
          opts.onAccepted?.(readings)
        },
      })
      const ingest = platform.ingest
      stops.push(() => ingest.stop())
      if (config.alerts.enabled) {
        alerter = await createAlerter({
          db: registry.db,
          registry,
          config: config.alerts,
          log: log.child({ component: 'alerter' }),
          writePoints: (lines) => ingest.liveSpool.append([{ receivedAt: Date.now(), lines }]),
        })
        await alerter.start()
        platform.alerter = alerter
        await seedAlerter(alerter, platform.query, log)
        const a = alerter
        stops.push(async () => {
          a.flush()
          await a.stop()
        })
      }
    }
    // One RuleBook for everything on this connection: the alerter's when it runs (levels/book.ts).
    const rules = platform.alerter?.rules ?? new RuleBook(registry.db, registry)
    if (platform.ingest && config.influx.targets.length > 0) {
      const levels = startLevelsWriter({ stations: () => registry.list(), rules, write: influxLevelsSink(config), log })
      platform.levels = levels
      stops.push(() => levels.stop())
    }
    if (parts.broker) {
      const ingest = parts.ingest === 'embedded' ? platform.ingest : undefined
      platform.broker = await startBroker({
        config,
        stations: registry,
        services: [ingestServiceAccount(config)],
        log: log.child({ component: 'broker' }),
        gate: ingest ? async (stationId, payload) => void (await ingest.ingest.handle(stationId, payload)) : undefined,
        onRefused: ingest
          ? (r) => void ingest.ingest.quarantineOnly([r]).catch((err: unknown) => log.error({ err }, 'cannot record refusal'))
          : undefined,
        feedback: ingest?.feedback,
      })
      const broker = platform.broker
      // Stop the broker first so no new message is acknowledged during shutdown.
      stops.push(() => broker.close())
    }
    if (parts.ingest === 'mqtt') {
      const ingest = platform.ingest!
      const account = ingestServiceAccount(config)
      platform.source = startMqttSource({
        url: config.mqtt.url,
        username: account.username,
        password: account.password,
        caFile: config.mqtt.caFile,
        log: log.child({ component: 'mqtt-source' }),
        handler: (topic, payload) => ingest.ingest.handleMessage(topic, payload),
        feedback: ingest.feedback,
      })
      const source = platform.source
      stops.push(() => source.stop())
    }
    if (parts.api) {
      const audit = new AuditLog(registry.db, log.child({ component: 'audit' }))
      const app = await buildApi({
        config,
        registry,
        log: log.child({ component: 'api' }),
        query: platform.query,
        tokens: new TokenStore(registry.db, staffToken(config)),
        audit,
        alerter: platform.alerter,
        rules,
        alertStates: platform.alerter ? alertStateReader(registry.db) : undefined,
        board: { publicSmsNumber: config.alerts.publicSmsNumber, sampleMessage: sampleMessages(rules, { diacritics: config.alerts.defaultDiacritics }) },
        ingest: platform.ingest,
        broker: platform.broker,
        plugins: [...(platform.alerter ? [alertRoutes(platform.alerter, audit, registry)] : []), ...(opts.apiPlugins ?? [])],
        metrics: opts.apiMetrics,
        eventLoop,
        metricsText: platform.alerter ? [() => platform.alerter!.metrics()] : [],
      })
      await app.listen({ port: config.http.port, host: config.http.host })
      const addr = app.server.address()
      const port = typeof addr === 'object' && addr ? addr.port : config.http.port
      const host = config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host
      platform.api = app
      platform.apiUrl = `http://${host}:${port}`
      stops.push(() => app.close())
    }
  } catch (err) {
    await platform.stop()
    throw err
  }
  // stops run in reverse: api, source, broker, ingest — the ingest drains last.
  return platform
}
