/**
 * A tidewatch process (`up`, `ingest`) as a real child process, so a scenario
 * can `kill -9` it the way the kernel's OOM killer or a power cut would.
 * Ports are fixed for the life of the handle: stations reconnect to the same
 * address after a restart, exactly as in the field.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '../../../core/free-port.ts'

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')
const CLI = join(REPO, 'bin/tidewatch.js')

export interface PlatformProcessOptions {
  /** Parent dir; the data dir is `<dir>/data`, child output goes to `<dir>/platform.log`. */
  dir: string
  /** `up` (broker + embedded ingest + API) or `ingest` (external broker + API). */
  command?: 'up' | 'ingest'
  influxUrl: string
  drUrl?: string
  spoolMaxBytes?: number
  /** For `ingest`: the external broker. */
  mqttUrl?: string
  env?: Record<string, string>
  /** Extra node flags, e.g. `--cpu-prof` for the benchmark. */
  nodeArgs?: string[]
}

export interface HealthTarget {
  name: string
  up: boolean
  lagReadings: number
  lagSeconds: number
}

export interface Health {
  status: string
  components: {
    broker?: { connectedClients: number }
    ingest?: { spool: { bytes: number; full: boolean; maxBytes: number }; targets: HealthTarget[] }
  }
}

export interface PlatformProcess {
  readonly dataDir: string
  readonly mqttPort: number
  readonly apiUrl: string
  /** Incremented on every start; lets a scenario count restarts. */
  readonly starts: number
  /** Pid of the running child (for /proc sampling), undefined when stopped. */
  readonly pid: number | undefined
  start(): Promise<void>
  /** SIGKILL: no shutdown code runs. Resolves once the process is gone. */
  kill9(): Promise<void>
  /** SIGTERM: the clean shutdown path (broker closes, spool drains briefly). */
  stop(): Promise<void>
  health(): Promise<Health | undefined>
}

export async function createPlatformProcess(opts: PlatformProcessOptions): Promise<PlatformProcess> {
  const dataDir = join(opts.dir, 'data')
  mkdirSync(dataDir, { recursive: true })
  const mqttPort = await freePort()
  const httpPort = await freePort()
  const apiUrl = `http://127.0.0.1:${httpPort}`
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    TIDEWATCH_DATA_DIR: dataDir,
    TIDEWATCH_INFLUX_URL: opts.influxUrl,
    TIDEWATCH_MQTT_PORT: String(mqttPort),
    TIDEWATCH_HTTP_PORT: String(httpPort),
    TIDEWATCH_BIND_HOST: '127.0.0.1',
    TIDEWATCH_HTTP_HOST: '127.0.0.1',
    TIDEWATCH_LOG_LEVEL: 'warn',
    ...(opts.drUrl ? { TIDEWATCH_INFLUX_DR_URL: opts.drUrl } : {}),
    ...(opts.spoolMaxBytes ? { TIDEWATCH_SPOOL_MAX_BYTES: String(opts.spoolMaxBytes) } : {}),
    ...(opts.mqttUrl ? { TIDEWATCH_MQTT_URL: opts.mqttUrl } : {}),
    ...opts.env,
  }
  let child: ChildProcess | undefined
  let starts = 0
  const logFile: WriteStream = createWriteStream(join(opts.dir, 'platform.log'), { flags: 'a' })

  const health = async (): Promise<Health | undefined> => {
    try {
      const res = await fetch(`${apiUrl}/health`, { signal: AbortSignal.timeout(5000) })
      return (await res.json()) as Health
    } catch {
      return undefined
    }
  }

  const exited = (proc: ChildProcess): Promise<void> =>
    new Promise((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve()
      proc.once('exit', () => resolve())
    })

  return {
    dataDir,
    mqttPort,
    apiUrl,
    get starts() {
      return starts
    },
    get pid() {
      return child?.pid
    },
    async start() {
      if (child) throw new Error('platform process already running')
      starts++
      logFile.write(`--- start #${starts} (${opts.command ?? 'up'}) ${new Date().toISOString()}\n`)
      const proc = spawn(process.execPath, [...(opts.nodeArgs ?? []), CLI, opts.command ?? 'up'], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] })
      child = proc
      proc.stdout!.pipe(logFile, { end: false })
      proc.stderr!.pipe(logFile, { end: false })
      proc.once('exit', (code, signal) => {
        logFile.write(`--- exit code=${code} signal=${signal}\n`)
        if (child === proc) child = undefined
      })
      const deadline = Date.now() + 60_000
      while (Date.now() < deadline) {
        if (proc.exitCode !== null) throw new Error(`tidewatch ${opts.command ?? 'up'} exited during start-up; see ${join(opts.dir, 'platform.log')}`)
        if (await health()) return
        await sleep(100)
      }
      throw new Error(`tidewatch ${opts.command ?? 'up'} did not answer /health within 60 s`)
    },
    async kill9() {
      const proc = child
      if (!proc) return
      child = undefined
      proc.kill('SIGKILL')
      await exited(proc)
    },
    async stop() {
      const proc = child
      if (!proc) return
      child = undefined
      const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000)
      proc.kill('SIGTERM')
      await exited(proc)
      clearTimeout(timer)
    },
    health,
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

/** Waits until every target reports lag 0 (twice in a row, so an in-flight batch is not mistaken for done). */
export async function waitForDrain(p: PlatformProcess, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  let zeros = 0
  while (Date.now() < deadline) {
    const h = await p.health()
    const targets = h?.components.ingest?.targets ?? []
    if (targets.length > 0 && targets.every((t) => t.lagReadings === 0)) {
      if (++zeros >= 2) return true
    } else zeros = 0
    await sleep(250)
  }
  return false
}
