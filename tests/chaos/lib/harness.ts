/**
 * What every scenario shares: a private temp dir, a real influxd, stations
 * in the registry, the tidewatch child process, the load generator, and the
 * end game: restore everything, let stations re-send until every reading is
 * acknowledged, wait for /health lag 0, then count in InfluxDB.
 */
import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { startManagedInflux, type ManagedInflux } from '../../../influx/managed.ts'
import { LoadGenerator, type LoadOptions } from './load.ts'
import { readStored, tally, type StoredSet, type Tally } from './ledger.ts'
import { createPlatformProcess, waitForDrain, type PlatformProcess, type PlatformProcessOptions } from './platform-process.ts'
import { provisionStations, type StationCreds } from './stations.ts'

export type Mode = 'test' | 'short' | 'full'

export interface ScenarioContext {
  /** Run root: one sub dir per scenario, plus the shared registry template. */
  root: string
  mode: Mode
  say(msg: string): void
  /** Keep the scenario's dir (data, logs) even when it passes. */
  keep?: boolean
}

export interface ScenarioResult extends Tally {
  id: number
  name: string
  durationMs: number
  /** Scenario-specific measurements, printed under the table. */
  notes: string[]
  /** Bar violations; empty means the scenario passed. */
  failures: string[]
  drainRatio?: number
  drMatches?: boolean
  maxPending?: number
}

export interface Scenario {
  id: number
  name: string
  run(ctx: ScenarioContext): Promise<ScenarioResult>
}

export interface Rig {
  dir: string
  influx: ManagedInflux
  dr?: ManagedInflux
  platform: PlatformProcess
  stations: StationCreds[]
  load: LoadGenerator
}

export interface RigOptions {
  id: number
  stations: number
  ratePerStation: number
  window?: number
  dr?: boolean
  spoolMaxBytes?: number
  command?: PlatformProcessOptions['command']
  mqttUrl?: string
  /** Where stations connect; default the platform's MQTT port. */
  stationUrl?: (rig: { platform: PlatformProcess }) => string
  /** Runs after the platform is up and before stations start (e.g. start a proxy). */
  beforeLoad?: (rig: Omit<Rig, 'load'>) => Promise<void>
  loadOptions?: Partial<LoadOptions>
}

export async function startRig(ctx: ScenarioContext, opts: RigOptions): Promise<Rig> {
  const dir = join(ctx.root, `scenario-${opts.id}`)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const influx = await startManagedInflux({ dir: join(dir, 'influx-primary') })
  const dr = opts.dr ? await startManagedInflux({ dir: join(dir, 'influx-dr') }) : undefined
  const platform = await createPlatformProcess({
    dir,
    command: opts.command,
    influxUrl: influx.url,
    drUrl: dr?.url,
    spoolMaxBytes: opts.spoolMaxBytes,
    mqttUrl: opts.mqttUrl,
  })
  const stations = await provisionStations(join(ctx.root, 'registry-cache'), platform.dataDir, opts.stations)
  await platform.start()
  const partial = { dir, influx, dr, platform, stations }
  await opts.beforeLoad?.(partial)
  const url = opts.stationUrl ? opts.stationUrl({ platform }) : `mqtt://127.0.0.1:${platform.mqttPort}`
  const load = new LoadGenerator({ url, stations, ratePerStation: opts.ratePerStation, window: opts.window, ...opts.loadOptions })
  load.start(Math.min(5000, 2 * opts.stations))
  return { ...partial, load }
}

export interface Settled {
  tally: Tally
  stored: StoredSet
  flushed: boolean
  drained: boolean
}

/**
 * Stops sampling, lets stations re-send until everything is acknowledged,
 * waits for every target to drain, and counts what InfluxDB holds.
 */
export async function settle(ctx: ScenarioContext, rig: Rig, timeoutMs = 240_000): Promise<Settled> {
  rig.load.stopGenerating()
  const flushed = await rig.load.flush(timeoutMs)
  if (!flushed) ctx.say(`  stations could not deliver everything: ${JSON.stringify(rig.load.snapshot())}`)
  const drained = await waitForDrain(rig.platform, timeoutMs)
  if (!drained) ctx.say(`  targets did not drain: ${JSON.stringify(await rig.platform.health())}`)
  const stored = await readStored(rig.influx.url)
  const snap = rig.load.snapshot()
  return { tally: tally(rig.load.ledgers(), stored, snap.resends), stored, flushed, drained }
}

export async function stopRig(ctx: ScenarioContext, rig: Rig, passed: boolean): Promise<void> {
  await rig.load.close()
  await rig.platform.stop()
  await rig.influx.stop()
  await rig.dr?.stop()
  if (passed && !ctx.keep) rmSync(rig.dir, { recursive: true, force: true })
  else ctx.say(`  kept ${rig.dir} (platform.log, spool, influx data)`)
}

/** The Bar, checked on the InfluxDB count. */
export function barFailures(s: Settled): string[] {
  const f: string[] = []
  const t = s.tally
  if (t.lost > 0) f.push(`lost ${t.lost} acknowledged readings (e.g. ${t.lostSample.join(', ')})`)
  if (t.stored !== t.acknowledged) f.push(`stored ${t.stored} != acknowledged ${t.acknowledged}`)
  if (t.phantom > 0) f.push(`${t.phantom} points in InfluxDB that no station published`)
  if (!s.flushed) f.push(`stations still hold ${t.published - t.acknowledged} unacknowledged readings`)
  if (!s.drained) f.push('targets did not drain to lag 0')
  return f
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms))
}

export interface Extra {
  extraFailures?: string[]
  drainRatio?: number
  drMatches?: boolean
  maxPending?: number
}

/** Runs `fn`, always stopping the rig; the result carries the duration. */
export async function withRig(
  ctx: ScenarioContext,
  id: number,
  name: string,
  opts: RigOptions,
  body: (rig: Rig, notes: string[]) => Promise<Extra | void>,
  verify?: (rig: Rig, settled: Settled, notes: string[]) => Promise<Extra>,
): Promise<ScenarioResult> {
  const started = Date.now()
  ctx.say(`[${id}] ${name}: ${opts.stations} stations × ${opts.ratePerStation}/s`)
  const rig = await startRig(ctx, { ...opts, id })
  const notes: string[] = []
  let result: ScenarioResult | undefined
  try {
    const extra = (await body(rig, notes)) ?? {}
    const settled = await settle(ctx, rig)
    if (verify) {
      const more = await verify(rig, settled, notes)
      Object.assign(extra, { ...more, extraFailures: [...(extra.extraFailures ?? []), ...(more.extraFailures ?? [])] })
    }
    const failures = [...barFailures(settled), ...(extra.extraFailures ?? [])]
    result = {
      id,
      name,
      ...settled.tally,
      durationMs: Date.now() - started,
      notes,
      failures,
      drainRatio: extra.drainRatio,
      drMatches: extra.drMatches,
      maxPending: extra.maxPending,
    }
    return result
  } finally {
    await stopRig(ctx, rig, Boolean(result && result.failures.length === 0))
    if (result) result.durationMs = Date.now() - started
  }
}
