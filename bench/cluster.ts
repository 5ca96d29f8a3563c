/**
 * `node bin/run-ts.js bench/cluster.ts [--stations N] [--rate R] [--seconds S] [--window W]`
 *
 * Acknowledged readings/s through 1 edge and through 2 edges (HAProxy) of a
 * local cluster (cluster/local/cluster.ts: 3 nats-server R3, 2 writers per
 * target, 2 influxd), with zero loss: after each run every acknowledged
 * reading is looked up in BOTH InfluxDBs. Readings are single QoS 1 publishes
 * from real MQTT clients, each station keeping W unacknowledged on the wire.
 * Everything (load generator included) shares this machine: the figures are
 * a floor for per-node sizing, printed with nproc and the load average.
 */
import { cpus, loadavg } from 'node:os'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { startLocalCluster } from '../cluster/local/cluster.ts'
import { LoadGenerator } from '../tests/chaos/lib/load.ts'
import { readStored, tally } from '../tests/chaos/lib/ledger.ts'
import { until } from '../tests/chaos/cluster-scenarios.ts'

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { stations: { type: 'string', default: '200' }, seconds: { type: 'string', default: '20' }, window: { type: 'string', default: '20' }, rate: { type: 'string', default: '20' }, 'node-bin': { type: 'string' } },
})
const stations = Number(values.stations)
const seconds = Number(values.seconds)
const window = Number(values.window)
/** Offered readings/s per station: above what the cluster acknowledges, but not so far above that the backlog after the run dwarfs the run. */
const ratePerStation = Number(values.rate)
const dir = mkdtempSync(join(tmpdir(), 'tidewatch-bench-cluster-'))
const say = (m: string): void => void process.stderr.write(`${m}\n`)

say(`machine: nproc ${cpus().length}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} (shared with other work)`)
const cluster = await startLocalCluster({ dir, apis: 0, stations: 0, simulator: false, nodeBin: values['node-bin'], nodeLogLevel: 'warn' })
const rows: string[] = []
try {
  let run = 0
  for (const [label, url] of [
    ['1 edge', `mqtt://127.0.0.1:${cluster.edges[0]!.spec.readyPort}`],
    ['2 edges (HAProxy)', cluster.haproxy.mqttUrl],
  ] as const) {
    run++
    const ids = Array.from({ length: stations }, (_, i) => `bench-${run}-${String(i).padStart(4, '0')}`)
    const creds = await cluster.addStations(ids)
    const load = new LoadGenerator({ url, stations: creds, ratePerStation, window })
    load.start(1000)
    await until(() => load.snapshot().connected === stations, 60_000)
    await new Promise((r) => setTimeout(r, 3000))
    const a0 = load.snapshot().acked
    const t0 = Date.now()
    await new Promise((r) => setTimeout(r, seconds * 1000))
    const rate = ((load.snapshot().acked - a0) * 1000) / (Date.now() - t0)
    const la = loadavg()[0]!.toFixed(2)
    load.stopGenerating()
    await load.flush(300_000)
    const acked = load.snapshot().acked
    const set = new Set(ids)
    const count = async (u: string) => tally(load.ledgers(), new Map([...(await readStored(u, cluster.database))].filter(([s]) => set.has(s))), 0)
    await until(async () => (await count(cluster.influx.primary.url)).stored >= acked && (await count(cluster.influx.dr.url)).stored >= acked, 600_000, 2000)
    const p = await count(cluster.influx.primary.url)
    const d = await count(cluster.influx.dr.url)
    rows.push(`| ${label} | ${stations} × window ${window} | ${rate.toFixed(0)} | ${acked} | ${p.stored} / lost ${p.lost} | ${d.stored} / lost ${d.lost} | ${la} |`)
    say(rows.at(-1)!)
    await load.close()
  }
} finally {
  await cluster.stop()
  rmSync(dir, { recursive: true, force: true })
}
process.stdout.write(
  [`nproc ${cpus().length}; load average during each run in the last column (the machine is shared)`, '| through | stations × unacked window | acknowledged readings/s | acknowledged | stored DC | stored DR | load 1m |', '|---|---|---|---|---|---|---|', ...rows, ''].join('\n'),
)
