/**
 * broker/session-index.ts against a real LevelDB (classic-level in a temp
 * dir): a client with no state on disk is answered without the disk, and a
 * client whose state was stored before a restart is found again.
 */
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { Level } from 'level'
import { clientIdOfKey, IndexedLevelPersistence } from '../../broker/session-index.ts'
import { tempDir } from '../helpers/platform.ts'

it('per-client keys name their client id; retained keys name none', () => {
  expect(clientIdOfKey('subscriptions:station%7Cx:stations/a/config')).toBe('station|x')
  expect(clientIdOfKey('outgoing:svc%3Aingest:tidewatch:0000000000000001')).toBe('svc:ingest')
  expect(clientIdOfKey('will:cm-01%7Cstation-cm-01')).toBe('cm-01|station-cm-01')
  expect(clientIdOfKey('retained:stations/cm-01/status')).toBeUndefined()
})

it('state stored before a restart is indexed again; unknown clients read as empty', async () => {
  const tmp = tempDir()
  try {
    const file = join(tmp.dir, 'state')
    const db = new Level<string, unknown>(file)
    await db.open()
    const p = new IndexedLevelPersistence(db) as unknown as Record<string, (...a: unknown[]) => Promise<unknown>> & { setup(b: unknown): Promise<void>; indexedClients: number }
    await p.setup({ id: 'tidewatch' })
    await p.addSubscriptions!({ id: 'svc:ingest' }, [{ topic: 'stations/+/readings', qos: 1 }])
    expect(p.indexedClients).toBe(1)
    expect(await p.subscriptionsByClient!({ id: 'cm-01|station-cm-01' })).toEqual([])
    await db.close()

    const db2 = new Level<string, unknown>(file)
    await db2.open()
    const p2 = new IndexedLevelPersistence(db2) as unknown as typeof p
    await p2.setup({ id: 'tidewatch' })
    expect(p2.indexedClients).toBe(1)
    const subs = (await p2.subscriptionsByClient!({ id: 'svc:ingest' })) as Array<{ topic: string }>
    expect(subs.map((s) => s.topic)).toEqual(['stations/+/readings'])
    await db2.close()
  } finally {
    tmp.cleanup()
  }
})

it('the subscribers of a topic are remembered until a subscription is added or removed', async () => {
  const tmp = tempDir()
  try {
    const db = new Level<string, unknown>(join(tmp.dir, 'state'))
    await db.open()
    const p = new IndexedLevelPersistence(db) as unknown as Record<string, (...a: unknown[]) => Promise<unknown>> & { setup(b: unknown): Promise<void> }
    await p.setup({ id: 'tidewatch' })
    const clientsOf = async (topic: string) => ((await p.subscriptionsByTopic!(topic)) as Array<{ clientId: string }>).map((s) => s.clientId).sort()
    const topic = 'stations/cm-01/readings'
    expect(await clientsOf(topic)).toEqual([])
    // Asked again: the same answer, now from the cache.
    expect(p.subscriptionsByTopic!(topic)).toBe(p.subscriptionsByTopic!(topic))

    await p.addSubscriptions!({ id: 'svc:ingest' }, [{ topic: 'stations/+/readings', qos: 1 }])
    expect(await clientsOf(topic)).toEqual(['svc:ingest'])
    await p.addSubscriptions!({ id: 'staff-tool' }, [{ topic: 'stations/#', qos: 1 }])
    expect(await clientsOf(topic)).toEqual(['staff-tool', 'svc:ingest'])
    await p.removeSubscriptions!({ id: 'svc:ingest' }, ['stations/+/readings'])
    expect(await clientsOf(topic)).toEqual(['staff-tool'])
    await p.cleanSubscriptions!({ id: 'staff-tool' })
    expect(await clientsOf(topic)).toEqual([])
    // No subscriber: nothing is filed, and no client is indexed for it.
    await p.outgoingEnqueueCombi!([], { topic, payload: Buffer.from('x'), qos: 1 })
    await db.close()
  } finally {
    tmp.cleanup()
  }
})
