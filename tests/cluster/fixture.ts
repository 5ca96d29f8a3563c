/**
 * The cluster tests' world, for one test file: a real 3-node NATS JetStream
 * cluster (Debian's nats-server), two real influxd (DC "primary" and DR
 * "dr"), a registry of stations, and real MQTT station clients from the
 * chaos suite's load generator (tests/chaos/lib/), whose ledger of PUBACKs is
 * compared with what each InfluxDB holds. Each scenario gets its own stream,
 * subject prefix and database names, so scenarios of one file share the
 * servers but not their data.
 */
import { afterAll, beforeAll } from 'vitest'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig, nestPaths, type Config } from '../../core/config.ts'
import { createLogger, silentLogger, type Logger } from '../../core/log.ts'
import { Registry } from '../../devices/registry.ts'
import { startNatsCluster, type NatsCluster } from '../../cluster/local/nats.ts'
import { startEdge, type EdgeHandle } from '../../cluster/edge.ts'
import { startWriter, type WriterHandle } from '../../cluster/writer.ts'
import { connectLog, ensureReadingsLog } from '../../cluster/log/readings-stream.ts'
import { startTestInflux, tempDir, type TestInflux } from '../helpers/platform.ts'
import { provisionStations, type StationCreds } from '../chaos/lib/stations.ts'
import { readStored, tally, type Tally } from '../chaos/lib/ledger.ts'
import type { LoadGenerator } from '../chaos/lib/load.ts'

/** TIDEWATCH_TEST_LOG=info shows the edges' and writers' logs when a scenario needs explaining. */
const log = process.env.TIDEWATCH_TEST_LOG ? createLogger(process.env.TIDEWATCH_TEST_LOG) : silentLogger

export interface ClusterWorld {
  readonly tmp: ReturnType<typeof tempDir>
  readonly nats: NatsCluster
  readonly primary: TestInflux
  readonly dr: TestInflux
}

export function clusterPerFile(opts: { natsNodes?: number } = {}): ClusterWorld {
  const state = {} as { -readonly [K in keyof ClusterWorld]: ClusterWorld[K] }
  beforeAll(async () => {
    state.tmp = tempDir('tidewatch-cluster-')
    const [nats, primary, dr] = await Promise.all([
      startNatsCluster({ dir: join(state.tmp.dir, 'nats'), nodes: opts.natsNodes ?? 3 }),
      startTestInflux(join(state.tmp.dir, 'dc')),
      startTestInflux(join(state.tmp.dir, 'dr')),
    ])
    Object.assign(state, { nats, primary, dr })
  })
  afterAll(async () => {
    await state.nats?.stop()
    await state.primary?.server.stop()
    await state.dr?.server.stop()
    state.tmp?.cleanup()
  })
  return state
}

/** Short, so a message held by a writer that died (or lost its server) comes back quickly in a short test. */
export const WRITER_ACK_WAIT_MS = 2000

export interface Scenario {
  config: Readonly<Config>
  /** The same scenario config with another data dir (a second edge or writer). */
  configFor(dataDir: string): Readonly<Config>
  /** The environment that gives a `tidewatch` child process the same config. */
  env(dataDir: string): Record<string, string>
  database: string
  stations: StationCreds[]
  registry: Registry
  startEdge(): Promise<EdgeHandle>
  /** In-process writers, stopped by close(); `log` gives each target's writer its own logger (e.g. a ring a failed wait prints). */
  startWriters(targets?: readonly string[], opts?: { log?: (target: string) => Logger }): Promise<WriterHandle[]>
  /** Creates the stream and the targets' consumers (with the test's short ack_wait) before any writer starts. */
  ensureLog(): Promise<void>
  /** Readings acknowledged vs stored in one target, from InfluxDB itself. */
  tallyIn(target: 'primary' | 'dr', load: LoadGenerator): Promise<Tally>
  close(): Promise<void>
}

/** A scenario in its own stream, subject prefix, InfluxDB database and data dir. */
export async function scenario(world: ClusterWorld, name: string, stationCount: number, overrides: Record<string, unknown> = {}): Promise<Scenario> {
  const dataDir = join(world.tmp.dir, name)
  const database = `tw_${name.replace(/-/g, '_')}`
  const stations = await provisionStations(join(world.tmp.dir, 'registry-cache'), dataDir, stationCount)
  const env = (dir: string): Record<string, string> => ({
    TIDEWATCH_DATA_DIR: dir,
    TIDEWATCH_BIND_HOST: '127.0.0.1',
    TIDEWATCH_HTTP_HOST: '127.0.0.1',
    TIDEWATCH_MQTT_PORT: '0',
    TIDEWATCH_MQTTS_PORT: '0',
    TIDEWATCH_HTTP_PORT: '0',
    TIDEWATCH_MQTT_PERSISTENCE: 'memory',
    TIDEWATCH_LOG_LEVEL: 'silent',
    TIDEWATCH_INFLUX_URL: world.primary.server.url,
    TIDEWATCH_INFLUX_DB: database,
    TIDEWATCH_INFLUX_DR_URL: world.dr.server.url,
    TIDEWATCH_INFLUX_DR_DB: database,
    TIDEWATCH_NATS_SERVERS: world.nats.servers.join(','),
    TIDEWATCH_NATS_REPLICAS: String(Math.min(3, world.nats.nodes.length)),
    TIDEWATCH_NODE_ID: `edge-${name}`,
  })
  // A config file, not loadConfig overrides, so a `tidewatch` child process reads the same.
  const file = join(world.tmp.dir, `${name}.config.json`)
  const settings: Record<string, unknown> = {
    'cluster.nats.stream': `TW_${name.replace(/-/g, '_').toUpperCase()}`,
    'cluster.nats.subjectPrefix': `tw_${name.replace(/-/g, '_')}`,
    // Short, so a dead log is noticed quickly in a short test.
    'cluster.nats.publishTimeoutMs': 1000,
    ...overrides,
  }
  writeFileSync(file, JSON.stringify(nestPaths(settings)))
  const envWithFile = (dir: string): Record<string, string> => ({ ...env(dir), TIDEWATCH_CONFIG: file })
  const configFor = (dir: string): Readonly<Config> => loadConfig({ env: envWithFile(dir) })
  const config = configFor(dataDir)
  const registry = Registry.open(join(dataDir, 'registry.db'))
  const handles: Array<{ stop(): Promise<void> }> = []
  return {
    config,
    configFor,
    env: envWithFile,
    database,
    stations,
    registry,
    async startEdge() {
      const edge = await startEdge({ config, stations: registry, log: log.child({ edge: name }) })
      handles.push(edge)
      return edge
    },
    async ensureLog() {
      const nc = await connectLog(config, { name: 'test-ensure', log })
      try {
        await ensureReadingsLog(nc, config, { log, ackWaitMs: WRITER_ACK_WAIT_MS })
      } finally {
        await nc.close()
      }
    },
    async startWriters(targets = config.influx.targets.map((t) => t.name), opts = {}) {
      const writerLog = (target: string): Logger => opts.log?.(target) ?? log.child({ scenario: name })
      const writers = await Promise.all(targets.map((target) => startWriter({ config, target, log: writerLog(target), ackWaitMs: WRITER_ACK_WAIT_MS })))
      handles.push(...writers)
      return writers
    },
    async tallyIn(target, load) {
      const influx = target === 'primary' ? world.primary : world.dr
      const stored = await readStored(influx.server.url, database)
      return tally(load.ledgers(), stored, load.snapshot().resends)
    },
    async close() {
      for (const h of handles.reverse()) await h.stop().catch(() => undefined)
      registry.close()
    },
  }
}

/** Polls `check` until it is true or `timeoutMs` passes; returns the last answer. */
export async function until(check: () => Promise<boolean> | boolean, timeoutMs = 30_000, everyMs = 200): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return true
    if (Date.now() > deadline) return false
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

/** `{ 'a.b': 1 }` -> `{ a: { b: 1 } }`. */
