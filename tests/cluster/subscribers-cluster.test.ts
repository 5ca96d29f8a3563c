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
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { jetstream } from '@nats-io/jetstream'
import { ensureReadingsLog, LogPublisher } from '../../cluster/log/readings-stream.ts'
import { loadConfig } from '../../core/config.ts'
import { silentLogger } from '../../core/log.ts'
import type { AcceptedReading } from '../../core/reading.ts'
import { readingLines } from '../../ingest/points.ts'
import { runCli } from '../cli/run.ts'
import { eventually } from '../helpers/platform.ts'
import { smppConfig } from '../alerts/helpers.ts'
import { alerterWorldPerFile, type AlerterProcess } from './cluster-nodes.ts'

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

describe('subscribers in cluster mode: PostgreSQL holds them, every node follows (issue 16)', () => {
  const world = alerterWorldPerFile('tidewatch-subscribers-cluster-')

  it('a farmer subscribed through node A is on node B and gets the SMS from the leading alerter', async () => {
    const { tmp, nats, nc, smsc, repo } = world
    const configFile = join(tmp.dir, 'config.json')
    writeFileSync(configFile, JSON.stringify({ alerts: smppConfig(smsc.port), cluster: { nats: { stream: STREAM, subjectPrefix: PREFIX, replicas: 3, publishTimeoutMs: 2000 } } }))
    const config = loadConfig({ env: { TIDEWATCH_CONFIG: configFile, TIDEWATCH_DATA_DIR: join(tmp.dir, 'test'), TIDEWATCH_NATS_SERVERS: nats.servers.join(','), TIDEWATCH_NODE_ID: 'test' } })
    await ensureReadingsLog(nc, config, { log: silentLogger, targets: [] })
    await repo.addStation({ id: STATION, name: 'Trạm ruộng lúa Trần Văn Thời', commune: 'Khánh Bình', lat: 9.07, lon: 104.98, sensors: ['salinity'] })

    const [apiA, apiB] = await Promise.all([world.api('api-a', STAFF_TOKEN), world.api('api-b', STAFF_TOKEN)])
    const leader = world.alerter('alerter-a', configFile)
    const logged = (c: AlerterProcess, msg: string) => c.logged(msg)
    expect(await eventually(() => !!logged(leader, 'took over the alerter lease'), 60_000, 100), 'alerter-a leads').toBe(true)
    const standby = world.alerter('alerter-b', configFile)
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
    const { tmp, url, repo } = world
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
