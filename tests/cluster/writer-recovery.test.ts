/**
 * A writer must go on draining its target's consumer whatever happened to
 * its pull request: every NATS server SIGKILLed and restarted while it held
 * one open (the reconnect path), its consumer deleted under it (re-created
 * after the last ack floor, not at the stream's start), its consumer's
 * leader moved to another server; and it must not take a slow InfluxDB for
 * a lost pull. Real 3-node JetStream cluster, real InfluxDB; readings are
 * published straight to the log (no edge) and counted in InfluxDB.
 */
import { describe, expect, it } from 'vitest'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/transport-node'
import { connectLog, consumerName, LogPublisher } from '../../cluster/log/readings-stream.ts'
import { startWriter, type WriterHandle } from '../../cluster/writer.ts'
import { silentLogger } from '../../core/log.ts'
import { clusterPerFile, scenario, until, WRITER_ACK_WAIT_MS, type ClusterWorld, type Scenario } from './fixture.ts'
import { explainStall, recentLog, type RecentLog } from './writer-diagnostics.ts'

const world = clusterPerFile()

/**
 * Longer than two of the writer's idle-heartbeat intervals (its pulls expire
 * after 5 s, heartbeats every 2.5 s): the client counts heartbeats as missed
 * only while connected, so this is about the outage outlasting every pull.
 */
const OUTAGE_MS = 6000

/**
 * Longer than the writer's own idea of a lost pull (4 missed heartbeats,
 * 10 s) and several of its write backoffs (capped at 5 s), so a writer that
 * took its own busy wait for missing heartbeats would restart within it.
 */
const INFLUX_OUTAGE_MS = 20_000

interface Rig {
  s: Scenario
  writer: WriterHandle
  logs: RecentLog
  nc: NatsConnection
  publish(from: number, count: number): Promise<void>
  /** Points of the scenario's measurement in the primary InfluxDB. */
  stored(): Promise<number>
  /** Waits until the consumer has nothing pending or unacknowledged (backlog() also shows the writer the ack floor). */
  expectDrained(what: string): Promise<void>
  /** Waits until `n` points are stored; prints the consumers' state and the writer's log if that never happens. */
  expectStored(n: number, what: string): Promise<void>
  close(): Promise<void>
}

async function rig(w: ClusterWorld, name: string): Promise<Rig> {
  const s = await scenario(w, name, 1)
  await s.ensureLog()
  const logs = recentLog()
  const writer = await startWriter({ config: s.config, target: 'primary', log: logs.log, ackWaitMs: WRITER_ACK_WAIT_MS })
  const nc = await connectLog(s.config, { name: 'test-publisher', log: silentLogger })
  const publisher = new LogPublisher(jetstream(nc), { subjectPrefix: s.config.cluster.nats.subjectPrefix, nodeId: `test-${name}`, timeoutMs: 2000, maxPayloadBytes: nc.info?.max_payload ?? 1024 * 1024 })
  const base = Date.UTC(2026, 0, 1)
  const stored = async (): Promise<number> => {
    const q = new URLSearchParams({ db: s.database, q: 'SELECT count(v) FROM recovery' })
    const res = await fetch(`${w.primary.server.url}/query?${q}`)
    if (!res.ok) return 0
    const body = (await res.json()) as { results?: Array<{ series?: Array<{ values?: Array<[string, number]> }> }> }
    return body.results?.[0]?.series?.[0]?.values?.[0]?.[1] ?? 0
  }
  return {
    s,
    writer,
    logs,
    nc,
    // One reading a message, as the edge publishes live readings; retried while JetStream elects its leaders.
    async publish(from, count) {
      for (let i = from; i < from + count; i++) {
        const line = `recovery,station=s1 v=${i} ${base + i * 1000}`
        expect(await until(() => publisher.publishLines('live', [line], Date.now()).then(() => true, () => false), 60_000, 250)).toBe(true)
      }
    },
    stored,
    async expectDrained(what) {
      const done = await until(async () => {
        const b = await writer.backlog().catch(() => undefined)
        return b !== undefined && b.pending === 0 && b.ackPending === 0
      }, 60_000, 250)
      if (!done) await explainStall(what, s.config, ['primary'], [logs])
      expect(done, what).toBe(true)
    },
    async expectStored(n, what) {
      const done = await until(async () => (await stored()) >= n, 60_000, 250)
      if (!done) await explainStall(what, s.config, ['primary'], [logs])
      expect(await stored(), what).toBe(n)
    },
    async close() {
      await writer.stop()
      await nc.close()
      await s.close()
    },
  }
}

describe('cluster writer recovers its consumer', () => {
  it('reconnect path: every NATS server SIGKILLed while the writer holds an open pull, back after its pulls expired: a fresh iterator drains again', async () => {
    const r = await rig(world, 'restart-all')
    try {
      await r.publish(0, 50)
      await r.expectStored(50, 'before the outage')
      // The writer is idle now, waiting on an open pull request.
      await Promise.all(world.nats.nodes.map((n) => n.kill('SIGKILL')))
      await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS))
      // Every node at once: one alone never sees a meta leader.
      await Promise.all(world.nats.nodes.map((n) => n.restart()))
      await r.publish(50, 50)
      await r.expectStored(100, 'after every NATS server restarted')
      expect(r.writer.stats().consumerRestarts).toBeGreaterThan(0)
    } finally {
      await r.close()
    }
  })

  it('its consumer deleted under it: the writer re-creates the consumer and drains what comes after', async () => {
    const r = await rig(world, 'consumer-deleted')
    try {
      await r.publish(0, 20)
      await r.expectStored(20, 'before the delete')
      // The writer sees the ack floor (20) once all 20 are acknowledged.
      await r.expectDrained('before the delete')
      const writtenBefore = r.writer.stats().writtenMessages
      const jsm = await jetstreamManager(r.nc)
      await jsm.consumers.delete(r.s.config.cluster.nats.stream, consumerName('primary'))
      await r.publish(20, 20)
      await r.expectStored(40, 'after the consumer was deleted')
      // Re-created after the ack floor, not at the stream's first message: the 20 new ones (and at most a few re-deliveries), not all 40 again.
      const writtenAfter = r.writer.stats().writtenMessages - writtenBefore
      expect(writtenAfter).toBeGreaterThanOrEqual(20)
      expect(writtenAfter).toBeLessThan(40)
      expect(r.writer.stats().consumerRestartsByReason.consumer_missing).toBeGreaterThan(0)
    } finally {
      await r.close()
    }
  })

  it("its consumer's leader moved to another server (the open pull is gone with it): it drains again", async () => {
    const r = await rig(world, 'leader-moved')
    try {
      await r.publish(0, 20)
      await r.expectStored(20, 'before the step-down')
      const { stream } = r.s.config.cluster.nats
      const jsm = await jetstreamManager(r.nc)
      const leaderNow = async (): Promise<string | undefined> => (await jsm.consumers.info(stream, consumerName('primary')).catch(() => undefined))?.cluster?.leader
      const leaderBefore = await leaderNow()
      expect(leaderBefore).toBeDefined()
      // The JetStream API's consumer step-down ($JS.API.CONSUMER.LEADER.STEPDOWN), which @nats-io/jetstream 3.4 does not wrap.
      const reply = await r.nc.request(`$JS.API.CONSUMER.LEADER.STEPDOWN.${stream}.${consumerName('primary')}`, '', { timeout: 5000 })
      expect(reply.json<{ success?: boolean; error?: unknown }>()).toMatchObject({ success: true })
      expect(await until(async () => ((await leaderNow()) ?? leaderBefore) !== leaderBefore, 30_000, 250)).toBe(true)
      await r.publish(20, 20)
      await r.expectStored(40, 'after the consumer leader moved')
    } finally {
      await r.close()
    }
  })

  it('its InfluxDB stopped for ~20 s under live load: the writer keeps its iterator (no restart) and stores everything once InfluxDB is back', async () => {
    const r = await rig(world, 'influx-outage')
    try {
      await r.publish(0, 20)
      await r.expectStored(20, 'before the outage')
      await world.primary.server.stop()
      // Live load through the outage: writes fail, messages are nak'd and come back, while the client's re-pulls wait behind them.
      let next = 20
      const outageEnds = Date.now() + INFLUX_OUTAGE_MS
      while (Date.now() < outageEnds) {
        await r.publish(next++, 1)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      await world.primary.server.restart()
      await r.publish(next, 20)
      next += 20
      await r.expectStored(next, 'after InfluxDB came back')
      expect(r.writer.stats().consumerRestarts).toBe(0)
    } finally {
      await r.close()
    }
  })
})
