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
