/**
 * Issue 16 chaos scenario 6, short: kill -9 of the active alerter during a
 * salinity incident. Real 3-node NATS JetStream cluster (Debian's
 * nats-server), two `tidewatch alerter` CHILD PROCESSES (so the kill is a real
 * SIGKILL), a real SMSC (smpp.createServer, tests/alerts/smsc.ts) counting
 * submit_sm per recipient. Readings go into the readings log as an edge
 * publishes them (LogPublisher, ingest/points.ts lines).
 *
 * What each farmer must get is what one uninterrupted alerter would send:
 * the same readings through a single-process createAlerter (the oracle),
 * each "sent" at once. The failover time is printed, never asserted.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jetstream } from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { createAlerter } from '../../alerts/alerter.ts'
import { migrateAlerts } from '../../alerts/store.ts'
import { Subscribers } from '../../alerts/subscribers.ts'
import { openAlerterBuckets, SharedAlerterState } from '../../cluster/alerter/shared-state.ts'
import { ensureReadingsLog, LogPublisher } from '../../cluster/log/readings-stream.ts'
import { startNatsCluster, type NatsCluster } from '../../cluster/local/nats.ts'
import { loadConfig, type Config } from '../../core/config.ts'
import { silentLogger } from '../../core/log.ts'
import type { AcceptedReading } from '../../core/reading.ts'
import { Registry } from '../../devices/registry.ts'
import { readingLines } from '../../ingest/points.ts'
import { tempDir } from '../helpers/platform.ts'
import { smppConfig } from '../alerts/helpers.ts'
import { startSmsc } from '../alerts/smsc.ts'
import { followJsonLogs } from './cluster-nodes.ts'

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const STATION = 'CM-LUA1'
const FARMERS = ['+84910000001', '+84910000002', '+84910000003']
const STREAM = 'TW_ALERTER_FAILOVER'

/**
 * A rice station (levels/zones.ts RICE_SALINITY: warning 2 ‰ clears at 1,
 * danger 4 ‰ (Decision 18/2021/QĐ-TTg) clears at 3, rise +1 ‰ within 1 h;
 * two readings to fire a level), one reading a minute.
 * Before the kill: the rise and the warning fire. Published just before the
 * kill: 3.5 ‰, no transition (whether the dead leader got to it or not).
 * After: danger fires, de-escalates to warning (suppressed: same level within
 * the anti-spam window), then everything clears.
 */
const BEFORE_KILL = [1.0, 1.2, 2.5, 2.6, 2.7]
const AT_KILL = [3.5]
const AFTER_KILL = [4.5, 4.6, 4.8, 2.8, 2.6, 0.8]

interface Child {
  proc: ChildProcess
  logs: Array<Record<string, unknown>>
  node: string
}

describe('cluster alerter failover (issue 16 scenario 6, short)', () => {
  const tmp = tempDir('tidewatch-alerter-failover-')
  let nats: NatsCluster
  let nc: NatsConnection
  let smsc: Awaited<ReturnType<typeof startSmsc>>
  const children: Child[] = []

  beforeAll(async () => {
    ;[nats, smsc] = await Promise.all([startNatsCluster({ dir: join(tmp.dir, 'nats'), nodes: 3 }), startSmsc()])
    await nats.ready()
    nc = await connect({ servers: [...nats.servers] })
  }, 60_000)

  afterAll(async () => {
    // The nodes' own account, for whoever reads a failure.
    if (process.env.TIDEWATCH_TEST_DUMP === '1') for (const c of children) console.log(c.node, c.logs.map((l) => JSON.stringify(l)).join('\n'))
    for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL')
    await nc?.close()
    await nats?.stop()
    await smsc?.close()
    tmp.cleanup()
  })

  it('each farmer gets each SMS exactly once when the active alerter is killed mid-incident', async () => {
    const configFile = join(tmp.dir, 'config.json')
    writeFileSync(
      configFile,
      JSON.stringify({
        // The SMPP tests' alerter settings (short retries and reconnects), as the nodes' config file.
        alerts: smppConfig(smsc.port),
        cluster: { nats: { stream: STREAM, subjectPrefix: 'tw_alerter', replicas: 3, publishTimeoutMs: 2000 } },
      }),
    )
    const env = (dataDir: string, node: string): Record<string, string> => ({
      TIDEWATCH_CONFIG: configFile,
      TIDEWATCH_DATA_DIR: dataDir,
      TIDEWATCH_NATS_SERVERS: nats.servers.join(','),
      TIDEWATCH_NODE_ID: node,
      TIDEWATCH_LOG_LEVEL: 'info',
    })
    const config = loadConfig({ env: env(join(tmp.dir, 'test'), 'test') })

    // One registry (station, farmers) copied to each node: the same subscriber ids everywhere.
    const template = join(tmp.dir, 'template', 'registry.db')
    mkdirSync(dirname(template), { recursive: true })
    const registry = Registry.open(template)
    await registry.add({ id: STATION, name: 'Trạm ruộng lúa Cái Nước', commune: 'Cái Nước', lat: 8.95, lon: 105.0, sensors: ['salinity'] })
    migrateAlerts(registry.db)
    const subs = new Subscribers(registry.db)
    for (const phone of FARMERS) subs.create({ phone, stations: [STATION] }, Date.now())
    registry.close()
    const dataDirOf = (name: string): string => {
      const dir = join(tmp.dir, name)
      mkdirSync(dir, { recursive: true })
      copyFileSync(template, join(dir, 'registry.db'))
      return dir
    }

    const start = (node: string): Child => {
      const proc = spawn(process.execPath, [join(REPO, 'bin/tidewatch.js'), 'alerter'], {
        cwd: REPO,
        env: { ...process.env, ...env(dataDirOf(node), node), TIDEWATCH_FROM_SOURCE: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      const child: Child = { proc, logs: followJsonLogs(proc), node }
      children.push(child)
      return child
    }
    const logged = (c: Child, msg: string): Record<string, unknown> | undefined => c.logs.find((l) => l.msg === msg)

    // The log exists before the nodes, as the edges make it.
    await ensureReadingsLog(nc, config, { log: silentLogger, targets: [] })
    const publisher = new LogPublisher(jetstream(nc), { subjectPrefix: 'tw_alerter', nodeId: 'test-edge', timeoutMs: 5000, maxPayloadBytes: nc.info!.max_payload })
    const base = Date.now() - 15 * 60_000
    const all = [...BEFORE_KILL, ...AT_KILL, ...AFTER_KILL].map((v, i): AcceptedReading => {
      const ts = base + i * 60_000
      return { stationId: STATION, ts, receivedAt: ts + 1000, late: false, values: [{ sensor: 'salinity', value: v, raw: v, flags: [] }] }
    })
    const publish = async (rs: AcceptedReading[]): Promise<void> => {
      for (const r of rs) await publisher.publishLines('live', readingLines(r), r.receivedAt)
    }

    const a = start('alerter-a')
    await waitFor(() => !!logged(a, 'took over the alerter lease'), 'alerter-a leads', 30_000)
    const b = start('alerter-b')
    await waitFor(() => !!logged(b, 'alerter node started; waiting for the lease'), 'alerter-b stands by', 30_000)

    const expected = await oracle(config, template, all, tmp.dir)
    // The SMPP channel may write the destination without the "+" (international TON): compare digits.
    const perFarmer = (): Map<string, string[]> => new Map([...smsc.messages()].map(([to, texts]) => [`+${to.replace(/^\+/, '')}`, texts]))
    const expectedBefore = await oracle(config, template, all.slice(0, BEFORE_KILL.length), join(tmp.dir, 'before'))

    await publish(all.slice(0, BEFORE_KILL.length))
    await waitFor(() => FARMERS.every((f) => (perFarmer().get(f)?.length ?? 0) >= expectedBefore.get(f)!.length), 'the SMS before the kill', 20_000)
    // Kill outside the claim window (claimed, not yet recorded sent), which the docs state apart.
    const shared = new SharedAlerterState(await openAlerterBuckets(nc, { stream: STREAM, replicas: 3, leaseTtlMs: 5000 }), 'main')
    await waitFor(async () => (await shared.loadOutbox()).every((o) => o.entry.status !== 'claimed'), 'sends recorded in KV', 10_000)

    await publish(all.slice(BEFORE_KILL.length, BEFORE_KILL.length + AT_KILL.length))
    const killedAt = Date.now()
    a.proc.kill('SIGKILL')
    await new Promise((r) => a.proc.once('exit', r))
    // Readings come a minute apart: the danger is sent before the water clears. (All at
    // once, the all-clear in the same batch would cancel the queued danger, as it should.)
    const afterKill = all.slice(BEFORE_KILL.length + AT_KILL.length)
    await publish(afterKill.slice(0, 2))
    const expectedDanger = await oracle(config, template, all.slice(0, BEFORE_KILL.length + AT_KILL.length + 2), join(tmp.dir, 'danger'))
    await waitFor(() => FARMERS.every((f) => (perFarmer().get(f)?.length ?? 0) >= expectedDanger.get(f)!.length), 'the danger SMS from the new leader', 30_000)
    await publish(afterKill.slice(2))

    const total = (m: Map<string, string[]>): number => [...m.values()].reduce((s, l) => s + l.length, 0)
    await waitFor(() => total(perFarmer()) >= total(expected), 'every expected SMS after the failover', 30_000).catch(async (err) => {
      if (process.env.TIDEWATCH_TEST_DUMP === '1') console.log('DEBUG', total(perFarmer()), total(expected), JSON.stringify((await shared.loadOutbox()).map((o) => [o.entry.status, o.entry.row.kind, o.entry.row.level, o.entry.row.status, o.entry.term])))
      throw err
    })
    // Room for a duplicate to show up.
    await new Promise((r) => setTimeout(r, 1500))

    const took = logged(b, 'took over the alerter lease')
    const first = logged(b, 'first evaluation as leader')
    const failover = first?.failoverMs ?? null
    console.log(
      `alerter failover: lease expiry -> first evaluation by the new leader ${failover === null ? 'n/a' : `${failover} ms`}; ` +
        `kill -9 -> first evaluation ${first ? `${(first.at as number) - killedAt} ms` : 'n/a'}; took over term ${took?.term}; ` +
        `SMS per farmer ${FARMERS.map((f) => perFarmer().get(f)?.length ?? 0).join('/')} (expected ${FARMERS.map((f) => expected.get(f)?.length ?? 0).join('/')})`,
    )
    for (const f of FARMERS) {
      const want = expected.get(f) ?? []
      expect(want.length, `farmer ${f} has expected messages`).toBeGreaterThanOrEqual(4)
      expect([...(perFarmer().get(f) ?? [])].sort(), `farmer ${f}`).toEqual([...want].sort())
    }
    expect(first, 'the standby evaluated as leader').toBeDefined()
  }, 90_000)
})

/**
 * The reference: one single-process alerter, the same registry, the same
 * readings at their arrival times, every queued message "sent" at once (so
 * the anti-spam window and the all-clear see it). Texts per phone number.
 */
async function oracle(config: Readonly<Config>, template: string, readings: AcceptedReading[], dir: string): Promise<Map<string, string[]>> {
  mkdirSync(dir, { recursive: true })
  const file = join(dir, 'oracle.db')
  copyFileSync(template, file)
  const registry = Registry.open(file)
  let now = 0
  const alerter = await createAlerter({ db: registry.db, registry, config: config.alerts, log: silentLogger, clock: () => now })
  const sent = registry.db.prepare(`UPDATE alert_outbox SET status = 'submitted' WHERE status = 'queued'`)
  for (const r of readings) {
    now = r.receivedAt
    alerter.onAccepted([r])
    alerter.flush()
    sent.run()
  }
  const out = new Map<string, string[]>()
  for (const m of alerter.messages({ limit: 1000 })) {
    if (m.status !== 'submitted') continue
    out.set(m.address, [...(out.get(m.address) ?? []), m.text])
  }
  registry.close()
  return out
}

async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}
