import { join } from 'node:path'
import type { Config, InfluxTarget } from '../../core/config.ts'
import { deepFreeze, ConfigSchema } from '../../core/config.ts'
import { statusLine, type Logger } from '../../core/log.ts'
import { stderrIsTerminal } from '../../core/service-thread.ts'
import { ensureDevCertificates } from '../../broker/tls/dev-ca.ts'
import { createSimulator, type Simulator } from '../../firmware-sim/simulator.ts'
import { preferredOrFreePort } from '../../core/free-port.ts'
import { ensureInfluxdInstalled, startManagedInflux, type ManagedInflux } from '../../influx/managed.ts'
import { createQueryClient } from '../../influx/query.ts'
import { applyRetention } from '../../influx/retention.ts'
import { migrateReadingSchema } from '../../influx/schema-migration.ts'
import { provisionDemoStations } from '../demo.ts'
import { startDemoBackfill, type DemoBackfill } from '../demo-backfill.ts'
import { startPlatform, type Platform, type PlatformParts } from '../../platform/platform.ts'
import { staffToken } from '../../platform/credentials.ts'
import { Registry } from '../../devices/registry.ts'
import { registryPath, type Io } from '../args.ts'

/** Demo stations report every 10 s so the dashboards and the API come alive within a minute. */
const DEMO_INTERVAL_SEC = 10

export interface RunOptions {
  config: Readonly<Config>
  log: Logger
  io: Io
  parts: PlatformParts
  demo?: boolean
  /** Resolves when the process should stop (signal). */
  until: Promise<void>
}

/**
 * Applies the InfluxDB 1.x schema (RPs, CQs) on every v1 target, then moves
 * any data still in the legacy one-point-per-value schema into one point per
 * reading (influx/schema-migration.ts, docs/DATA.md), before the writers
 * start; failures are logged, not fatal.
 */
async function prepareTargets(config: Readonly<Config>, log: Logger): Promise<void> {
  if (!config.influx.applyRetention) return
  for (const t of config.influx.targets.filter((x: InfluxTarget) => x.mode === 'v1')) {
    const client = createQueryClient({ url: t.url, database: t.database, username: t.username, password: t.password })
    try {
      await applyRetention(client, { database: t.database, rawRetention: config.influx.rawRetention })
      await migrateReadingSchema(client, { database: t.database, log: log.child({ component: 'schema-migration', target: t.name }) })
    } catch (err) {
      log.warn({ target: t.name, err: (err as Error).message }, 'cannot apply retention policies or migrate the schema yet (InfluxDB down?); the ingest keeps spooling')
    }
  }
}

export async function runPlatform(opts: RunOptions): Promise<number> {
  let { config } = opts
  const { log, io } = opts
  let influx: ManagedInflux | undefined
  let sim: Simulator | undefined
  let backfill: DemoBackfill | undefined
  let platform: Platform | undefined
  let apiShared: Awaited<ReturnType<typeof import('../../cluster/metadata/api-node.ts')['startApiNodeShared']>> | undefined
  let mirror: Awaited<ReturnType<typeof import('../../cluster/metadata/mirror.ts')['startClusterRegistryMirror']>> | undefined

  if (opts.demo) {
    const overrides: Record<string, unknown> = structuredClone(config) as unknown as Record<string, unknown>
    if (config.influx.targets.length === 0 && opts.parts.ingest) {
      ensureInfluxdInstalled(log)
      // InfluxDB's usual port when it is free, so the README's URLs work; another otherwise.
      const port = await preferredOrFreePort(8086)
      influx = await startManagedInflux({ dir: join(config.dataDir, 'influxdb'), port, log: log.child({ component: 'influxd' }) })
      ;(overrides.influx as Record<string, unknown>).targets = [{ name: 'primary', url: influx.url, mode: 'v1', database: 'tidewatch' }]
      io.stdout(`Started local InfluxDB ${influx.url} (data in ${influx.dir})`)
    }
    if (!config.mqtt.certFile) {
      const certs = ensureDevCertificates(join(config.dataDir, 'tls'), ['localhost'])
      Object.assign(overrides.mqtt as Record<string, unknown>, certs)
    }
    config = deepFreeze(ConfigSchema.parse(overrides))
  }

  try {
    await prepareTargets(config, log)
    // Cluster mode: this node's registry follows the shared PostgreSQL metadata (docs/CLUSTER.md, API nodes).
    const { url, poolMax } = config.cluster.postgres
    // An API node without an alerter shows the cluster's outbox (PostgreSQL's record); an alerter here owns its own.
    const copyOutbox = !(opts.parts.ingest && config.alerts.enabled)
    if (url) mirror = await (await import('../../cluster/metadata/mirror.ts')).startClusterRegistryMirror({ url, poolMax, registry: () => Registry.open(registryPath(config)), log, copyOutbox })
    // Cluster mode: API tokens, console accounts and sessions, and the audit log are the cluster's (PostgreSQL), so any
    // number of API nodes behind HAProxy answer as one (cluster/metadata/api-node.ts, docs/CLUSTER.md).
    if (url && opts.parts.api) {
      const stopping = new AbortController()
      void opts.until.then(() => stopping.abort())
      const { startApiNodeShared } = await import('../../cluster/metadata/api-node.ts')
      apiShared = await startApiNodeShared({ postgres: config.cluster.postgres, bootstrapToken: staffToken(config), log, signal: stopping.signal })
    }
    platform = await startPlatform({ config, log, parts: opts.parts, healthChecks: mirror && { metadata: mirrorHealth(mirror) }, subscriberWriter: mirror?.subscribers, stationWriter: mirror?.stations, ruleWriter: mirror?.rules, apiShared })
    const p = platform
    if (p.broker) io.stdout(`MQTT   mqtt://${config.mqtt.host}:${p.broker.port}${p.broker.tlsPort ? `   mqtts://${config.mqtt.host}:${p.broker.tlsPort}` : ''}`)
    if (p.apiUrl) {
      io.stdout(`HTTP   ${p.apiUrl}   (GET /health, /metrics, /api/v1/stations)`)
      io.stdout(`       API docs ${p.apiUrl}/docs   public board ${p.apiUrl}/`)
      if (!config.http.staffToken) io.stdout(`       bootstrap admin token: ${join(config.dataDir, 'secrets', 'staff-api-token')} (or: tidewatch tokens create)`)
    }
    if (config.mqtt.caFile) io.stdout(`TLS    CA certificate for stations: ${config.mqtt.caFile}`)

    if (opts.demo && p.broker) {
      const stations = await provisionDemoStations(p.registry, config.dataDir, log, DEMO_INTERVAL_SEC, p.alerter?.rules)
      sim = createSimulator({
        brokerUrl: `mqtt://127.0.0.1:${p.broker.port}`,
        stations,
        intervalSec: DEMO_INTERVAL_SEC,
        dataDir: join(config.dataDir, 'sim'),
        seed: 1,
        log, // the simulator names itself (component firmware-sim)
      })
      await sim.start()
      backfill = startDemoBackfill({ dataDir: config.dataDir, brokerUrl: `mqtt://127.0.0.1:${p.broker.port}`, stations, lateAfterSec: config.ingest.lateAfterSec, log })
      io.stdout(`Demo   ${stations.length} simulated stations: ${stations.map((s) => s.id).join(', ')}`)
      io.stdout(`       try: curl ${p.apiUrl ?? 'http://127.0.0.1:8080'}/api/v1/stations/${stations[0]!.id}/latest`)
    }
    io.stdout('Press Ctrl-C to stop.')

    const status = startStatusLine(p, io)
    await opts.until
    status.stop()
    io.stdout('\nStopping…')
    return 0
  } finally {
    // Order matters: stations first, then the platform (broker stops acking,
    // spool drains), then the database the spool drains into.
    await backfill?.stop()
    await sim?.stop().catch((err: unknown) => log.error({ err }, 'simulator stop failed'))
    await platform?.stop()
    await apiShared?.stop()
    await mirror?.stop()
    await influx?.stop()
  }
}

/**
 * /health's `metadata` component in cluster mode: up once this node's
 * registry holds its first copy of PostgreSQL's metadata and follows it; the
 * follower's counters say how it has gone since (a failure is a read of
 * PostgreSQL that failed and was retried with a full reload).
 */
function mirrorHealth(mirror: NonNullable<Awaited<ReturnType<typeof import('../../cluster/metadata/mirror.ts')['startClusterRegistryMirror']>>>): () => Promise<{ up: boolean } & Record<string, unknown>> {
  let following: { counters: { changes: number; reloads: number; failures: number } } | undefined
  void mirror.ready.then((m) => (following = m))
  return async () => (following ? { up: true, source: 'postgresql', ...following.counters } : { up: false, source: 'postgresql', lastError: 'first copy of the PostgreSQL metadata not done yet' })
}

function startStatusLine(p: Platform, io: Io): { stop(): void } {
  const tty = stderrIsTerminal()
  let lastAccepted = p.ingest?.ingest.counters.readingsAccepted ?? 0
  let lastAt = Date.now()
  const every = tty ? 1000 : 15_000
  const timer = setInterval(() => {
    if (!p.ingest) return
    void p.ingest.targetStats().then((targets) => {
      const c = p.ingest!.ingest.counters
      const now = Date.now()
      const rate = ((c.readingsAccepted - lastAccepted) * 1000) / Math.max(1, now - lastAt)
      lastAccepted = c.readingsAccepted
      lastAt = now
      const stored = targets.map((t) => `${t.target} ${t.writtenPoints} pts${t.up ? '' : ' DOWN'}${t.lagReadings ? ` lag ${t.lagReadings}` : ''}`).join(', ')
      const line = `readings/s ${rate.toFixed(1)} | accepted ${c.readingsAccepted} | stored ${stored || '-'} | rejected ${p.ingest!.ingest.rejectedTotal()} | stations online ${p.broker?.connectedClients() ?? '-'}`
      // On a terminal the line is redrawn in place, and log lines are printed above it (core/log.ts).
      if (tty) statusLine.show(line)
      else io.stderr(line)
    })
  }, every)
  timer.unref()
  return {
    stop: () => {
      clearInterval(timer)
      if (tty) statusLine.clear()
    },
  }
}
