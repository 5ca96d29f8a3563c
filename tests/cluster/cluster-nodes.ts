import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { afterAll, beforeAll, expect } from 'vitest'
import { runPlatform } from '../../cli/commands/up.ts'
import { loadConfig } from '../../core/config.ts'
import { silentLogger } from '../../core/log.ts'
import { freePort } from '../../core/free-port.ts'
import { startNatsCluster, type NatsCluster } from '../../cluster/local/nats.ts'
import { PostgresMetadataRepository } from '../../cluster/metadata/postgres.ts'
import { eventually, tempDir } from '../helpers/platform.ts'
import { freshDatabase, startLocalPostgres, type LocalPostgres } from '../helpers/postgres.ts'
import { startSmsc, type Smsc } from '../alerts/smsc.ts'

/** Cluster nodes for tests, composed as the CLI composes them: `tidewatch alerter` processes and `tidewatch api` nodes. */
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

/** A child's stdout and stderr as JSON log lines (a line that is not JSON kept as its msg). */
export function followJsonLogs(proc: ChildProcess): Array<Record<string, unknown>> {
  const logs: Array<Record<string, unknown>> = []
  let rest = ''
  const take = (chunk: Buffer): void => {
    const lines = (rest + chunk.toString()).split('\n')
    rest = lines.pop()!
    for (const l of lines) {
      try {
        logs.push(JSON.parse(l) as Record<string, unknown>)
      } catch {
        logs.push({ msg: l })
      }
    }
  }
  proc.stdout!.on('data', take)
  proc.stderr!.on('data', take)
  return logs
}

/** A `tidewatch alerter` child process (the real CLI, from source) and its JSON log lines. */
export interface AlerterProcess {
  proc: ChildProcess
  logs: Array<Record<string, unknown>>
  node: string
  dataDir: string
  /** The first log line with this msg, if any. */
  logged(msg: string): Record<string, unknown> | undefined
  kill(): void
}

export function spawnAlerter(opts: { node: string; dir: string; configFile: string; natsServers: readonly string[]; postgresUrl?: string }): AlerterProcess {
  const dataDir = join(opts.dir, opts.node)
  mkdirSync(dataDir, { recursive: true })
  const proc = spawn(process.execPath, [join(REPO, 'bin/tidewatch.js'), 'alerter'], {
    cwd: REPO,
    env: {
      ...process.env,
      TIDEWATCH_CONFIG: opts.configFile,
      TIDEWATCH_DATA_DIR: dataDir,
      TIDEWATCH_NATS_SERVERS: opts.natsServers.join(','),
      TIDEWATCH_NODE_ID: opts.node,
      ...(opts.postgresUrl ? { TIDEWATCH_POSTGRES_URL: opts.postgresUrl } : {}),
      TIDEWATCH_LOG_LEVEL: 'info',
      TIDEWATCH_FROM_SOURCE: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const logs = followJsonLogs(proc)
  return {
    proc,
    logs,
    node: opts.node,
    dataDir,
    logged: (msg) => logs.find((l) => l.msg === msg),
    kill: () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
    },
  }
}

/**
 * An API node as `tidewatch api` runs it in cluster mode (runPlatform:
 * mirror, then the platform), in this process; its URL once /health
 * answers. `until` stops it.
 */
export async function startApiNode(opts: { name: string; dir: string; postgresUrl: string; staffToken: string; until: Promise<void> }): Promise<{ url: string; run: Promise<number> }> {
  const dataDir = join(opts.dir, opts.name)
  mkdirSync(dataDir, { recursive: true })
  const port = await freePort()
  const config = loadConfig({
    env: { TIDEWATCH_DATA_DIR: dataDir, TIDEWATCH_POSTGRES_URL: opts.postgresUrl, TIDEWATCH_HTTP_PORT: String(port), TIDEWATCH_STAFF_TOKEN: opts.staffToken, TIDEWATCH_NODE_ID: opts.name },
  })
  const run = runPlatform({ config, log: silentLogger, io: { stdout: () => undefined, stderr: () => undefined }, parts: { api: true }, until: opts.until })
  const url = `http://127.0.0.1:${port}`
  expect(await eventually(() => fetch(`${url}/health`).then((r) => r.ok, () => false), 30_000), `API node ${opts.name} answers /health`).toBe(true)
  return { url, run }
}

/**
 * One file's alerter world: a real PostgreSQL 15 (a fresh database), a
 * 3-node NATS JetStream cluster, a real SMSC, the repository on that
 * database; `alerter()` and `api()` start nodes that are stopped with it.
 */
export interface AlerterWorld {
  readonly tmp: ReturnType<typeof tempDir>
  readonly nats: NatsCluster
  readonly nc: NatsConnection
  readonly smsc: Smsc
  readonly repo: PostgresMetadataRepository
  /** The fresh database's URL. */
  readonly url: string
  alerter(node: string, configFile: string): AlerterProcess
  /** An API node (startApiNode) with this staff token; its URL. */
  api(name: string, staffToken: string): Promise<string>
}

export function alerterWorldPerFile(prefix: string): AlerterWorld {
  const tmp = tempDir(prefix)
  let pgServer: LocalPostgres | undefined
  const alerters: AlerterProcess[] = []
  const stops: Array<() => void> = []
  const runs: Array<Promise<number>> = []
  const state = {
    tmp,
    alerter(node: string, configFile: string): AlerterProcess {
      const a = spawnAlerter({ node, dir: tmp.dir, configFile, natsServers: state.nats.servers, postgresUrl: state.url })
      alerters.push(a)
      return a
    },
    async api(name: string, staffToken: string): Promise<string> {
      let stop!: () => void
      const until = new Promise<void>((r) => (stop = r))
      stops.push(stop)
      const node = await startApiNode({ name, dir: tmp.dir, postgresUrl: state.url, staffToken, until })
      runs.push(node.run)
      return node.url
    },
  } as { -readonly [K in keyof AlerterWorld]: AlerterWorld[K] }
  beforeAll(async () => {
    const [pg, nats, smsc] = await Promise.all([startLocalPostgres(), startNatsCluster({ dir: join(tmp.dir, 'nats'), nodes: 3 }), startSmsc()])
    pgServer = pg
    Object.assign(state, { nats, smsc })
    await nats.ready()
    state.nc = await connect({ servers: [...nats.servers] })
    state.url = await freshDatabase(pg)
    state.repo = await PostgresMetadataRepository.open({ url: state.url, poolMax: 2 })
  }, 90_000)
  afterAll(async () => {
    if (process.env.TIDEWATCH_TEST_DUMP === '1') for (const a of alerters) console.log(a.node, a.logs.map((l) => JSON.stringify(l)).join('\n'))
    for (const a of alerters) a.kill()
    for (const stop of stops) stop()
    await Promise.allSettled(runs)
    await state.repo?.close()
    await state.nc?.close()
    await state.nats?.stop()
    await state.smsc?.close()
    await pgServer?.stop()
    tmp.cleanup()
  })
  return state
}
