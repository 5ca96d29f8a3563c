import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { TidewatchError } from '../core/errors.ts'
import type { Logger } from '../core/log.ts'
import { stopChild } from '../core/child-process.ts'
import { freePort } from '../core/free-port.ts'

/**
 * A local influxd (Debian's `influxdb` package, 1.x) that tidewatch starts and
 * stops itself: for `tidewatch up --demo` and for every integration test.
 * It always binds loopback, because Debian's default config listens on all
 * interfaces.
 */
export interface ManagedInflux {
  url: string
  port: number
  dir: string
  stop(): Promise<void>
  /** Sends SIGKILL, for chaos tests. */
  kill(): void
  /** Starts again on the same port and data dir after stop() or kill(). */
  restart(): Promise<void>
}

export function findInfluxd(): string | undefined {
  for (const candidate of ['/usr/bin/influxd', '/usr/sbin/influxd', '/usr/local/bin/influxd']) {
    if (existsSync(candidate)) return candidate
  }
  const which = spawnSync('sh', ['-c', 'command -v influxd'], { encoding: 'utf8' })
  const found = which.stdout.trim()
  return found || undefined
}

export const INFLUXD_INSTALL_HINT = 'sudo apt-get update && sudo apt-get install -y influxdb'

/** Installs Debian's influxdb when we are root on a Debian/Ubuntu machine; otherwise says what to run. */
export function ensureInfluxdInstalled(log?: Logger): string {
  const existing = findInfluxd()
  if (existing) return existing
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
  const hasApt = existsSync('/usr/bin/apt-get')
  if (isRoot && hasApt) {
    log?.info('influxd not found; installing Debian package influxdb')
    const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit' })
    const install = update.status === 0 ? spawnSync('apt-get', ['install', '-y', '-qq', 'influxdb'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }) : update
    const found = findInfluxd()
    if (install.status === 0 && found) return found
  }
  throw new TidewatchError('INFLUXD_NOT_INSTALLED', { hint: INFLUXD_INSTALL_HINT }, `influxd is not installed. Run: ${INFLUXD_INSTALL_HINT}`)
}

function configText(dir: string, port: number, rpcPort: number): string {
  // Each section only sets what differs from the defaults: loopback binds,
  // private dirs, no phoning home, quiet logs.
  return `reporting-disabled = true
bind-address = "127.0.0.1:${rpcPort}"
[meta]
  dir = "${join(dir, 'meta')}"
  logging-enabled = false
[data]
  dir = "${join(dir, 'data')}"
  wal-dir = "${join(dir, 'wal')}"
  query-log-enabled = false
  cache-snapshot-write-cold-duration = "1m"
[coordinator]
  log-queries-after = "0s"
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:${port}"
  auth-enabled = false
  log-enabled = false
  max-body-size = 0
[logging]
  level = "warn"
  suppress-logo = true
[continuous_queries]
  enabled = true
  log-enabled = false
  run-interval = "1s"
`
}

async function waitForPing(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let exited = false
  child.once('exit', () => (exited = true))
  while (Date.now() < deadline) {
    if (exited) throw new TidewatchError('INFLUX_UNAVAILABLE', { url }, `influxd exited during start-up (port in use?)`)
    try {
      const res = await fetch(`${url}/ping`)
      if (res.status === 204) return
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new TidewatchError('INFLUX_UNAVAILABLE', { url }, `influxd did not answer /ping within ${timeoutMs} ms`)
}

export interface StartInfluxOptions {
  /** A process group of its own: a Ctrl-C at the terminal then reaches only the launcher, which stops everything in order (`tidewatch cluster up`). */
  ownProcessGroup?: boolean
  dir: string
  port?: number
  log?: Logger
  binary?: string
  startTimeoutMs?: number
}

export async function startManagedInflux(opts: StartInfluxOptions): Promise<ManagedInflux> {
  const binary = opts.binary ?? findInfluxd()
  if (!binary) throw new TidewatchError('INFLUXD_NOT_INSTALLED', { hint: INFLUXD_INSTALL_HINT }, `influxd is not installed. Run: ${INFLUXD_INSTALL_HINT}`)
  mkdirSync(opts.dir, { recursive: true })
  const port = opts.port || (await freePort())
  const rpcPort = await freePort()
  const configFile = join(opts.dir, 'influxdb.conf')
  writeFileSync(configFile, configText(opts.dir, port, rpcPort))
  const url = `http://127.0.0.1:${port}`
  let child: ChildProcess | undefined

  const start = async (): Promise<void> => {
    const proc = spawn(binary, ['run', '-config', configFile], { stdio: ['ignore', 'ignore', 'pipe'], detached: opts.ownProcessGroup })
    child = proc
    let stderr = ''
    proc.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000)
    })
    proc.on('exit', (code, signal) => {
      if (code && code !== 0) opts.log?.warn({ code, signal, stderr: stderr.slice(-500) }, 'influxd exited')
    })
    await waitForPing(url, proc, opts.startTimeoutMs ?? 30_000)
  }

  const stop = async (): Promise<void> => {
    const proc = child
    child = undefined
    if (proc) await stopChild(proc, 'SIGTERM')
  }

  await start()
  return {
    url,
    port,
    dir: opts.dir,
    stop,
    kill: () => {
      child?.kill('SIGKILL')
      child = undefined
    },
    restart: async () => {
      await stop()
      await start()
    },
  }
}
