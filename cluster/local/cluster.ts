import { createHash } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { nestPaths } from '../../core/config.ts'
import { TidewatchError } from '../../core/errors.ts'
import type { Logger } from '../../core/log.ts'
import { DEMO_STATIONS } from '../../firmware-sim/demo-stations.ts'
import { freePort } from '../../core/free-port.ts'
import { findInfluxd, startManagedInflux, type ManagedInflux } from '../../influx/managed.ts'
import { PostgresMetadataRepository } from '../metadata/postgres.ts'
import { findHaproxy, startHaproxy, type LocalHaproxy } from './haproxy.ts'
import { findNatsServer, startNatsCluster, type NatsCluster, type NatsNode } from './nats.ts'
import { pidsMentioning, sameProcess, startNodeProcess, startTimeOf, type NodeProcess, type NodeSpec } from './node-process.ts'
import { POSTGRES_BIN_DIR, startLocalPostgres, type LocalPostgres } from './postgres.ts'

/**
 * A whole tidewatch cluster on loopback, for trying it out (`tidewatch
 * cluster up`), for the cluster chaos scenarios and for the cluster bench
 * (docs/CLUSTER.md, "Try it"). Two sites on one machine:
 *
 *   DC: nats n1, n2 · PostgreSQL · influxd "primary" · edge-1 · writers of
 *       "primary" · api-1 (and alerter-1 when cluster/alerter exists)
 *   DR: nats n3 · influxd "dr" · edge-2 · writers of "dr" · api-2 (alerter-2)
 *   in front: HAProxy (MQTT → edges, HTTP → API nodes); the simulator
 *   publishes through it.
 *
 * The engines (nats-server, postgres, influxd, haproxy) are children of this
 * process through their helpers; every tidewatch node is its own
 * `node bin/tidewatch.js <role>` child (node-process.ts), so kill -9 is real.
 * Everything lives under `dir`; `<dir>/cluster.json` records pids and URLs so
 * `tidewatch cluster down` (and a second `up`) can find them.
 */
export interface LocalClusterOptions {
  dir: string
  /**
   * Every engine and node in a process group of its own. For `cluster up` at
   * a terminal: Ctrl-C signals the whole foreground group, and PostgreSQL,
   * HAProxy and NATS went down with the launcher's first breath, before the
   * nodes that use them (warnings at every stop). Should the launcher exit
   * before its orderly stop ends, its 'exit' handler sends each a SIGTERM.
   * The tests that start a cluster in-process leave it off.
   */
  ownProcessGroups?: boolean
  edges?: number
  /** Writers per InfluxDB target. */
  writersPerTarget?: number
  /** Stateless API nodes behind HAProxy. */
  apis?: number
  /** Alerter nodes: the slot for cluster/alerter (issue 16 scenario 6); 0 until its command exists. */
  alerters?: number
  /** Stations registered in the shared metadata (PostgreSQL) for the simulator; the demo's first, then `cm-sim-NNN`. */
  stations?: number
  /** Run `tidewatch sim` through HAProxy with the registered stations. */
  simulator?: { intervalSec: number } | false
  /** Extra config settings for every node, as dotted paths (`cluster.nats.publishTimeoutMs`). */
  settings?: Record<string, unknown>
  /** Log level of the tidewatch nodes. */
  nodeLogLevel?: string
  /** The program each node runs (default bin/tidewatch.js): a node is `node <bin> <role> …`. */
  nodeBin?: string
  /**
   * Restart a tidewatch node that exits without being asked to (crash, kill -9
   * by hand), after 1 s, 2 s, 4 s … up to 30 s. `cluster up` turns it on; the
   * chaos scenarios and tests leave it off, as they kill and restart nodes
   * themselves and count what happens while a node is down.
   */
  restartNodes?: boolean
  log?: Logger
}

export interface StationSecret {
  id: string
  secret: string
}

export interface LocalCluster {
  readonly dir: string
  readonly nats: NatsCluster
  readonly postgres: LocalPostgres
  readonly influx: { readonly primary: ManagedInflux; readonly dr: ManagedInflux }
  readonly database: string
  readonly haproxy: LocalHaproxy
  readonly edges: readonly NodeProcess[]
  readonly writers: readonly NodeProcess[]
  readonly apis: readonly NodeProcess[]
  readonly alerters: readonly NodeProcess[]
  readonly simulator?: NodeProcess
  readonly stations: readonly StationSecret[]
  /** The config file every node reads (plus its own env). */
  readonly configFile: string
  /** Registers more stations in the shared metadata. */
  addStations(ids: readonly string[]): Promise<StationSecret[]>
  /** SIGSTOP (true) or SIGCONT (false) to NATS nodes: a link cut that resets nothing (issue 16 scenario 5). */
  freeze(nodes: readonly NatsNode[], frozen: boolean): void
  /** What `cluster down` and a second `cluster up` read. */
  state(): ClusterState
  stop(): Promise<void>
}

export interface ClusterState {
  /** The process that started the cluster and stops it on SIGTERM. */
  launcherPid: number
  /** The launcher's start time (/proc/<pid>/stat), so a recycled pid is not taken for it. */
  launcherStartTime?: string
  startedAt: string
  mqttUrl: string
  apiUrl?: string
  influx: { primary: string; dr: string; database: string }
  nats: string[]
  postgres: string
  /** PostgreSQL's data dir (outside `dir` when the postgres user cannot reach `dir`; then `down` removes it). */
  postgresDir: string
  processes: ClusterProcess[]
}

export interface ClusterProcess {
  name: string
  role: string
  site: string
  pid?: number
  /** Start time of `pid` (/proc/<pid>/stat), to tell it from a later process given the same pid. */
  startTime?: string
  port?: number
  log?: string
}

export const STATE_FILE = 'cluster.json'
/** One command for every engine the local cluster needs (Debian bookworm package names). */
export const CLUSTER_INSTALL_HINT = 'sudo apt-get update && sudo apt-get install -y nats-server postgresql haproxy influxdb'

/** Which engines are missing, by Debian package name. */
export function missingEngines(): string[] {
  const missing: string[] = []
  if (!findNatsServer()) missing.push('nats-server')
  if (!existsSync(join(POSTGRES_BIN_DIR, 'postgres'))) missing.push('postgresql')
  if (!findHaproxy()) missing.push('haproxy')
  if (!findInfluxd()) missing.push('influxdb')
  return missing
}

/** Throws CLUSTER_ENGINE_MISSING with the exact apt-get line when an engine is not installed. */
export function requireEngines(): void {
  const missing = missingEngines()
  if (missing.length === 0) return
  const hint = `sudo apt-get update && sudo apt-get install -y ${missing.join(' ')}`
  throw new TidewatchError('CLUSTER_ENGINE_MISSING', { missing, hint }, `the local cluster needs ${missing.join(', ')}. Run: ${hint}`)
}

export function readState(dir: string): ClusterState | undefined {
  const file = join(dir, STATE_FILE)
  if (!existsSync(file)) return undefined
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as ClusterState
  } catch {
    return undefined
  }
}

/** A recorded cluster whose launcher is still alive (the same process, not a recycled pid). */
export function runningState(dir: string): ClusterState | undefined {
  const state = readState(dir)
  return state && state.launcherPid !== process.pid && sameProcess(state.launcherPid, state.launcherStartTime) ? state : undefined
}

/** What `cluster status` reports. */
export type ClusterStatus =
  /** The launcher runs; each recorded process is alive (still the one recorded) or dead. */
  | { kind: 'running'; state: ClusterState; processes: Array<ClusterProcess & { alive: boolean }> }
  /** No launcher, but processes it started are still running: `cluster down` stops them. */
  | { kind: 'leftovers'; pids: Array<{ pid: number; command: string }> }
  | { kind: 'none' }

export function clusterStatus(dir: string): ClusterStatus {
  const abs = resolve(dir)
  const state = runningState(abs)
  if (state) return { kind: 'running', state, processes: state.processes.map((p) => ({ ...p, alive: p.pid !== undefined && sameProcess(p.pid, p.startTime) })) }
  const pids = leftoverPids(abs, readState(abs))
  if (pids.length) return { kind: 'leftovers', pids: pids.map((pid) => ({ pid, command: commandOf(pid) })) }
  return { kind: 'none' }
}

function commandOf(pid: number): string {
  return argvOf(pid).join(' ').slice(0, 160)
}

/** The programs a cluster runs: its engines, and node for the tidewatch nodes. */
const CLUSTER_ENGINES = new Set(['nats-server', 'postgres', 'influxd', 'haproxy'])
const CLUSTER_PROGRAMS = new Set([...CLUSTER_ENGINES, 'node', basename(process.execPath)])

/**
 * Every process the cluster started that still runs: its command line names
 * a file under `dir` (or under its PostgreSQL dir when that is outside), it
 * runs one of the cluster's programs, and it is not a `tidewatch cluster …`
 * command (a `status` or `down` in another terminal, the launcher). A
 * `tail -f DIR/logs/edge-1.log` or a `time tidewatch cluster down` names the
 * dir too, and is not ours to stop.
 */
function leftoverPids(abs: string, state: ClusterState | undefined): number[] {
  // From the dir as well as the state file: a launcher that died during start-up wrote no state.
  const postgresDirs = new Set([state?.postgresDir, postgresDirFor(abs)].filter((d): d is string => !!d && !d.startsWith(abs + '/')))
  const outside = [...postgresDirs].flatMap((d) => pidsMentioning(d))
  return [...new Set([...pidsMentioning(abs), ...outside])].filter((pid) => {
    const argv = argvOf(pid)
    return CLUSTER_PROGRAMS.has(basename(argv[0] ?? '')) && argv[2] !== 'cluster'
  })
}

function argvOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)
  } catch {
    return []
  }
}

/** The PostgreSQL dir postgresDirFor() puts outside `dir`: removed by `down`, since nothing else would. */
function isOutsidePostgresDir(abs: string, postgresDir: string | undefined): postgresDir is string {
  return Boolean(postgresDir && !postgresDir.startsWith(abs + '/') && postgresDir.startsWith(join(tmpdir(), 'tidewatch-cluster-pg-')))
}

/**
 * Where PostgreSQL's files go. As root, the postmaster runs as the
 * `postgres` user (postgres.ts), which must be able to reach its data dir:
 * inside `dir` when every parent lets others through (o+x), else a fixed
 * dir of its own under the system temp dir, named after `dir` so a second
 * `up` finds the same data.
 */
export function postgresDirFor(dir: string): string {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
  if (!isRoot) return join(dir, 'postgres')
  for (let d = dirname(dir); ; d = dirname(d)) {
    if (existsSync(d) && (statSync(d).mode & 0o001) === 0) return join(tmpdir(), `tidewatch-cluster-pg-${createHash('sha256').update(dir).digest('hex').slice(0, 12)}`)
    if (dirname(d) === d) break
  }
  return join(dir, 'postgres')
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

/**
 * Stops the cluster recorded in `dir`: SIGTERM to its launcher, which stops
 * everything in order; when the launcher is gone (killed, machine rebooted
 * half-way), SIGTERM then SIGKILL to every process whose command line names
 * a file under `dir` (pidsMentioning): exactly what this cluster started.
 * Returns what it did, for the command to print.
 */
export async function stopRecordedCluster(dir: string, timeoutMs = 60_000): Promise<'stopped' | 'cleaned' | 'none'> {
  const abs = resolve(dir)
  const state = readState(abs)
  let result: 'stopped' | 'cleaned' | 'none' = 'none'
  if (state && runningState(abs)) {
    process.kill(state.launcherPid, 'SIGTERM')
    const deadline = Date.now() + timeoutMs
    while (sameProcess(state.launcherPid, state.launcherStartTime) && Date.now() < deadline) await sleep(200)
    result = 'stopped'
  }
  const left = leftoverPids(abs, state)
  if (left.length) {
    for (const pid of left) signal(pid, 'SIGCONT')
    for (const pid of left) signal(pid, 'SIGTERM')
    const deadline = Date.now() + 15_000
    while (left.some((pid) => sameProcess(pid, undefined)) && Date.now() < deadline) await sleep(200)
    for (const pid of left.filter((pid) => sameProcess(pid, undefined))) signal(pid, 'SIGKILL')
    if (result === 'none') result = 'cleaned'
  }
  if (isOutsidePostgresDir(abs, state?.postgresDir)) rmSync(state.postgresDir, { recursive: true, force: true })
  rmSync(join(abs, STATE_FILE), { force: true })
  return result
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig)
  } catch {
    // already gone
  }
}

/** Station ids to register: the demo stations first (as `npm start --demo` has them), then numbered ones. */
export function stationIds(count: number): string[] {
  const ids = DEMO_STATIONS.slice(0, count).map((s) => s.id)
  for (let i = ids.length + 1; ids.length < count; i++) ids.push(`cm-sim-${String(i).padStart(3, '0')}`)
  return ids
}

export async function startLocalCluster(opts: LocalClusterOptions): Promise<LocalCluster> {
  requireEngines()
  const dir = resolve(opts.dir)
  if (runningState(dir)) throw new TidewatchError('CLUSTER_ALREADY_RUNNING', { dir }, `a local cluster already runs in ${dir}; stop it with: tidewatch cluster down --dir ${dir}`)
  // Leftovers of a launcher that died: stop them before reusing their ports and stores.
  await stopRecordedCluster(dir)
  mkdirSync(dir, { recursive: true })
  const postgresDir = postgresDirFor(dir)
  // The postgres user must pass through `dir` to its data (secrets inside stay 0600).
  if (postgresDir.startsWith(dir)) chmodSync(dir, 0o711)
  const log = opts.log?.child({ component: 'local-cluster' })
  const stops: Array<() => Promise<void>> = []
  let stopping = false
  const restartTimers = new Set<NodeJS.Timeout>()
  // In groups of their own, nothing but us stops them: should we exit before an
  // orderly stop ends (a second Ctrl-C exits at once), the 'exit' handler
  // (synchronous: /proc and kill()) ends each without waiting. The tidewatch
  // nodes by SIGKILL: a node may sit in a retry loop that a first SIGTERM does
  // not break (a writer that cannot reach NATS yet), and kill -9 loses nothing
  // acknowledged (the chaos scenarios). PostgreSQL by SIGINT, its fast
  // shutdown (SIGTERM waits for every session); the other engines by SIGTERM.
  const terminateOnExit = (): void => {
    for (const pid of leftoverPids(dir, undefined)) {
      const program = basename(argvOf(pid)[0] ?? '')
      signal(pid, 'SIGCONT')
      signal(pid, program === 'postgres' ? 'SIGINT' : CLUSTER_ENGINES.has(program) ? 'SIGTERM' : 'SIGKILL')
    }
  }
  if (opts.ownProcessGroups) process.on('exit', terminateOnExit)
  const stopAll = async (): Promise<void> => {
    stopping = true
    for (const t of restartTimers) clearTimeout(t)
    for (const stop of stops.splice(0).reverse()) {
      try {
        await stop()
      } catch (err) {
        log?.error({ err }, 'error while stopping the local cluster')
      }
    }
    if (isOutsidePostgresDir(dir, postgresDir)) rmSync(postgresDir, { recursive: true, force: true })
    rmSync(join(dir, STATE_FILE), { force: true })
    process.off('exit', terminateOnExit)
  }
  // Rewritten when a node dies or restarts, so `cluster status` and `down` see its pid.
  let writeState: () => void = () => {}
  const restartAttempts = new Map<string, number>()
  /** Logs a node's unexpected exit and, with restartNodes, restarts it after a doubling delay. */
  const onUnexpectedExit = (node: () => NodeProcess | undefined, name: string, logFile: string): NonNullable<NodeSpec['onUnexpectedExit']> => (exit) => {
    if (stopping) return
    // A node that ran a minute before dying starts its backoff again.
    const attempt = exit.ranMs > 60_000 ? 0 : (restartAttempts.get(name) ?? 0)
    const delayMs = Math.min(30_000, 1_000 * 2 ** attempt)
    log?.warn({ node: name, pid: exit.pid, code: exit.code, signal: exit.signal, log: logFile, restartInMs: opts.restartNodes ? delayMs : undefined }, opts.restartNodes ? 'node exited unexpectedly; restarting it' : 'node exited unexpectedly')
    writeState()
    if (!opts.restartNodes) return
    restartAttempts.set(name, attempt + 1)
    const timer = setTimeout(() => {
      restartTimers.delete(timer)
      const n = node()
      if (stopping || !n || n.running()) return
      n.start()
        .then(() => {
          log?.info({ node: name, pid: n.pid }, 'node restarted')
          writeState()
        })
        // An exit during start-up comes back through onUnexpectedExit with a longer delay.
        .catch((err: unknown) => log?.warn({ node: name, err: (err as Error).message }, 'node restart failed'))
    }, delayMs)
    restartTimers.add(timer)
  }

  try {
    const [nats, postgres, primary, dr] = await Promise.all([
      startNatsCluster({ dir: join(dir, 'nats'), nodes: 3, log: opts.log, ownProcessGroup: opts.ownProcessGroups }),
      startLocalPostgres({ dir: postgresDir, log: opts.log, ownProcessGroup: opts.ownProcessGroups }),
      startManagedInflux({ dir: join(dir, 'influx-dc'), log: opts.log, ownProcessGroup: opts.ownProcessGroups }),
      startManagedInflux({ dir: join(dir, 'influx-dr'), log: opts.log, ownProcessGroup: opts.ownProcessGroups }),
    ])
    stops.push(() => nats.stop(), () => postgres.stop(), () => primary.stop(), () => dr.stop())
    // A frozen (SIGSTOP) node does not act on SIGTERM: thaw every node before anything stops.
    stops.push(async () => void nats.nodes.forEach((n) => pidsMentioning(n.configFile).forEach((pid) => signal(pid, 'SIGCONT'))))
    log?.info({ nats: nats.servers, postgres: postgres.url, primary: primary.url, dr: dr.url }, 'engines up')

    // Stations in the shared metadata; secrets kept in the dir so a second `up` reuses them.
    const stationsFile = join(dir, 'stations.json')
    const known: StationSecret[] = existsSync(stationsFile) ? (JSON.parse(readFileSync(stationsFile, 'utf8')) as StationSecret[]) : []
    const admin = await PostgresMetadataRepository.open({ url: postgres.url, poolMax: 2, log: opts.log })
    stops.push(() => admin.close())
    const addStations = async (ids: readonly string[]): Promise<StationSecret[]> => {
      const out: StationSecret[] = []
      for (const id of ids) {
        const saved = known.find((s) => s.id === id)
        const exists = await admin.getStation(id)
        if (saved && exists) {
          out.push(saved)
          continue
        }
        const demo = DEMO_STATIONS.find((s) => s.id === id)
        const creds = exists
          ? await admin.rotate(id)
          : await admin.addStation(
              demo
                ? { id, name: demo.name, commune: demo.commune, district: demo.district, lat: demo.lat, lon: demo.lon, coast: demo.coast, zone: demo.zone, code: demo.code, sensors: [...demo.sensors] }
                : { id, name: `Trạm mô phỏng ${id}`, lat: 9.18 + (out.length % 50) / 1000, lon: 105.15, sensors: ['salinity'] },
            )
        const s = { id, secret: creds.password }
        known.splice(0, known.length, ...known.filter((k) => k.id !== id), s)
        out.push(s)
      }
      writeFileSync(stationsFile, JSON.stringify(known, null, 2), { mode: 0o600 })
      return out
    }
    const stations = await addStations(stationIds(opts.stations ?? 6))

    const database = 'tidewatch'
    const configFile = join(dir, 'cluster.config.json')
    writeFileSync(
      configFile,
      JSON.stringify(
        nestPaths({
          'influx.targets': [
            { name: 'primary', url: primary.url, database },
            { name: 'dr', url: dr.url, database },
          ],
          'cluster.nats.servers': [...nats.servers],
          'cluster.nats.replicas': 3,
          'cluster.postgres.url': postgres.url,
          // Clean sessions: a station's state lives in the station, not in one edge (docs/CLUSTER.md).
          'mqtt.persistence': 'memory',
          ...opts.settings,
        }),
        null,
        2,
      ),
    )

    const nodeSpec = async (name: string, role: NodeSpec['role'], site: 'dc' | 'dr', args: string[] = [], withPort?: 'mqtt' | 'http'): Promise<NodeSpec> => {
      const mqttPort = withPort === 'mqtt' ? await freePort() : 0
      const httpPort = withPort === 'http' ? await freePort() : 0
      return {
        name,
        role,
        site,
        args: [role, ...args, '--config', configFile],
        env: {
          TIDEWATCH_DATA_DIR: join(dir, 'nodes', name),
          TIDEWATCH_NODE_ID: name,
          TIDEWATCH_SITE: site,
          TIDEWATCH_BIND_HOST: '127.0.0.1',
          TIDEWATCH_HTTP_HOST: '127.0.0.1',
          TIDEWATCH_MQTT_PORT: String(mqttPort),
          TIDEWATCH_MQTTS_PORT: '0',
          TIDEWATCH_HTTP_PORT: String(httpPort),
          TIDEWATCH_LOG_LEVEL: opts.nodeLogLevel ?? 'info',
        },
        readyPort: withPort === 'mqtt' ? mqttPort : withPort === 'http' ? httpPort : undefined,
        readyHttpPath: withPort === 'http' ? '/health' : undefined,
        logFile: join(dir, 'logs', `${name}.log`),
        bin: opts.nodeBin,
        ownProcessGroup: opts.ownProcessGroups,
      }
    }
    const launch = async (specs: NodeSpec[]): Promise<NodeProcess[]> => {
      const nodes: NodeProcess[] = specs.map((spec, i) => startNodeProcess({ ...spec, onUnexpectedExit: onUnexpectedExit(() => nodes[i], spec.name, spec.logFile) }))
      stops.push(async () => void (await Promise.all(nodes.map((n) => n.stop()))))
      await Promise.all(nodes.map((n) => n.start()))
      return nodes
    }
    const siteOf = (i: number): 'dc' | 'dr' => (i % 2 === 0 ? 'dc' : 'dr')

    // Writers first: the log keeps what edges commit before them anyway, but a
    // writer that starts first makes the first readings reach InfluxDB at once.
    const writerSpecs: NodeSpec[] = []
    for (const [target, site] of [['primary', 'dc'], ['dr', 'dr']] as const) {
      for (let i = 1; i <= (opts.writersPerTarget ?? 2); i++) writerSpecs.push(await nodeSpec(`writer-${target}-${i}`, 'writer', site, ['--target', target]))
    }
    const edgeSpecs: NodeSpec[] = []
    for (let i = 0; i < (opts.edges ?? 2); i++) edgeSpecs.push(await nodeSpec(`edge-${i + 1}`, 'edge', siteOf(i), [], 'mqtt'))
    const apiSpecs: NodeSpec[] = []
    for (let i = 0; i < (opts.apis ?? 2); i++) apiSpecs.push(await nodeSpec(`api-${i + 1}`, 'api', siteOf(i), [], 'http'))
    // The alerter slot (issue 16 scenario 6, cluster/alerter/): one node per site, single active evaluator.
    const alerterSpecs: NodeSpec[] = []
    for (let i = 0; i < (opts.alerters ?? 0); i++) alerterSpecs.push(await nodeSpec(`alerter-${i + 1}`, 'alerter', siteOf(i)))

    const [writers, edges] = await Promise.all([launch(writerSpecs), launch(edgeSpecs)])
    const [apis, alerters] = await Promise.all([launch(apiSpecs), launch(alerterSpecs)])

    const haproxy = await startHaproxy({
      dir: join(dir, 'haproxy'),
      mqttBackends: edgeSpecs.map((s) => ({ name: s.name, port: s.readyPort! })),
      apiBackends: apiSpecs.length ? apiSpecs.map((s) => ({ name: s.name, port: s.readyPort! })) : undefined,
      log: opts.log,
      ownProcessGroup: opts.ownProcessGroups,
    })
    // Stopped before the edges: stations see the proxy go before any edge.
    stops.push(() => haproxy.stop())

    let simulator: NodeProcess | undefined
    if (opts.simulator) {
      const credsFile = join(dir, 'sim-credentials.json')
      writeFileSync(credsFile, JSON.stringify(stations.map((s) => ({ id: s.id, password: s.secret }))), { mode: 0o600 })
      const spec = await nodeSpec('sim', 'sim', 'dc', ['--credentials', credsFile, '--url', haproxy.mqttUrl, '--interval', String(opts.simulator.intervalSec)])
      ;[simulator] = await launch([spec])
    }

    // influxd runs under managed.ts's handle; its command line names its config file in its dir.
    const influxdPid = (i: ManagedInflux): number | undefined => pidsMentioning(join(i.dir, 'influxdb.conf'))[0]
    const processes = (): ClusterProcess[] =>
      [
        ...nats.nodes.map((n) => ({ name: `nats-${n.name}`, role: 'nats', site: n.name === 'n3' ? 'dr' : 'dc', port: n.clientPort, pid: pidsMentioning(n.configFile)[0] })),
        { name: 'postgres', role: 'postgres', site: 'dc', port: postgres.port, pid: postgres.pid() },
        { name: 'influx-primary', role: 'influxd', site: 'dc', port: primary.port, pid: influxdPid(primary) },
        { name: 'influx-dr', role: 'influxd', site: 'dr', port: dr.port, pid: influxdPid(dr) },
        { name: 'haproxy', role: 'haproxy', site: 'dc', port: haproxy.mqttPort, pid: haproxy.pid() },
        ...[...edges, ...writers, ...apis, ...alerters, ...(simulator ? [simulator] : [])].map((n) => ({
          name: n.spec.name,
          role: n.spec.role,
          site: n.spec.site,
          pid: n.pid,
          port: n.spec.readyPort,
          log: n.spec.logFile,
        })),
      ].map((p) => ({ ...p, startTime: p.pid === undefined ? undefined : startTimeOf(p.pid) }))
    const startedAt = new Date().toISOString()
    const launcherStartTime = startTimeOf(process.pid)
    const state = (): ClusterState => ({
      launcherPid: process.pid,
      launcherStartTime,
      startedAt,
      mqttUrl: haproxy.mqttUrl,
      apiUrl: haproxy.apiUrl,
      influx: { primary: primary.url, dr: dr.url, database },
      nats: [...nats.servers],
      postgres: postgres.url,
      postgresDir,
      processes: processes(),
    })
    writeState = () => {
      if (!stopping) writeFileSync(join(dir, STATE_FILE), JSON.stringify(state(), null, 2))
    }
    writeState()
    log?.info({ mqtt: haproxy.mqttUrl, api: haproxy.apiUrl }, 'local cluster up')

    return {
      dir,
      nats,
      postgres,
      influx: { primary, dr },
      database,
      haproxy,
      edges,
      writers,
      apis,
      alerters,
      simulator,
      stations,
      configFile,
      addStations,
      freeze(nodes, frozen) {
        for (const n of nodes) for (const pid of pidsMentioning(n.configFile)) signal(pid, frozen ? 'SIGSTOP' : 'SIGCONT')
      },
      state,
      stop: stopAll,
    }
  } catch (err) {
    await stopAll()
    throw err
  }
}

/** Whether cluster/alerter/ is there to run (the alerter engineer's part of issue 16). */
export function alerterAvailable(): boolean {
  return existsSync(new URL('../alerter/', import.meta.url))
}
