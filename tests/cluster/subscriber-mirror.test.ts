/**
 * Subscribers in cluster mode (issue 16) against a real PostgreSQL 15 and a
 * real SQLite registry file: the node's alert_subscribers follows PostgreSQL
 * under PostgreSQL's ids, its pre-cluster rows are moved aside once, and a
 * write through the cluster writer is readable on the writing node as soon
 * as it resolves.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { Registry } from '../../devices/registry.ts'
import { migrateAlerts } from '../../alerts/store.ts'
import { Subscribers } from '../../alerts/subscribers.ts'
import { RegistryMirror, startClusterRegistryMirror } from '../../cluster/metadata/mirror.ts'
import { PostgresMetadataRepository } from '../../cluster/metadata/postgres.ts'
import { clusterSubscriberWriter } from '../../cluster/metadata/subscriber-writer.ts'
import { createLogger } from '../../core/log.ts'
import { freshDatabase, startLocalPostgres, type LocalPostgres } from '../helpers/postgres.ts'
import { eventually, tempDir } from '../helpers/platform.ts'

let server: LocalPostgres
const tmp = tempDir('tidewatch-submirror-')
beforeAll(async () => {
  server = await startLocalPostgres()
})
afterAll(async () => {
  await server?.stop()
  tmp.cleanup()
})

async function code(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p
    return undefined
  } catch (err) {
    return (err as { code?: string }).code
  }
}

describe('subscribers: PostgreSQL is the truth, each node holds a copy under its ids', () => {
  it('takes the table over once (pre-cluster rows moved aside), then follows every change', async () => {
    const repo = await PostgresMetadataRepository.open({ url: await freshDatabase(server), poolMax: 2 })
    const file = join(tmp.dir, 'takeover.db')
    const node = Registry.open(file)
    const mirrorConn = Registry.open(file)
    migrateAlerts(node.db)
    const local = new Subscribers(node.db)
    try {
      // Before the node joined: its own farmers, ids 1 and 2, which PostgreSQL gives to others.
      local.create({ phone: '0913000001', name: 'local one' }, 1)
      local.create({ phone: '0913000002', name: 'local two' }, 1)
      // …and an outbox row for local one, whose id PostgreSQL gives to Bác Ba.
      node.db
        .prepare(`INSERT INTO alert_outbox (dedupe_key, subscriber_id, channel, address, kind, station, incident, level, text, encoding, segments, status, next_attempt_at, created_at)
                  VALUES ('pre-cluster', 1, 'sms', '+84913000001', 'alert', 'SD-01', 'inc-1', 'warning', 'x', 'gsm7', 1, 'delivered', 1, 1)`)
        .run()
      const ba = await repo.createSubscriber({ phone: '0913000111', name: 'Bác Ba', stations: ['SD-01'] }, 10)
      const tu = await repo.createSubscriber({ phone: '0913000222', name: 'Chị Tư', communes: ['Khánh Hải'] }, 11)

      const mirror = await RegistryMirror.start(repo, mirrorConn)
      try {
        expect(mirror.subscribersSetAside).toBe(2)
        expect(local.list()).toEqual([ba, tu])
        const aside = node.db.prepare('SELECT id, phone FROM alert_subscribers_before_cluster ORDER BY id').all()
        expect(aside).toEqual([{ id: 1, phone: '+84913000001' }, { id: 2, phone: '+84913000002' }])
        // Bác Ba (now id 1) does not inherit local one's sent alert (anti-spam window, daily cap, all-clear).
        expect(node.db.prepare("SELECT subscriber_id FROM alert_outbox WHERE dedupe_key = 'pre-cluster'").get()).toEqual({ subscriber_id: null })

        // Changes from any node arrive through the feed.
        const nam = await repo.createSubscriber({ phone: '0913000333', name: 'Bác Năm' })
        await repo.updateSubscriber(ba.id, { active: false })
        await repo.removeSubscriber(tu.id)
        expect(await eventually(() => local.get(nam.id)?.name === 'Bác Năm' && local.get(ba.id)?.active === false && local.get(tu.id) === undefined, 5_000)).toBe(true)

        // A phone moving from one subscriber to another, whatever order the copy reads them in.
        await repo.updateSubscriber(nam.id, { phone: '0913000444' })
        await repo.updateSubscriber(ba.id, { phone: '0913000333' })
        expect(await eventually(() => local.get(ba.id)?.phone === '+84913000333' && local.get(nam.id)?.phone === '+84913000444', 5_000)).toBe(true)
        await mirror.idle()
        expect(local.list()).toEqual(await repo.listSubscribers())
      } finally {
        mirror.stop()
      }

      // A restart copies PostgreSQL again and moves nothing aside: the table is already the mirror's.
      const again = await RegistryMirror.start(repo, mirrorConn)
      try {
        expect(again.subscribersSetAside).toBe(0)
        expect(local.list()).toEqual(await repo.listSubscribers())
        expect((node.db.prepare('SELECT count(*) AS n FROM alert_subscribers_before_cluster').get() as { n: number }).n).toBe(2)
      } finally {
        again.stop()
      }
    } finally {
      await repo.close()
      mirrorConn.close()
      node.close()
    }
  })

  it('writes to PostgreSQL and reads the write back on the writing node before answering', async () => {
    const url = await freshDatabase(server)
    const file = join(tmp.dir, 'writer.db')
    const log = createLogger('silent')
    const cluster = await startClusterRegistryMirror({ url, registry: () => Registry.open(file), log })
    const node = Registry.open(file)
    const other = await PostgresMetadataRepository.open({ url, poolMax: 1 })
    try {
      expect(await cluster.ready).toBeDefined()
      const local = new Subscribers(node.db)
      const created = await cluster.subscribers.create({ phone: '0913000555', name: 'Cô Sáu', stations: ['NC-01'] }, 20)
      // No waiting: the write resolved only once this node's copy had it.
      expect(local.get(created.id)).toEqual(created)
      expect(await other.getSubscriber(created.id)).toEqual(created)
      const paused = await cluster.subscribers.update(created.id, { active: false }, 21)
      expect(local.get(created.id)).toEqual(paused)
      expect(await code(cluster.subscribers.create({ phone: '+84913000555' }, 22))).toBe('SUBSCRIBER_EXISTS')
      expect(await code(cluster.subscribers.create({ phone: 'x' }, 22))).toBe('SUBSCRIBER_INVALID')
      expect(await code(cluster.subscribers.update(987_654, { name: 'x' }, 22))).toBe('SUBSCRIBER_NOT_FOUND')
      await cluster.subscribers.remove(created.id)
      expect(local.get(created.id)).toBeUndefined()
      expect(await other.getSubscriber(created.id)).toBeUndefined()
    } finally {
      await other.close()
      await cluster.stop()
      node.close()
    }
  })

  it('refuses a write before the node follows PostgreSQL: POSTGRES_UNAVAILABLE (503), never a local-only row', async () => {
    const writer = clusterSubscriberWriter({ following: () => undefined })
    expect(await code(writer.create({ phone: '0913000666' }, 1))).toBe('POSTGRES_UNAVAILABLE')
  })
})
