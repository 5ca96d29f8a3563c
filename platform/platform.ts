import type { FastifyInstance } from 'fastify'
import type Database from 'better-sqlite3'
import { EventLoopDelayMonitor } from '../core/event-loop.ts'
import type { Config } from '../core/config.ts'
import type { Logger } from '../core/log.ts'
import type { MetricsSource } from '../core/metrics.ts'
import type { AcceptedReading } from '../core/reading.ts'
import { buildApi } from '../api/server.ts'
import { alertRoutes, clusterSubscriberRoutes } from '../api/routes/alerts.ts'
import type { SubscriberWriter } from '../alerts/subscribers.ts'
import { TokenStore, type ApiTokens } from '../api/auth/tokens.ts'
import { AuditLog, type AuditTrail } from '../api/auth/audit.ts'
import type { SharedConsole } from '../api/console/routes.ts'
import { sampleMessages } from '../api/board/sms-sample.ts'
import { startBroker, type BrokerHandle } from '../broker/server.ts'
import { registryEntitlement } from '../broker/session-guard.ts'
import { Registry } from '../devices/registry.ts'
import type { InfluxQueryClient } from '../influx/query.ts'
import { startIngestService, type IngestService } from '../ingest/service.ts'
import { startMqttSource, type MqttSource } from '../ingest/source/mqtt-source.ts'
import { createAlerter, type Alerter } from '../alerts/alerter.ts'
import { RuleBook } from '../levels/book.ts'
import { alertStateReader } from '../levels/status.ts'
import { influxLevelsSink, startLevelsWriter, type LevelsWriter } from '../levels/influx-levels.ts'
import { seedAlerter } from './alerter-warmup.ts'
import { ingestServiceAccount, staffToken } from './credentials.ts'
import { registryPath } from './data-files.ts'
import { AcceptedReadingsFanOut, ingestGate, ingestMessageHandler, liveSpoolWriter, refusalRecorder } from './hand-offs.ts'
import { readQueryClient } from './read-query.ts'

/**
 * The running platform, the composition root: builds the parts a command
 * asked for from one frozen config and wires them
 *
 *   broker → ingest → alerter → API
 *
 * through the named hand-offs of hand-offs.ts. It tears them down in the
 * order that loses nothing: stop taking messages, let the spool drain, then
 * close the rest.
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

export interface StartPlatformOptions {
  config: Readonly<Config>
  log: Logger
  parts: PlatformParts
  /** For tests and the bench: sees every batch of accepted readings, after the alerter. */
  onAccepted?: (readings: AcceptedReading[]) => void
  apiPlugins?: Parameters<typeof buildApi>[0]['plugins']
  /** More sources for /metrics, after the platform's own. */
  apiMetrics?: readonly MetricsSource[]
  /** More components for /health (api/server.ts ApiDeps.healthChecks). */
  healthChecks?: Parameters<typeof buildApi>[0]['healthChecks']
  /** Cluster mode: subscriber writes go here (PostgreSQL, cluster/metadata/mirror.ts), and the API serves them with or without an alerter. */
  subscriberWriter?: SubscriberWriter
  /** Cluster mode: the API's station changes go here (PostgreSQL, cluster/metadata/station-writer.ts); unset, this node's registry. */
  stationWriter?: Parameters<typeof buildApi>[0]['stationWriter']
  /** Cluster mode: the stored rule routes write here (PostgreSQL); unset, the alerter's rule book. */
  ruleWriter?: Parameters<typeof alertRoutes>[4]
  /** Cluster mode: what API nodes share (cluster/metadata/api-node.ts); unset, this node's own SQLite and memory. */
  apiShared?: SharedApiState
}

/**
 * The API's state that lives outside this process in cluster mode (issue 16,
 * API nodes are stateless): tokens, the console's accounts and sessions, and
 * where the audit log is read. Built by cli/commands/up.ts from cluster/; the
 * platform only plugs it in.
 */
export interface SharedApiState {
  tokens: ApiTokens
  console: SharedConsole
  /** Takes this node's local audit log (records are written there first) and gives the trail the API uses, and its stop. */
  attachAudit(local: AuditLog, db: Database.Database): { trail: AuditTrail; stop(): Promise<void> }
  healthChecks?: Parameters<typeof buildApi>[0]['healthChecks']
}

/** What every part is built from, and where it leaves its stop. */
interface Assembly {
  config: Readonly<Config>
  log: Logger
  registry: Registry
  /** Run in reverse on stop: the part started last stops first. */
  stops: Array<() => Promise<void>>
}

export async function startPlatform(opts: StartPlatformOptions): Promise<Platform> {
  const { config, log, parts } = opts
  const registry = Registry.open(registryPath(config))
  const at: Assembly = { config, log, registry, stops: [] }
  const eventLoop = new EventLoopDelayMonitor()
  at.stops.push(async () => eventLoop.stop())
  const platform: Platform = { config, registry, query: readQueryClient(config), stop: () => stopAll(at) }
  try {
    const readings = new AcceptedReadingsFanOut()
    if (parts.ingest) {
      const ingest = await startIngest(at, readings)
      platform.ingest = ingest
      if (config.alerts.enabled) {
        platform.alerter = await startAlerter(at, ingest, platform.query, opts.subscriberWriter)
        readings.listen(platform.alerter)
      }
    }
    if (opts.onAccepted) readings.listen({ onAccepted: opts.onAccepted })
    // One RuleBook for everything on this connection: the alerter's when it runs (levels/book.ts).
    const rules = platform.alerter?.rules ?? new RuleBook(registry.db, registry)
    if (platform.ingest && config.influx.targets.length > 0) platform.levels = startLevels(at, rules)
    if (parts.broker) platform.broker = await startEmbeddedBroker(at, parts.ingest === 'embedded' ? platform.ingest : undefined)
    if (parts.ingest === 'mqtt') platform.source = startExternalSource(at, platform.ingest!)
    if (parts.api) {
      const api = await startApi(at, { platform, rules, eventLoop, plugins: opts.apiPlugins, metrics: opts.apiMetrics, healthChecks: opts.healthChecks, subscriberWriter: opts.subscriberWriter, stationWriter: opts.stationWriter, ruleWriter: opts.ruleWriter, shared: opts.apiShared })
      platform.api = api.app
      platform.apiUrl = api.url
    }
  } catch (err) {
    await platform.stop()
    throw err
  }
  // stops run in reverse: api, source, broker, levels, alerter, ingest — the ingest drains last.
  return platform
}

async function stopAll(at: Assembly): Promise<void> {
  for (const stop of [...at.stops].reverse()) {
    try {
      await stop()
    } catch (err) {
      at.log.error({ err }, 'error during shutdown')
    }
  }
  at.registry.close()
}

/** Spool, quarantine, writers; accepted readings go to the fan-out. */
async function startIngest(at: Assembly, readings: AcceptedReadingsFanOut): Promise<IngestService> {
  const ingest = await startIngestService({ config: at.config, registry: at.registry, log: at.log, onAccepted: readings.deliver })
  at.stops.push(() => ingest.stop())
  return ingest
}

/**
 * Evaluates readings as the ingest accepts them (never by polling), and
 * writes its events through the same durable spool.
 */
async function startAlerter(at: Assembly, ingest: IngestService, query: InfluxQueryClient | undefined, subscriberWriter: StartPlatformOptions['subscriberWriter']): Promise<Alerter> {
  const alerter = await createAlerter({
    db: at.registry.db,
    registry: at.registry,
    config: at.config.alerts,
    log: at.log.child({ component: 'alerter' }),
    writePoints: liveSpoolWriter(ingest),
    // Cluster mode: keyword SMS write subscriptions to PostgreSQL, not to the copy the mirror owns.
    subscriberWriter,
  })
  await alerter.start()
  await seedAlerter(alerter, query, at.log)
  at.stops.push(async () => {
    alerter.flush()
    await alerter.stop()
  })
  return alerter
}

function startLevels(at: Assembly, rules: RuleBook): LevelsWriter {
  const levels = startLevelsWriter({ stations: () => at.registry.list(), rules, write: influxLevelsSink(at.config), log: at.log })
  at.stops.push(() => levels.stop())
  return levels
}

/** With an embedded ingest, every publish passes the ingest gate before its PUBACK. */
async function startEmbeddedBroker(at: Assembly, ingest: IngestService | undefined): Promise<BrokerHandle> {
  const log = at.log.child({ component: 'broker' })
  const broker = await startBroker({
    config: at.config,
    stations: at.registry,
    services: [ingestServiceAccount(at.config)],
    log,
    gate: ingest && ingestGate(ingest),
    onRefused: ingest && refusalRecorder(ingest, at.log),
    feedback: ingest?.feedback,
    // Live sessions are re-checked when the registry changes (a CLI revoke, disable, rotate, remove).
    sessions: registryEntitlement(at.registry, () => at.registry.contextVersion()),
  })
  // Stopped before the ingest, so no new message is acknowledged during shutdown.
  at.stops.push(() => broker.close())
  return broker
}

/** The ingest subscribed to an external broker with its service account. */
function startExternalSource(at: Assembly, ingest: IngestService): MqttSource {
  const account = ingestServiceAccount(at.config)
  const source = startMqttSource({
    url: at.config.mqtt.url,
    username: account.username,
    password: account.password,
    caFile: at.config.mqtt.caFile,
    log: at.log.child({ component: 'mqtt-source' }),
    handler: ingestMessageHandler(ingest),
    feedback: ingest.feedback,
  })
  at.stops.push(() => source.stop())
  return source
}

/** What /metrics concatenates, in this order; the API appends its own. */
function componentMetrics(platform: Platform, eventLoop: EventLoopDelayMonitor, extra: readonly MetricsSource[] = []): MetricsSource[] {
  return [platform.ingest, platform.broker, eventLoop, platform.alerter, ...extra].filter((s): s is MetricsSource => s !== undefined)
}

interface ApiParts {
  platform: Platform
  rules: RuleBook
  eventLoop: EventLoopDelayMonitor
  plugins: StartPlatformOptions['apiPlugins']
  metrics: StartPlatformOptions['apiMetrics']
  healthChecks: StartPlatformOptions['healthChecks']
  subscriberWriter: StartPlatformOptions['subscriberWriter']
  stationWriter: StartPlatformOptions['stationWriter']
  ruleWriter: StartPlatformOptions['ruleWriter']
  shared: StartPlatformOptions['apiShared']
}

/** Reads everything the other parts expose; listens on config.http. */
async function startApi(at: Assembly, { platform, rules, eventLoop, plugins, metrics, healthChecks, subscriberWriter, stationWriter, ruleWriter, shared }: ApiParts): Promise<{ app: FastifyInstance; url: string }> {
  const { config, registry } = at
  const { alerter } = platform
  // Every record is written here first, synchronously; in cluster mode it is shipped to the shared log.
  const local = new AuditLog(registry.db, at.log.child({ component: 'audit' }))
  const attached = shared?.attachAudit(local, registry.db)
  // Pushed before the API's close, so it runs after it: the last records are shipped before the registry closes.
  if (attached) at.stops.push(attached.stop)
  const audit = attached?.trail ?? local
  const app = await buildApi({
    config,
    registry,
    log: at.log.child({ component: 'api' }),
    query: platform.query,
    tokens: shared?.tokens ?? new TokenStore(registry.db, staffToken(config)),
    audit,
    console: shared && { shared: shared.console },
    alerter,
    rules,
    alertStates: alerter ? alertStateReader(registry.db) : undefined,
    board: { publicSmsNumber: config.alerts.publicSmsNumber, sampleMessage: sampleMessages(rules, { diacritics: config.alerts.defaultDiacritics }) },
    ingest: platform.ingest,
    broker: platform.broker,
    healthChecks: shared?.healthChecks ? { ...healthChecks, ...shared.healthChecks } : healthChecks,
    // The local log: the alert routes record as every other route does (shipped in cluster mode).
    plugins: [...(alerter ? [alertRoutes(alerter, local, registry, subscriberWriter, ruleWriter)] : subscriberWriter ? [clusterSubscriberRoutes(registry, subscriberWriter, local)] : []), ...(plugins ?? [])],
    metrics: componentMetrics(platform, eventLoop, metrics),
    stationWriter,
  })
  at.stops.push(() => app.close())
  await app.listen({ port: config.http.port, host: config.http.host })
  const addr = app.server.address()
  const port = typeof addr === 'object' && addr ? addr.port : config.http.port
  const host = config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host
  return { app, url: `http://${host}:${port}` }
}
