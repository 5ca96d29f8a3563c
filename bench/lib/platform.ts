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
  /** /metrics as `name{labels}` → value. */
  metrics(): Promise<Map<string, number>>
  stop(): Promise<void>
}

export async function startPlatformChild(opts: { dir: string; influxUrl: string; nodeArgs?: string[]; env?: Record<string, string> }): Promise<PlatformChild> {
  const p = await createPlatformProcess({ dir: opts.dir, influxUrl: opts.influxUrl, nodeArgs: opts.nodeArgs, env: opts.env })
  await p.start()
  const metrics = async (): Promise<Map<string, number>> => {
    const text = await (await fetch(`${p.apiUrl}/metrics`)).text()
    const out = new Map<string, number>()
    for (const line of text.split('\n')) {
      if (!line || line.startsWith('#')) continue
      const cut = line.lastIndexOf(' ')
      out.set(line.slice(0, cut), Number(line.slice(cut + 1)))
    }
    return out
  }
  return { pid: p.pid!, mqttPort: p.mqttPort, apiUrl: p.apiUrl, health: p.health, metrics, stop: p.stop }
}

/** Event-loop delay (last 10 s) and InfluxDB write times (last 1,024 writes) of the platform, for a report row. */
export async function tailFigures(p: PlatformChild): Promise<{ loop: string; writes: string }> {
  const m = await p.metrics().catch(() => new Map<string, number>())
  const ms = (k: string): string => {
    const v = m.get(k)
    return v === undefined ? 'n/a' : String(Math.round(v * 10_000) / 10)
  }
  return {
    loop: `${ms('tidewatch_event_loop_delay_seconds{quantile="0.99"}')} / ${ms('tidewatch_event_loop_delay_seconds{quantile="1"}')}`,
    writes: `${ms('tidewatch_write_duration_seconds{target="primary",quantile="0.5"}')} / ${ms('tidewatch_write_duration_seconds{target="primary",quantile="0.99"}')} / ${ms('tidewatch_write_duration_seconds{target="primary",quantile="1"}')}`,
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
