/**
 * `tidewatch up` as deployed, as a child process we can watch in /proc:
 * embedded broker + ingest + API, loopback only, logs at warn. The process
 * runner is the chaos suite's; the benchmark adds node flags and the pid.
 */
import { createPlatformProcess, type Health } from '../../tests/chaos/lib/platform-process.ts'

export type { Health }

export interface PlatformChild {
  pid: number
  mqttPort: number
  apiUrl: string
  health(): Promise<Health | undefined>
  stop(): Promise<void>
}

export async function startPlatformChild(opts: { dir: string; influxUrl: string; nodeArgs?: string[]; env?: Record<string, string> }): Promise<PlatformChild> {
  const p = await createPlatformProcess({ dir: opts.dir, influxUrl: opts.influxUrl, nodeArgs: opts.nodeArgs, env: opts.env })
  await p.start()
  return { pid: p.pid!, mqttPort: p.mqttPort, apiUrl: p.apiUrl, health: p.health, stop: p.stop }
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
