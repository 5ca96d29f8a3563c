/**
 * Issue 16, the spine of cluster mode against real servers: stations publish
 * QoS 1 through an edge (Aedes) whose PUBACK waits for a 3-replica JetStream
 * commit; writers drain each InfluxDB target's consumer. Counted in both
 * InfluxDBs from the stations' ledgers of PUBACKs: lost must be 0.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { jetstreamManager } from '@nats-io/jetstream'
import { LoadGenerator } from '../chaos/lib/load.ts'
import { connectLog } from '../../cluster/log/readings-stream.ts'
import { silentLogger } from '../../core/log.ts'
import { clusterPerFile, scenario, until, type Scenario } from './fixture.ts'
import { explainStall, recentLog, type RecentLog } from './writer-diagnostics.ts'

const world = clusterPerFile()

async function settle(load: LoadGenerator): Promise<void> {
  load.stopGenerating()
  expect(await load.flush(60_000)).toBe(true)
}

/** In-process writers of a scenario (stopped by Scenario.close()), each with its last log lines kept for a failure's explanation. */
interface Writers {
  logs: RecentLog[]
}

/** Scenario.startWriters, each writer logging into a ring that a failed wait prints (TIDEWATCH_TEST_LOG is off in CI). */
async function startWriters(s: Scenario, targets: readonly string[] = ['primary', 'dr']): Promise<Writers> {
  const logs = new Map(targets.map((target) => [target, recentLog()]))
  await s.startWriters(targets, { log: (target) => logs.get(target)!.log })
  return { logs: [...logs.values()] }
}

/** until(), and when it times out, the consumers' state and the writers' last log lines on stderr before the test fails. */
async function waitOrExplain(s: Scenario, writers: Writers | undefined, what: string, check: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<boolean> {
  const done = await until(check, timeoutMs)
  if (!done) await explainStall(what, s.config, ['primary', 'dr'], writers?.logs)
  return done
}

/** Waits until both InfluxDBs hold every acknowledged reading, then checks lost = 0 in each. */
async function expectBothComplete(s: Scenario, load: LoadGenerator, writers?: Writers): Promise<number> {
  const acked = load.snapshot().acked
  await waitOrExplain(s, writers, `waiting for ${acked} readings in both InfluxDBs`, async () => (await s.tallyIn('primary', load)).stored >= acked && (await s.tallyIn('dr', load)).stored >= acked)
  for (const target of ['primary', 'dr'] as const) {
    const t = await s.tallyIn(target, load)
    expect(t, target).toMatchObject({ lost: 0, phantom: 0, acknowledged: acked })
  }
  return acked
}

/** Runs the load until `n` more readings are acknowledged (false if that never happens). */
function ackedMore(load: LoadGenerator, n: number, timeoutMs = 30_000): Promise<boolean> {
  const target = load.snapshot().acked + n
  return until(() => load.snapshot().acked >= target, timeoutMs, 50)
}

/** `tidewatch writer --target NAME` as a child process; resolves once it says it runs. */
async function spawnWriter(s: Scenario, dataDir: string, target: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['bin/tidewatch.js', 'writer', '--target', target], {
    env: { ...process.env, ...s.env(dataDir), TIDEWATCH_FROM_SOURCE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let err = ''
  child.stderr!.on('data', (d: Buffer) => void (err = (err + d.toString()).slice(-2000)))
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      if (String(d).includes('running')) resolve()
    })
    child.once('exit', (code) => reject(new Error(`writer exited with ${code}: ${err}`)))
  })
  return child
}

/** The server that leads the scenario's stream (its RAFT group's leader). */
async function streamLeader(s: Scenario): Promise<string | undefined> {
  const nc = await connectLog(s.config, { name: 'test', log: silentLogger })
  try {
    const jsm = await jetstreamManager(nc)
    return (await jsm.streams.info(s.config.cluster.nats.stream)).cluster?.leader
  } finally {
    await nc.close()
  }
}

describe('edge → JetStream R3 → writers → both InfluxDBs', () => {
  it('every acknowledged reading reaches both InfluxDBs', async () => {
    let writers: Writers | undefined
    const s = await scenario(world, 'happy', 20)
    try {
      const edge = await s.startEdge()
      writers = await startWriters(s)
      const load = new LoadGenerator({ url: edge.mqttUrl, stations: s.stations, ratePerStation: 10 })
      load.start(500)
      await until(() => load.snapshot().acked >= 300, 30_000)
      await settle(load)
      const acked = await expectBothComplete(s, load, writers)
      expect(acked).toBeGreaterThanOrEqual(300)
      const stats = edge.stats()
      expect(stats.log.publishedRecords).toBeGreaterThanOrEqual(acked)
      expect(stats.log.fallbackRecords).toBe(0)
      await load.close()
    } finally {
      await s.close()
    }
  })

  it('kill -9 of the NATS node leading the stream: the edge keeps acknowledging, nothing lost', async () => {
    let writers: Writers | undefined
    const s = await scenario(world, 'kill-leader', 20)
    try {
      const edge = await s.startEdge()
      writers = await startWriters(s)
      const load = new LoadGenerator({ url: edge.mqttUrl, stations: s.stations, ratePerStation: 10 })
      load.start(500)
      expect(await ackedMore(load, 100)).toBe(true)
      const leader = await streamLeader(s)
      const victim = world.nats.nodes.find((n) => n.name === leader) ?? world.nats.nodes[0]!
      await victim.kill('SIGKILL')
      // R3 keeps a quorum of 2: acknowledgements go on (directly, or from the fallback spool during the election).
      expect(await ackedMore(load, 200)).toBe(true)
      await victim.restart()
      await settle(load)
      await expectBothComplete(s, load, writers)
      await load.close()
    } finally {
      await s.close()
    }
  })

  it('all NATS servers down: the edge acknowledges from its spool and forwards everything once they are back', async () => {
    let writers: Writers | undefined
    const s = await scenario(world, 'all-down', 20)
    try {
      const edge = await s.startEdge()
      writers = await startWriters(s)
      const load = new LoadGenerator({ url: edge.mqttUrl, stations: s.stations, ratePerStation: 10 })
      load.start(500)
      expect(await ackedMore(load, 100)).toBe(true)
      await Promise.all(world.nats.nodes.map((n) => n.kill('SIGKILL')))
      expect(await ackedMore(load, 200)).toBe(true)
      expect(edge.stats().log.fallbackRecords).toBeGreaterThan(0)
      expect(edge.stats().log.fallback).toBe(true)
      // Every node at once: one alone never sees a meta leader.
      await Promise.all(world.nats.nodes.map((n) => n.restart()))
      await settle(load)
      expect(await waitOrExplain(s, writers, 'waiting for the edge to forward its spool', () => edge.stats().log.spoolLagRecords === 0 && !edge.stats().log.fallback)).toBe(true)
      await expectBothComplete(s, load, writers)
      await load.close()
    } finally {
      await s.close()
    }
  })

  it('DR influxd stopped: primary stays current, DR catches up after its restart', async () => {
    let writers: Writers | undefined
    const s = await scenario(world, 'dr-down', 20)
    try {
      const edge = await s.startEdge()
      writers = await startWriters(s)
      const load = new LoadGenerator({ url: edge.mqttUrl, stations: s.stations, ratePerStation: 10 })
      load.start(500)
      expect(await ackedMore(load, 100)).toBe(true)
      await world.dr.server.stop()
      expect(await ackedMore(load, 200)).toBe(true)
      load.stopGenerating()
      expect(await load.flush(60_000)).toBe(true)
      const acked = load.snapshot().acked
      // Primary holds everything while DR is still down.
      expect(await waitOrExplain(s, writers, 'waiting for the primary while DR is down', async () => (await s.tallyIn('primary', load)).stored >= acked)).toBe(true)
      expect(await s.tallyIn('primary', load)).toMatchObject({ lost: 0, acknowledged: acked })
      await world.dr.server.restart()
      await expectBothComplete(s, load, writers)
      await load.close()
    } finally {
      await s.close()
    }
  })

  it('two writer processes share a target; kill -9 of one loses nothing', async () => {
    const s = await scenario(world, 'writer-kill', 20)
    const children: ChildProcess[] = []
    let writers: Writers | undefined
    try {
      await s.ensureLog()
      const edge = await s.startEdge()
      writers = await startWriters(s, ['dr'])
      for (const i of [1, 2]) children.push(await spawnWriter(s, join(world.tmp.dir, `writer-kill-w${i}`), 'primary'))
      const load = new LoadGenerator({ url: edge.mqttUrl, stations: s.stations, ratePerStation: 10 })
      load.start(500)
      expect(await ackedMore(load, 150)).toBe(true)
      children[0]!.kill('SIGKILL')
      expect(await ackedMore(load, 200)).toBe(true)
      await settle(load)
      // The survivor takes over what the dead one held, once its ack_wait has passed.
      await expectBothComplete(s, load, writers)
      await load.close()
    } finally {
      for (const c of children) c.kill('SIGTERM')
      await s.close()
    }
  })
})
