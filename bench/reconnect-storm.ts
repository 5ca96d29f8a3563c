/**
 * Reconnect storm (issue 13): every station connects at once to a freshly
 * started `tidewatch up` (child process, real influxd), as after a 4G outage
 * or a platform restart, when no credential is cached. Prints the time until
 * all are connected, then restarts the platform and measures the storm again
 * (nothing survives a restart but the registry).
 *
 * Stations are real MQTT.js clients in worker processes (bench/lib/fleet.ts),
 * each with its own TCP connection, all CONNECTs in the air at once
 * (--concurrency caps them per worker process).
 *
 * --legacy stores every station's secret as a pre-issue-13 scrypt hash: the
 * first storm then pays one scrypt per station (on the broker's password
 * worker, whose queue holds `mqtt.auth.verifyQueue` = 256 checks, so the
 * concurrency is kept below that) and migrates each hash to the fast one;
 * the storm after the restart shows the migrated figure.
 *
 *   node bin/run-ts.js bench/reconnect-storm.ts [--stations 10000] [--workers 2] [--concurrency N] [--legacy] [--cpu-prof DIR]
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { startManagedInflux } from '../influx/managed.ts'
import { hashPassword, hashScheme } from '../core/password.ts'
import { Registry } from '../devices/registry.ts'
import { Fleet, type StationCred } from './lib/fleet.ts'
import { percentiles } from './lib/influx.ts'
import { startPlatformChild, type PlatformChild } from './lib/platform.ts'
import { ProcSampler } from './lib/procstat.ts'
import { provision } from './lib/stations.ts'

const { values: args } = parseArgs({
  options: {
    stations: { type: 'string', default: '10000' },
    workers: { type: 'string' },
    concurrency: { type: 'string' },
    legacy: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
  },
})
const n = Number(args.stations)
// One client process per 5,000 stations: MQTT.js keeps ~40 kB per client.
const workers = Number(args.workers ?? Math.max(2, Math.ceil(n / 5000)))
const legacy = args.legacy!
// Legacy: stay under the scrypt worker's queue (256, core/config.ts) so no
// station is refused with CONNACK 3 (the bench's clients do not retry).
const concurrency = Number(args.concurrency ?? (legacy ? Math.floor(200 / workers) : Math.ceil(n / workers)))
const say = (m: string): void => console.log(`[storm ${new Date().toISOString().slice(11, 19)}] ${m}`)

interface Storm {
  connected: number
  failed: number
  /** CPU % (100 = one core) during the storm: the platform, and the station processes together. */
  cpu: { platform: number; stations: number; machineLoad: string }
  /** The broker's refusals by reason (/metrics). */
  refused: Record<string, number>
  brokerSaw: number
  wallMs: number
  connectMs: ReturnType<typeof percentiles>
}

async function storm(platform: PlatformChild, creds: StationCred[]): Promise<Storm> {
  const fleet = await Fleet.start(creds, workers)
  try {
    const sampler = new ProcSampler().add('platform', platform.pid)
    fleet.pids.forEach((pid, i) => sampler.add(`stations#${i}`, pid))
    sampler.start()
    const c = await fleet.connect({ host: '127.0.0.1', port: platform.mqttPort, concurrency, keepaliveSec: 300 })
    const usage = sampler.stop()
    const cpu = {
      platform: usage.find((u) => u.name === 'platform')?.cpuPercent ?? NaN,
      stations: usage.filter((u) => u.name.startsWith('stations')).reduce((a, u) => a + u.cpuPercent, 0),
      machineLoad: loadavg()[0]!.toFixed(1),
    }
    const health = await platform.health()
    const refused = Object.fromEntries([...(await platform.metrics())].filter(([k, v]) => k.startsWith('tidewatch_mqtt_connects_refused_total') && v > 0).map(([k, v]) => [/reason="([^"]+)"/.exec(k)?.[1] ?? k, v]))
    return { connected: c.connected, failed: c.failed, cpu, refused, brokerSaw: health?.components.broker?.connectedClients ?? 0, wallMs: c.wallMs, connectMs: percentiles(c.connectMs) }
  } finally {
    await fleet.close()
  }
}

function describe(label: string, s: Storm): string {
  return `${label}: ${s.connected.toLocaleString('en-US')} of ${n.toLocaleString('en-US')} connected in ${(s.wallMs / 1000).toFixed(1)} s (broker saw ${s.brokerSaw}, refused/closed ${s.failed}, broker refusals ${JSON.stringify(s.refused)}); CONNECT→CONNACK p50 ${s.connectMs.p50} ms, p99 ${s.connectMs.p99} ms; CPU platform ${s.cpu.platform} %, stations ${s.cpu.stations} %, 1-min load ${s.cpu.machineLoad}`
}

const root = mkdtempSync(join(tmpdir(), 'tw-storm-'))
const influx = await startManagedInflux({ dir: join(root, 'influxdb') })
try {
  const dir = join(root, 'platform')
  const dataDir = join(dir, 'data')
  mkdirSync(dataDir, { recursive: true })
  const [creds] = await provision(join(root, 'registries'), dataDir, [{ prefix: 'rs-', count: n }])
  const registry = Registry.open(join(dataDir, 'registry.db'))
  if (legacy) {
    // Every bench station shares one secret (bench/lib/stations.ts); one scrypt hash serves all.
    registry.db.prepare("UPDATE stations SET password_hash = ? WHERE id LIKE 'rs-%'").run(await hashPassword(creds![0]!.password))
  }
  const schemes = (): string =>
    JSON.stringify(Object.fromEntries((registry.db.prepare("SELECT password_hash AS h FROM stations WHERE id LIKE 'rs-%'").all() as Array<{ h: string }>).reduce((m, r) => m.set(hashScheme(r.h) ?? '?', (m.get(hashScheme(r.h) ?? '?') ?? 0) + 1), new Map<string, number>())))
  say(`machine: ${cpus().length} cores, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}; ${n} stations, ${workers} client processes, ${concurrency} CONNECTs in the air per process; hashes ${schemes()}`)

  const nodeArgs = args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${args['cpu-prof']}`] : []
  let platform = await startPlatformChild({ dir, influxUrl: influx.url, nodeArgs })
  const first = await storm(platform, creds!)
  say(describe('storm 1 (fresh platform)', first))
  say(`hashes after storm 1: ${schemes()}`)
  await platform.stop()
  platform = await startPlatformChild({ dir, influxUrl: influx.url, nodeArgs })
  const second = await storm(platform, creds!)
  say(describe('storm 2 (after a platform restart)', second))
  await platform.stop()
  registry.close()
  say(`load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`)
  const bar = Math.max(first.wallMs, second.wallMs) <= 15_000 && first.connected === n && second.connected === n
  say(`bar "10,000 stations connecting at once are all connected within 15 s": ${n >= 10_000 ? (bar ? 'holds' : 'FAILS') : 'not applicable (fewer than 10,000 stations)'}`)
  process.exitCode = first.connected === n && second.connected === n ? 0 : 1
} finally {
  await influx.stop()
  if (!args.keep) rmSync(root, { recursive: true, force: true })
}
