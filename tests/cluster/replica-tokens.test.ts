/**
 * A node's token replica on a real PostgreSQL 15: "a revocation never goes
 * back" holds when a full reload is in flight while the node revokes a token
 * and reads it back (read-your-writes). The reload is held between its read
 * of the tokens and its swap by a gate in a pass-through wrapper of the real
 * repository (the only thing not real here: the hold itself), so the race is
 * the same on every run.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PostgresMetadataRepository } from '../../cluster/metadata/postgres.ts'
import { MetadataReplica } from '../../cluster/metadata/replica.ts'
import type { MetadataChange, MetadataRepository } from '../../cluster/metadata/repository.ts'
import { freshDatabase, startLocalPostgres, type LocalPostgres } from '../helpers/postgres.ts'

let server: LocalPostgres
let repo: PostgresMetadataRepository

beforeAll(async () => {
  server = await startLocalPostgres()
  repo = await PostgresMetadataRepository.open({ url: await freshDatabase(server), poolMax: 2 })
}, 60_000)
afterAll(async () => {
  await repo?.close()
  await server?.stop()
})

/** The real repository, with the feed's listener exposed (to send a resync) and listTokenRecords holdable after its read. */
function holdable(real: MetadataRepository) {
  const listeners: Array<(c: MetadataChange) => void> = []
  let hold: { read: () => void; gate: Promise<void> } | undefined
  const wrapped = new Proxy(real, {
    get(target, key) {
      if (key === 'watch') {
        return (fn: (c: MetadataChange) => void) => {
          listeners.push(fn)
          return target.watch(fn)
        }
      }
      if (key === 'listTokenRecords') {
        return async () => {
          const rows = await target.listTokenRecords()
          const h = hold
          hold = undefined
          if (h) {
            h.read()
            await h.gate
          }
          return rows
        }
      }
      return Reflect.get(target, key, target)
    },
  }) as MetadataRepository
  return {
    wrapped,
    /** Sends a resync (as a reconnected feed does) and resolves once the reload has read the tokens; release() lets it finish. */
    async reloadHeldAfterRead(): Promise<{ release: () => void }> {
      let release!: () => void
      let read!: () => void
      const readDone = new Promise<void>((r) => (read = r))
      hold = { read, gate: new Promise<void>((r) => (release = r)) }
      for (const l of listeners) l({ kind: 'resync' })
      await readDone
      return { release }
    },
  }
}

describe('token replica: a revocation never goes back', () => {
  it('a token revoked and read back while a reload that read it active is in flight stays refused', async () => {
    const h = holdable(repo)
    const replica = await MetadataReplica.start(h.wrapped)
    try {
      const { token, info } = await repo.createToken('field-tablet', 'read')
      expect(await replica.refreshToken(info.id)).toBe(true)
      expect(replica.verifyToken(token)?.name).toBe('field-tablet')

      // A reload has read the token as active and is about to swap its copy in.
      const { release } = await h.reloadHeldAfterRead()
      await repo.revokeToken(info.id)
      const readBack = replica.refreshToken(info.id)
      // Let the read-back finish first if it can (it must not, ahead of the reload); then the reload swaps its copy in.
      await Promise.race([readBack, sleep(100)])
      release()
      expect(await readBack).toBe(true)
      expect(replica.verifyToken(token)).toBeUndefined()
      await replica.idle()
      expect(replica.verifyToken(token)).toBeUndefined()
      // And a later full reload (the feed reconnecting) keeps it refused.
      const again = await h.reloadHeldAfterRead()
      again.release()
      await replica.idle()
      expect(replica.verifyToken(token)).toBeUndefined()
    } finally {
      replica.stop()
    }
  })

  it('verifyTokenFresh reads a token the replica has never seen from PostgreSQL; one it knows revoked is refused', async () => {
    const h = holdable(repo)
    const replica = await MetadataReplica.start(h.wrapped)
    try {
      // Held: the replica's copy cannot have the token from its notification before the answer below.
      const { release } = await h.reloadHeldAfterRead()
      const { token, info } = await repo.createToken('console-session', 'staff')
      expect(replica.knowsToken(token)).toBe(false)
      const fresh = replica.verifyTokenFresh(token)
      release()
      expect((await fresh)?.id).toBe(info.id)
      expect(await replica.verifyTokenFresh('tw_never_made_0123456789abcdef')).toBeUndefined()
      await repo.revokeToken(info.id)
      await replica.refreshToken(info.id)
      expect(await replica.verifyTokenFresh(token)).toBeUndefined()
    } finally {
      replica.stop()
    }
  })
})
