/**
 * `tidewatch up` as deployed, as a child process we can watch in /proc:
 * embedded broker + ingest + API, loopback only, logs at warn.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, mkdirSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '../../influx/managed.ts'

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

export interface PlatformChild {
  pid: number
  mqttPort: number
  apiUrl: string
  health(): Promise<Health | undefined>
  stop(): Promise<void>
}

export interface Health {
  status: string
  components: {
    broker?: { connectedClients: number }
    ingest?: { targets: Array<{ name: string; lagReadings: number; up: boolean }> }
  }
}

export async function startPlatformChild(opts: { dir: string; influxUrl: string; nodeArgs?: string[]; env?: Record<string, string> }): Promise<PlatformChild> {
  const dataDir = join(opts.dir, 'data')
  mkdirSync(dataDir, { recursive: true })
  const mqttPort = await freePort()
  const httpPort = await freePort()
  const apiUrl = `http://127.0.0.1:${httpPort}`
  const log = createWriteStream(join(opts.dir, 'platform.log'), { flags: 'a' })
  const proc: ChildProcess = spawn(process.execPath, [...(opts.nodeArgs ?? []), join(REPO, 'bin/tidewatch.js'), 'up'], {
    cwd: REPO,
    env: {
      ...process.env,
      TIDEWATCH_DATA_DIR: dataDir,
      TIDEWATCH_INFLUX_URL: opts.influxUrl,
      TIDEWATCH_MQTT_PORT: String(mqttPort),
      TIDEWATCH_HTTP_PORT: String(httpPort),
      TIDEWATCH_BIND_HOST: '127.0.0.1',
      TIDEWATCH_HTTP_HOST: '127.0.0.1',
      TIDEWATCH_LOG_LEVEL: 'warn',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  proc.stdout!.pipe(log, { end: false })
  proc.stderr!.pipe(log, { end: false })
  const health = async (): Promise<Health | undefined> => {
    try {
      const res = await fetch(`${apiUrl}/health`, { signal: AbortSignal.timeout(5000) })
      return (await res.json()) as Health
    } catch {
      return undefined
    }
  }
  const deadline = Date.now() + 60_000
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`tidewatch up exited during start-up; see ${join(opts.dir, 'platform.log')}`)
    if (await health()) break
    if (Date.now() > deadline) throw new Error('tidewatch up did not answer /health within 60 s')
    await new Promise((r) => setTimeout(r, 100))
  }
  return {
    pid: proc.pid!,
    mqttPort,
    apiUrl,
    health,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return
      await new Promise<void>((r) => {
        const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000)
        proc.once('exit', () => {
          clearTimeout(timer)
          r()
        })
        proc.kill('SIGTERM')
      })
    },
  }
}

/** Waits until every InfluxDB target reports lag 0 twice in a row; returns ms waited, or undefined on timeout. */
export async function waitForLagZero(p: PlatformChild, timeoutMs: number, pollMs = 100): Promise<number | undefined> {
  const t0 = performance.now()
  let zeros = 0
  while (performance.now() - t0 < timeoutMs) {
    const targets = (await p.health())?.components.ingest?.targets ?? []
    if (targets.length > 0 && targets.every((t) => t.lagReadings === 0)) {
      if (++zeros >= 2) return performance.now() - t0
    } else zeros = 0
    await new Promise((r) => setTimeout(r, pollMs))
  }
  return undefined
}
