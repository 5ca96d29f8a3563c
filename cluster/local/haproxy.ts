import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { TidewatchError } from '../../core/errors.ts'
import type { Logger } from '../../core/log.ts'
import { stopChild } from '../../core/child-process.ts'
import { portAnswers } from './node-process.ts'
import { freePort } from '../../core/free-port.ts'

/**
 * A local HAProxy (Debian's `haproxy`, 2.6 here) on loopback in front of the
 * edges' MQTT ports (TCP mode) and the API nodes (HTTP mode), for the tests,
 * `npm run chaos` and `tidewatch cluster up`. The generated config lives in
 * `dir`; reload() rewrites it and asks the master to re-read it (HAProxy's
 * master-worker mode, `-W`: SIGUSR2 to the master starts new workers on the
 * same listening sockets, old workers finish their connections).
 *
 * MQTT through a TCP proxy: HAProxy does not read MQTT; a station's TCP
 * connection is spliced to one edge for its whole life. `balance leastconn`,
 * because MQTT connections are long-lived and few per station: round robin
 * would pile reconnecting stations on whichever edge came back last. A health
 * check that fails takes the edge out and, with `on-marked-down
 * shutdown-sessions`, closes its stations' connections so they reconnect to
 * another edge at once instead of waiting out their keepalive.
 */
export interface HaproxyBackend {
  /** Server name in HAProxy's stats (e.g. `edge-1`). */
  name: string
  host?: string
  port: number
}

export interface HaproxyOptions {
  /** A process group of its own: a Ctrl-C at the terminal then reaches only the launcher, which stops everything in order (`tidewatch cluster up`). */
  ownProcessGroup?: boolean
  /** Where the generated config, pid file and admin socket live. */
  dir: string
  mqttBackends: readonly HaproxyBackend[]
  apiBackends?: readonly HaproxyBackend[]
  /** Fixed listening ports (a restarted proxy comes back where stations expect it); free ports when unset. */
  mqttPort?: number
  apiPort?: number
  /**
   * Idle timeout of an MQTT connection, both sides. MQTT 3.1.1 §3.1.2.10: the
   * broker closes a connection silent for 1.5 × keepalive, so the proxy must
   * wait longer than that or it cuts healthy idle stations. The firmware's
   * keepalive is 60 s (firmware-sim/station.ts), 1.5 × = 90 s; 5 min leaves
   * room for a station configured at up to 200 s.
   */
  mqttIdleTimeoutMs?: number
  /** Health check interval; an edge is out after 2 failed checks and back after 2 good ones. */
  checkIntervalMs?: number
  binary?: string
  log?: Logger
  startTimeoutMs?: number
}

export interface ServerState {
  backend: string
  server: string
  /** HAProxy's status: UP, DOWN, MAINT, `UP 1/2` while rising… */
  status: string
  /** Current sessions on that server. */
  sessions: number
}

export interface LocalHaproxy {
  /** `mqtt://127.0.0.1:<port>`: what stations connect to. */
  readonly mqttUrl: string
  readonly mqttPort: number
  /** `http://127.0.0.1:<port>` when API backends are given. */
  readonly apiUrl?: string
  readonly apiPort?: number
  readonly configFile: string
  /** The master process's pid (master-worker mode). */
  pid(): number | undefined
  /** Rewrites the config with these backends and reloads without dropping the listening sockets. */
  reload(backends: { mqtt?: readonly HaproxyBackend[]; api?: readonly HaproxyBackend[] }): Promise<void>
  /** Backend servers as HAProxy sees them, from its admin socket (`show stat`). */
  servers(): Promise<ServerState[]>
  stop(): Promise<void>
}

const BINARY_CANDIDATES = ['/usr/sbin/haproxy', '/usr/bin/haproxy', '/usr/local/sbin/haproxy']
export const HAPROXY_INSTALL_HINT = 'sudo apt-get update && sudo apt-get install -y haproxy'

export function findHaproxy(): string | undefined {
  return BINARY_CANDIDATES.find((p) => existsSync(p))
}

/** Five minutes: see mqttIdleTimeoutMs. */
const DEFAULT_MQTT_IDLE_MS = 5 * 60_000

/**
 * Connections HAProxy accepts at once. Each station costs two file
 * descriptors (client side, edge side), and HAProxy refuses to start when
 * 2 × maxconn exceeds the process's limit (`ulimit -n`, 20,000 on this
 * machine): 8,000 fits and is far above what a laptop cluster sees. A
 * production proxy sizes this to its stations and raises the limit
 * (docs/CLUSTER.md).
 */
const MAX_CONNECTIONS = 8_000

interface Rendered {
  dir: string
  mqttPort: number
  apiPort?: number
  mqtt: readonly HaproxyBackend[]
  api: readonly HaproxyBackend[]
  idleMs: number
  checkMs: number
}

function serverLine(b: HaproxyBackend, checkMs: number, extra = ''): string {
  return `  server ${b.name} ${b.host ?? '127.0.0.1'}:${b.port} check inter ${checkMs} fall 2 rise 2${extra}`
}

export function haproxyConfig(r: Rendered): string {
  const lines = [
    'global',
    `  maxconn ${MAX_CONNECTIONS}`,
    `  pidfile ${join(r.dir, 'haproxy.pid')}`,
    `  stats socket ${join(r.dir, 'admin.sock')} mode 600 level admin`,
    '',
    'defaults',
    '  mode tcp',
    '  timeout connect 5s',
    `  timeout client ${r.idleMs}ms`,
    `  timeout server ${r.idleMs}ms`,
    // A station whose chosen edge refuses is sent to another one.
    '  option redispatch',
    '  retries 2',
    '',
    'frontend mqtt',
    `  bind 127.0.0.1:${r.mqttPort}`,
    '  mode tcp',
    '  default_backend edges',
    '',
    'backend edges',
    '  mode tcp',
    '  balance leastconn',
    // A dead edge's stations are disconnected at once and reconnect elsewhere.
    '  default-server on-marked-down shutdown-sessions',
    ...r.mqtt.map((b) => serverLine(b, r.checkMs)),
  ]
  if (r.apiPort !== undefined) {
    lines.push(
      '',
      'frontend api',
      `  bind 127.0.0.1:${r.apiPort}`,
      '  mode http',
      // HTTP requests are short: the MQTT idle timeout does not apply.
      '  timeout client 60s',
      '  option forwardfor',
      '  default_backend apis',
      '',
      'backend apis',
      '  mode http',
      '  timeout server 60s',
      // No stickiness, on purpose: API nodes are stateless (tokens, console sessions and the audit log are
      // in PostgreSQL, cluster/metadata/api-node.ts), so any node answers any request, and losing one
      // signs nobody out. A sticky cookie would tie a session to a node that may die.
      '  balance roundrobin',
      // /health answers 200 whenever the process serves HTTP ("degraded" is in the body).
      '  option httpchk GET /health',
      '  http-check expect status 200',
      ...r.api.map((b) => serverLine(b, r.checkMs)),
    )
  }
  return lines.join('\n') + '\n'
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

/** One admin-socket command, its whole answer. */
function adminCommand(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = connect(socket)
    let out = ''
    c.setTimeout(2000, () => c.destroy(new Error('haproxy admin socket timed out')))
    c.on('connect', () => c.end(`${command}\n`))
    c.on('data', (d) => (out += d.toString()))
    c.on('end', () => resolve(out))
    c.on('error', reject)
  })
}

export async function startHaproxy(opts: HaproxyOptions): Promise<LocalHaproxy> {
  const binary = opts.binary ?? findHaproxy()
  if (!binary) throw new TidewatchError('HAPROXY_NOT_INSTALLED', { hint: HAPROXY_INSTALL_HINT }, `haproxy is not installed. Run: ${HAPROXY_INSTALL_HINT}`)
  mkdirSync(opts.dir, { recursive: true })
  const mqttPort = opts.mqttPort ?? (await freePort())
  const apiPort = opts.apiBackends ? (opts.apiPort ?? (await freePort())) : undefined
  const configFile = join(opts.dir, 'haproxy.cfg')
  const socket = join(opts.dir, 'admin.sock')
  const log = opts.log?.child({ component: 'haproxy' })
  let current: Rendered = {
    dir: opts.dir,
    mqttPort,
    apiPort,
    mqtt: opts.mqttBackends,
    api: opts.apiBackends ?? [],
    idleMs: opts.mqttIdleTimeoutMs ?? DEFAULT_MQTT_IDLE_MS,
    checkMs: opts.checkIntervalMs ?? 1000,
  }
  writeFileSync(configFile, haproxyConfig(current))
  // Refuses a bad config with its own message before anything starts.
  const check = await run(binary, ['-c', '-q', '-f', configFile])
  if (check.code !== 0) throw new TidewatchError('HAPROXY_FAILED', { stderr: check.stderr.slice(-1000) }, `haproxy refused its config: ${check.stderr.trim().split('\n').pop()}`)

  // -W: master-worker (reload by SIGUSR2, same pid); -db: stay in the foreground, a child we can signal.
  const proc: ChildProcess = spawn(binary, ['-W', '-db', '-f', configFile], { stdio: ['ignore', 'ignore', 'pipe'], detached: opts.ownProcessGroup })
  let stderr = ''
  let exited = false
  proc.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000)
  })
  proc.on('exit', (code, signal) => {
    exited = true
    if (code) log?.warn({ code, signal, stderr: stderr.slice(-500) }, 'haproxy exited')
  })

  const deadline = Date.now() + (opts.startTimeoutMs ?? 15_000)
  for (;;) {
    if (exited) throw new TidewatchError('HAPROXY_FAILED', { stderr: stderr.slice(-1000) }, `haproxy exited during start-up: ${stderr.trim().split('\n').pop() ?? ''}`)
    if ((await portAnswers(mqttPort)) && (apiPort === undefined || (await portAnswers(apiPort))) && existsSync(socket)) break
    if (Date.now() > deadline) {
      proc.kill('SIGKILL')
      throw new TidewatchError('HAPROXY_FAILED', { stderr: stderr.slice(-1000) }, 'haproxy did not listen in time')
    }
    await sleep(50)
  }
  log?.info({ mqttPort, apiPort }, 'haproxy started')

  const servers = async (): Promise<ServerState[]> => {
    const csv = await adminCommand(socket, 'show stat')
    const rows = csv.split('\n').filter((l) => l && !l.startsWith('#'))
    return rows
      .map((l) => l.split(','))
      .filter((f) => f[1] !== 'FRONTEND' && f[1] !== 'BACKEND')
      // show stat columns (HAProxy management guide §9.1): 0 pxname, 1 svname, 4 scur, 17 status.
      .map((f) => ({ backend: f[0]!, server: f[1]!, sessions: Number(f[4] ?? 0), status: f[17] ?? '' }))
  }

  return {
    mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
    mqttPort,
    apiUrl: apiPort === undefined ? undefined : `http://127.0.0.1:${apiPort}`,
    apiPort,
    configFile,
    pid: () => (exited ? undefined : proc.pid),
    async reload(backends) {
      current = { ...current, mqtt: backends.mqtt ?? current.mqtt, api: backends.api ?? current.api }
      writeFileSync(configFile, haproxyConfig(current))
      const checked = await run(binary, ['-c', '-q', '-f', configFile])
      if (checked.code !== 0) throw new TidewatchError('HAPROXY_FAILED', { stderr: checked.stderr.slice(-1000) }, `haproxy refused its new config: ${checked.stderr.trim().split('\n').pop()}`)
      const want = new Set(current.mqtt.map((b) => b.name))
      proc.kill('SIGUSR2')
      // Reloaded once the new worker's stats list exactly the new servers.
      const until = Date.now() + 10_000
      while (Date.now() < until) {
        const seen = await servers().catch(() => [])
        const edges = seen.filter((s) => s.backend === 'edges').map((s) => s.server)
        if (edges.length === want.size && edges.every((n) => want.has(n))) return
        await sleep(100)
      }
      throw new TidewatchError('HAPROXY_FAILED', {}, 'haproxy did not pick up its new config')
    },
    servers,
    async stop() {
      if (exited) return
      // SIGTERM to the master: hard stop of every worker (a soft stop would wait for MQTT connections to end).
      await stopChild(proc, 'SIGTERM')
    },
  }
}

function run(binary: string, args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    p.stdout?.on('data', (d: Buffer) => (stderr += d.toString()))
    p.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
    p.on('exit', (code) => resolve({ code: code ?? 1, stderr }))
    p.on('error', (err) => resolve({ code: 1, stderr: err.message }))
  })
}
