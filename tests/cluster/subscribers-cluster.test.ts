/**
 * Issue 16, subscribers in cluster mode, end to end with nothing faked:
 * a real PostgreSQL 15, a real 3-node NATS JetStream cluster, two API nodes
 * composed as `tidewatch api` composes them (cli/commands/up.ts runPlatform:
 * registry mirror + platform), two `tidewatch alerter` CHILD PROCESSES
 * following PostgreSQL, a real SMSC (smpp.createServer) counting SMS, and the
 * real CLI (bin/tidewatch.js) in cluster mode.
 *
 * A farmer subscribed through node A's API is read back at once on node A,
 * reaches node B and the leading alerter through PostgreSQL, and gets the
 * alert SMS from the leader. Delays are printed, never asserted.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jetstream } from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { runPlatform } from '../../cli/commands/up.ts'
import { PostgresMetadataRepository } from '../../cluster/metadata/postgres.ts'
import { ensureReadingsLog, LogPublisher } from '../../cluster/log/readings-stream.ts'
import { startNatsCluster, type NatsCluster } from '../../cluster/local/nats.ts'
import { loadConfig } from '../../core/config.ts'
import { silentLogger } from '../../core/log.ts'
import type { AcceptedReading } from '../../core/reading.ts'
import { freePort } from '../../influx/managed.ts'
import { readingLines } from '../../ingest/points.ts'
import { runCli } from '../cli/run.ts'
import { eventually, tempDir } from '../helpers/platform.ts'
import { freshDatabase, startLocalPostgres, type LocalPostgres } from '../helpers/postgres.ts'
import { smppConfig } from '../alerts/helpers.ts'
import { startSmsc } from '../alerts/smsc.ts'

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const STATION = 'CM-SUB1'
const STREAM = 'TW_SUBSCRIBERS'
const PREFIX = 'tw_subscribers'
const STAFF_TOKEN = 'cluster-subscribers-test-token'
const FARMER = '+84910000101'
/**
 * A rice station (levels/zones.ts RICE_SALINITY: warning at 2 ‰, two
 * readings to fire), one reading a minute: the warning fires on the 4th.
 */
const SALINITY = [1.0, 1.1, 2.5, 2.6]

interface Child {
  proc: ChildProcess
  logs: Array<Record<string, unknown>>
  node: string
  dataDir: string
}

describe('subscribers in cluster mode: PostgreSQL holds them, every node follows (issue 16)', () => {
  const tmp = tempDir('tidewatch-subscribers-cluster-')
  let pgServer: LocalPostgres
  let nats: NatsCluster
  let nc: NatsConnection
  let smsc: Awaited<ReturnType<typeof startSmsc>>
  let repo: PostgresMetadataRepository
  let url: string
  const children: Child[] = []
  const stops: Array<() => void> = []
  const runs: Array<Promise<number>> = []

  beforeAll(async () => {
    ;[pgServer, nats, smsc] = await Promise.all([startLocalPostgres(), startNatsCluster({ dir: join(tmp.dir, 'nats'), nodes: 3 }), startSmsc()])
    await nats.ready()
    nc = await connect({ servers: [...nats.servers] })
    url = await freshDatabase(pgServer)
    repo = await PostgresMetadataRepository.open({ url, poolMax: 2 })
  }, 90_000)

  afterAll(async () => {
    if (process.env.TIDEWATCH_TEST_DUMP === '1') for (const c of children) console.log(c.node, c.logs.map((l) => JSON.stringify(l)).join('\n'))
    for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL')
    for (const stop of stops) stop()
    await Promise.allSettled(runs)
    await repo?.close()
    await nc?.close()
    await nats?.stop()
    await smsc?.close()
    await pgServer?.stop()
    tmp.cleanup()
  })

  /** An API node as `tidewatch api` runs it in cluster mode (runPlatform: mirror, then the platform). */
  const startApiNode = async (name: string): Promise<string> => {
    const dataDir = join(tmp.dir, name)
    mkdirSync(dataDir, { recursive: true })
    const port = await freePort()
    const config = loadConfig({
      env: { TIDEWATCH_DATA_DIR: dataDir, TIDEWATCH_POSTGRES_URL: url, TIDEWATCH_HTTP_PORT: String(port), TIDEWATCH_STAFF_TOKEN: STAFF_TOKEN, TIDEWATCH_NODE_ID: name },
    })
    let stop!: () => void
    const until = new Promise<void>((r) => (stop = r))
    stops.push(stop)
    runs.push(runPlatform({ config, log: silentLogger, io: { stdout: () => undefined, stderr: () => undefined }, parts: { api: true }, until }))
    const base = `http://127.0.0.1:${port}`
    expect(await eventually(() => fetch(`${base}/health`).then((r) => r.ok, () => false), 30_000)).toBe(true)
    return base
  }

  const startAlerter = (node: string, configFile: string): Child => {
    const dataDir = join(tmp.dir, node)
    mkdirSync(dataDir, { recursive: true })
    const proc = spawn(process.execPath, [join(REPO, 'bin/tidewatch.js'), 'alerter'], {
      cwd: REPO,
      env: {
        ...process.env,
        TIDEWATCH_CONFIG: configFile,
        TIDEWATCH_DATA_DIR: dataDir,
        TIDEWATCH_NATS_SERVERS: nats.servers.join(','),
        TIDEWATCH_NODE_ID: node,
        TIDEWATCH_POSTGRES_URL: url,
        TIDEWATCH_LOG_LEVEL: 'info',
        TIDEWATCH_FROM_SOURCE: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const child: Child = { proc, logs: [], node, dataDir }
    let rest = ''
    const take = (chunk: Buffer): void => {
      const lines = (rest + chunk.toString()).split('\n')
      rest = lines.pop()!
      for (const l of lines) {
        try {
          child.logs.push(JSON.parse(l) as Record<string, unknown>)
        } catch {
          child.logs.push({ msg: l })
        }
      }
    }
    proc.stdout!.on('data', take)
    proc.stderr!.on('data', take)
    children.push(child)
    return child
  }

  it('a farmer subscribed through node A is on node B and gets the SMS from the leading alerter', async () => {
    const configFile = join(tmp.dir, 'config.json')
    writeFileSync(configFile, JSON.stringify({ alerts: smppConfig(smsc.port), cluster: { nats: { stream: STREAM, subjectPrefix: PREFIX, replicas: 3, publishTimeoutMs: 2000 } } }))
    const config = loadConfig({ env: { TIDEWATCH_CONFIG: configFile, TIDEWATCH_DATA_DIR: join(tmp.dir, 'test'), TIDEWATCH_NATS_SERVERS: nats.servers.join(','), TIDEWATCH_NODE_ID: 'test' } })
    await ensureReadingsLog(nc, config, { log: silentLogger, targets: [] })
    await repo.addStation({ id: STATION, name: 'Trạm ruộng lúa Trần Văn Thời', commune: 'Khánh Bình', lat: 9.07, lon: 104.98, sensors: ['salinity'] })

    const [apiA, apiB] = await Promise.all([startApiNode('api-a'), startApiNode('api-b')])
    const leader = startAlerter('alerter-a', configFile)
    const logged = (c: Child, msg: string) => c.logs.find((l) => l.msg === msg)
    expect(await eventually(() => !!logged(leader, 'took over the alerter lease'), 60_000, 100), 'alerter-a leads').toBe(true)
    const standby = startAlerter('alerter-b', configFile)
    expect(await eventually(() => !!logged(standby, 'alerter node started; waiting for the lease'), 60_000, 100), 'alerter-b stands by').toBe(true)

    // The leader's own copy, read as its alerter reads it (another connection to its registry file).
    const leaderDb = new Database(join(leader.dataDir, 'registry.db'), { readonly: true })
    const headers = { authorization: `Bearer ${STAFF_TOKEN}`, 'content-type': 'application/json' }
    try {
      // Subscribed through node A's API: node A answers with PostgreSQL's id and reads it back at once.
      const created = await fetch(`${apiA}/api/v1/alerts/subscribers`, { method: 'POST', headers, body: JSON.stringify({ phone: '0910000101', name: 'Bác Sáu', stations: [STATION] }) })
      expect(created.status).toBe(200)
      const sub = (await created.json()) as { id: number; phone: string }
      const committedAt = performance.now()
      expect(sub.phone).toBe(FARMER)
      expect((await repo.getSubscriber(sub.id))?.phone).toBe(FARMER)
      const readBack = await fetch(`${apiA}/api/v1/alerts/subscribers/${sub.id}`, { headers })
      expect(readBack.status, 'read-your-writes on the node that wrote').toBe(200)

      const onLeader = eventually(() => leaderDb.prepare('SELECT 1 FROM alert_subscribers WHERE id = ? AND phone = ?').get(sub.id, FARMER) !== undefined, 10_000, 1).then((ok) => [ok, performance.now() - committedAt] as const)
      const onB = eventually(() => fetch(`${apiB}/api/v1/alerts/subscribers/${sub.id}`, { headers }).then((r) => r.status === 200), 10_000, 5).then((ok) => [ok, performance.now() - committedAt] as const)
      const [[leaderOk, leaderMs], [bOk, bMs]] = await Promise.all([onLeader, onB])
      expect(leaderOk, 'the leading alerter has the subscriber').toBe(true)
      expect(bOk, 'node B serves the subscriber').toBe(true)

      // One phone, one subscriber, whichever node is asked.
      const again = await fetch(`${apiB}/api/v1/alerts/subscribers`, { method: 'POST', headers, body: JSON.stringify({ phone: FARMER, stations: [STATION] }) })
      expect(again.status).toBe(409)
      expect(((await again.json()) as { error: { code: string } }).error.code).toBe('SUBSCRIBER_EXISTS')

      // A disabled station (another one: this one must still alert) reaches the leader's copy.
      await repo.addStation({ id: 'CM-OFF', name: 'Trạm tạm dừng', lat: 9.1, lon: 105.1 })
      expect(await eventually(() => leaderDb.prepare('SELECT 1 FROM stations WHERE id = ?').get('CM-OFF') !== undefined, 10_000, 1)).toBe(true)
      await repo.setEnabled('CM-OFF', false)
      const disabledAt = performance.now()
      expect(await eventually(() => (leaderDb.prepare('SELECT enabled FROM stations WHERE id = ?').get('CM-OFF') as { enabled: number }).enabled === 0, 10_000, 1)).toBe(true)
      const disabledMs = performance.now() - disabledAt
      console.log(
        `subscribers in cluster mode: created on node A -> on node B ${bMs.toFixed(1)} ms, -> in the leading alerter's copy ${leaderMs.toFixed(1)} ms; ` +
          `station disabled in PostgreSQL -> in the leading alerter's copy ${disabledMs.toFixed(1)} ms (issue 16 bar: 1 s)`,
      )

      // The incident: the leader sends the warning to the farmer subscribed on node A.
      const publisher = new LogPublisher(jetstream(nc), { subjectPrefix: PREFIX, nodeId: 'test-edge', timeoutMs: 5000, maxPayloadBytes: nc.info!.max_payload })
      const base = Date.now() - SALINITY.length * 60_000
      for (const [i, v] of SALINITY.entries()) {
        const ts = base + i * 60_000
        const r: AcceptedReading = { stationId: STATION, ts, receivedAt: ts + 1000, late: false, values: [{ sensor: 'salinity', value: v, raw: v, flags: [] }] }
        await publisher.publishLines('live', readingLines(r), r.receivedAt)
      }
      const toFarmer = (): string[] => [...smsc.messages()].filter(([to]) => `+${to.replace(/^\+/, '')}` === FARMER).flatMap(([, texts]) => texts)
      expect(await eventually(() => toFarmer().length > 0, 30_000, 100), 'the farmer got the SMS').toBe(true)
      console.log(`SMS to the farmer subscribed on node A, from the leader: ${JSON.stringify(toFarmer())}`)
      expect(logged(standby, 'took over the alerter lease'), 'the standby never led').toBeUndefined()
    } finally {
      leaderDb.close()
    }
  }, 180_000)

  it('tidewatch alerts subscribers add|rm in cluster mode reads and writes PostgreSQL, not the node registry', async () => {
    const env = { TIDEWATCH_POSTGRES_URL: url, TIDEWATCH_DATA_DIR: join(tmp.dir, 'cli') }
    const add = await runCli(['alerts', 'subscribers', 'add', '--phone', '0910000202', '--name', 'Chị Bảy', '--station', STATION], env)
    expect(add.err).toBe('')
    expect(add.code).toBe(0)
    const sub = JSON.parse(add.out) as { id: number; phone: string }
    expect((await repo.getSubscriber(sub.id))?.phone).toBe('+84910000202')
    const unknownStation = await runCli(['alerts', 'subscribers', 'add', '--phone', '0910000303', '--station', 'NOWHERE'], env)
    expect(unknownStation.code).not.toBe(0)
    expect(unknownStation.err).toMatch(/STATION_NOT_FOUND/)
    const list = await runCli(['alerts', 'subscribers'], env)
    expect((JSON.parse(list.out) as Array<{ id: number }>).map((s) => s.id)).toContain(sub.id)
    const rm = await runCli(['alerts', 'subscribers', 'rm', String(sub.id)], env)
    expect(rm.code).toBe(0)
    expect(await repo.getSubscriber(sub.id)).toBeUndefined()
  }, 60_000)
})
