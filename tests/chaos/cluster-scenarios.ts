/**
 * The cluster chaos scenarios of issue 16, against a local cluster of real
 * processes (cluster/local/cluster.ts): 3 nats-server (n1, n2 at DC, n3 at
 * DR), PostgreSQL, influxd "primary" (DC) and "dr" (DR), 2 edges behind
 * HAProxy, 2 writers per target, each tidewatch node its own child process.
 * Real MQTT station clients (lib/load.ts) publish through HAProxy and keep a
 * ledger of PUBACKs; the verdict is counted in BOTH InfluxDBs: stored =
 * acknowledged, lost = 0.
 *
 * Numbered 11–17 after issue 16's scenarios 1–7 (1–7 are the single-process
 * ones of issue 3). 16, the alerter failover, needs its own set-up: it is
 * tests/cluster/alerter-failover.test.ts, which cluster-run.ts runs as 16.
 *
 * Sizes: `test` runs inside `npm test` (seconds per scenario, a few hundred
 * readings); `short` is `npm run chaos -- --short`; `full` is `npm run chaos`.
 */
import type { LocalCluster, StationSecret } from '../../cluster/local/cluster.ts'
import { LoadGenerator } from './lib/load.ts'
import { readStored, tally, type StoredSet, type Tally } from './lib/ledger.ts'
import { sleep, type Mode, type ScenarioResult } from './lib/harness.ts'

export interface ClusterScenarioContext {
  cluster: LocalCluster
  mode: Mode
  say(msg: string): void
}

export interface ClusterScenario {
  id: number
  name: string
  run(ctx: ClusterScenarioContext): Promise<ClusterScenarioResult>
}

export interface ClusterScenarioResult extends ScenarioResult {
  /** The same count in the DR InfluxDB (the main fields are the primary's). */
  dr: Tally
}

interface Size {
  stations: number
  /** Readings per second per station. */
  rate: number
  /** Acknowledged readings before the damage, and after it while it lasts. */
  before: number
  during: number
  /** How long an outage lasts (influxd stopped, a link cut). */
  outageMs: number
}

const SIZES: Record<Mode, Size> = {
  test: { stations: 8, rate: 5, before: 60, during: 80, outageMs: 3000 },
  short: { stations: 50, rate: 2, before: 500, during: 1000, outageMs: 20_000 },
  // Issue 16: DC's influxd stopped for 60 s.
  full: { stations: 200, rate: 2, before: 2000, during: 5000, outageMs: 60_000 },
}

/** Waits until `check` holds, polling; false after `timeoutMs`. */
export async function until(check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return true
    if (Date.now() > deadline) return false
    await sleep(everyMs)
  }
}

/** The stored points of these stations only (each scenario has its own stations). */
function only(stored: StoredSet, ids: ReadonlySet<string>): StoredSet {
  return new Map([...stored].filter(([station]) => ids.has(station)))
}

let stationBlock = 0

/**
 * Registers a scenario's own stations, runs the load through HAProxy, does
 * `damage`, then lets every station re-send until all it generated is
 * acknowledged and both InfluxDBs hold it (or the time runs out), and counts.
 */
async function underLoad(
  ctx: ClusterScenarioContext,
  id: number,
  name: string,
  damage: (load: LoadGenerator, size: Size, notes: string[], failures: string[]) => Promise<void>,
): Promise<ClusterScenarioResult> {
  const started = Date.now()
  const size = SIZES[ctx.mode]
  const { cluster } = ctx
  const block = ++stationBlock
  const ids = Array.from({ length: size.stations }, (_, i) => `cx-${id}-${block}-${String(i).padStart(3, '0')}`)
  const stations: StationSecret[] = await cluster.addStations(ids)
  const load = new LoadGenerator({ url: cluster.haproxy.mqttUrl, stations, ratePerStation: size.rate, backoff: { minMs: 100, maxMs: 2000 } })
  const notes: string[] = []
  const failures: string[] = []
  // Where a scenario's time goes (printed with its notes): load up, damage, re-sends, both InfluxDBs complete.
  const phases: string[] = []
  let mark = Date.now()
  const phase = (name: string): void => {
    phases.push(`${name} ${((Date.now() - mark) / 1000).toFixed(1)} s`)
    mark = Date.now()
  }
  load.start(500)
  try {
    if (!(await ackedMore(load, size.before, 60_000))) failures.push(`only ${load.snapshot().acked} acknowledged before the damage`)
    phase('load')
    await damage(load, size, notes, failures)
    phase('damage')
    load.stopGenerating()
    if (!(await load.flush(120_000))) failures.push(`${load.snapshot().pending} readings never acknowledged`)
    phase('re-sends')
    const acked = load.snapshot().acked
    const set = new Set(ids)
    const count = async (url: string): Promise<Tally> => tally(load.ledgers(), only(await readStored(url, cluster.database), set), load.snapshot().resends)
    const complete = await until(async () => (await count(cluster.influx.primary.url)).stored >= acked && (await count(cluster.influx.dr.url)).stored >= acked, 120_000, 500)
    if (!complete) failures.push('not every acknowledged reading reached both InfluxDBs within 120 s')
    phase('stored')
    const primary = await count(cluster.influx.primary.url)
    const dr = await count(cluster.influx.dr.url)
    for (const [target, t] of [['primary', primary], ['dr', dr]] as const) {
      if (t.lost > 0) failures.push(`${target}: lost ${t.lost} (${t.lostSample.join(', ')})`)
      if (t.stored !== t.acknowledged) failures.push(`${target}: stored ${t.stored} != acknowledged ${t.acknowledged}`)
      if (t.phantom > 0) failures.push(`${target}: ${t.phantom} phantom points`)
    }
    const snap = load.snapshot()
    notes.push(`DR: stored ${dr.stored}, lost ${dr.lost}; stations reconnected ${snap.connects - stations.length} times`, `time: ${phases.join(', ')}`)
    return { id, name, ...primary, dr, durationMs: Date.now() - started, notes, failures, maxPending: load.maxPending }
  } finally {
    await load.close()
  }
}

/** Resolves true once `n` more readings are acknowledged. */
function ackedMore(load: LoadGenerator, n: number, timeoutMs = 60_000): Promise<boolean> {
  const target = load.snapshot().acked + n
  return until(() => load.snapshot().acked >= target, timeoutMs, 50)
}

const edgeKill: ClusterScenario = {
  id: 11,
  name: 'cluster: kill -9 of an edge',
  run: (ctx) =>
    underLoad(ctx, 11, edgeKill.name, async (load, size, notes, failures) => {
      const victim = ctx.cluster.edges[0]!
      const before = await ctx.cluster.haproxy.servers()
      ctx.say(`  kill -9 ${victim.spec.name} (sessions: ${before.filter((s) => s.backend === 'edges').map((s) => `${s.server}=${s.sessions}`).join(', ')})`)
      await victim.kill('SIGKILL')
      // Its stations reconnect through HAProxy to the other edge and go on.
      if (!(await ackedMore(load, size.during))) failures.push(`acknowledgements stopped after the edge died (${load.snapshot().acked})`)
      const after = await ctx.cluster.haproxy.servers()
      notes.push(`after kill: ${after.filter((s) => s.backend === 'edges').map((s) => `${s.server} ${s.status} ${s.sessions} sessions`).join(', ')}`)
      // Back, so what it acknowledged from its spool (if anything) is forwarded.
      await victim.start()
    }),
}

const natsKill: ClusterScenario = {
  id: 12,
  name: 'cluster: kill -9 of one NATS node',
  run: (ctx) =>
    underLoad(ctx, 12, natsKill.name, async (load, size, _notes, failures) => {
      const victim = ctx.cluster.nats.nodes[0]!
      ctx.say(`  kill -9 nats ${victim.name}`)
      await victim.kill('SIGKILL')
      // R3 keeps a quorum of 2: the log keeps accepting.
      if (!(await ackedMore(load, size.during))) failures.push('acknowledgements stopped with one NATS node down')
      await victim.restart()
    }),
}

const writerKill: ClusterScenario = {
  id: 13,
  name: 'cluster: kill -9 of a writer',
  run: (ctx) =>
    underLoad(ctx, 13, writerKill.name, async (load, size, _notes, failures) => {
      const victim = ctx.cluster.writers.find((w) => w.spec.name.startsWith('writer-primary')) ?? ctx.cluster.writers[0]!
      ctx.say(`  kill -9 ${victim.spec.name}`)
      await victim.kill('SIGKILL')
      // Its unacknowledged messages go to the target's other writer after ack_wait.
      if (!(await ackedMore(load, size.during))) failures.push('acknowledgements stopped with a writer dead')
      await victim.start()
    }),
}

const dcInfluxDown: ClusterScenario = {
  id: 14,
  name: "cluster: DC's influxd stopped",
  run: (ctx) =>
    underLoad(ctx, 14, dcInfluxDown.name, async (load, size, notes, failures) => {
      const { primary, dr } = ctx.cluster.influx
      ctx.say(`  stopping DC influxd for ${size.outageMs / 1000} s`)
      await primary.stop()
      const t0 = Date.now()
      await sleep(size.outageMs)
      // While DC is still down, DR holds everything acknowledged so far (minus what is in flight).
      const ackedNow = load.snapshot().acked
      const drCurrent = await until(async () => {
        const stored = await readStored(dr.url, ctx.cluster.database)
        let n = 0
        for (const [station, points] of stored) if (station.startsWith('cx-14-')) n += points.size
        return n >= ackedNow
      }, 30_000, 200)
      if (!drCurrent) failures.push('DR did not stay current while DC was down')
      notes.push(`DC down ${((Date.now() - t0) / 1000).toFixed(0)} s; DR held the ${ackedNow} readings acknowledged by then: ${drCurrent}`)
      await primary.restart()
    }),
}

const siteCut: ClusterScenario = {
  id: 15,
  name: 'cluster: DC side cut off from DR',
  run: (ctx) =>
    underLoad(ctx, 15, siteCut.name, async (load, size, notes, failures) => {
      const { nats } = ctx.cluster
      const dcNodes = nats.nodes.filter((n) => n.name !== 'n3')
      const drNode = nats.nodes.filter((n) => n.name === 'n3')
      // (a) The DR node alone is cut off: DC holds the quorum (2 of 3) and keeps committing.
      ctx.say('  cut: DR NATS node frozen (SIGSTOP), DC keeps the quorum')
      // The cut lasts at least outageMs, and `during` more readings must be acknowledged within it (or later while it lasts).
      ctx.cluster.freeze(drNode, true)
      const [a] = await Promise.all([ackedMore(load, size.during, size.outageMs + 30_000), sleep(size.outageMs)])
      ctx.cluster.freeze(drNode, false)
      if (!a) failures.push('acknowledgements stopped while DC held the quorum')
      // (b) The quorum side is cut off: the DR side has 1 of 3, no quorum; edges acknowledge from their spools.
      ctx.say('  cut: DC NATS nodes frozen (SIGSTOP), DR side without quorum')
      ctx.cluster.freeze(dcNodes, true)
      const [b] = await Promise.all([ackedMore(load, size.during, size.outageMs + 30_000), sleep(size.outageMs)])
      ctx.cluster.freeze(dcNodes, false)
      if (!b) failures.push('acknowledgements stopped while the log had no quorum (edges should fall back to their spools)')
      notes.push(`acknowledged during (a) DR cut off: ${a}; during (b) no quorum: ${b}`)
      await nats.ready(60_000)
    }),
}

const postgresRestart: ClusterScenario = {
  id: 17,
  name: 'cluster: PostgreSQL restarted',
  run: (ctx) =>
    underLoad(ctx, 17, postgresRestart.name, async (load, size, _notes, failures) => {
      const { postgres } = ctx.cluster
      ctx.say('  kill -9 postgres, then start it again')
      postgres.kill()
      // Connected stations keep publishing: the edges authenticate and validate from their replicas.
      if (!(await ackedMore(load, size.during))) failures.push('acknowledgements stopped while PostgreSQL was down')
      await postgres.restart()
      if (!(await ackedMore(load, size.during))) failures.push('acknowledgements stopped after PostgreSQL came back')
    }),
}

export const clusterScenarios: readonly ClusterScenario[] = [edgeKill, natsKill, writerKill, dcInfluxDown, siteCut, postgresRestart]
