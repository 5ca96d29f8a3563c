import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openMetadataRepository } from '../../cluster/metadata/open.ts'
import { PostgresMetadataRepository } from '../../cluster/metadata/postgres.ts'
import { freshDatabase, startLocalPostgres, type LocalPostgres } from '../helpers/postgres.ts'
import { repositorySuite } from './repository.suite.ts'

// A real PostgreSQL 15 on a loopback port; each test gets its own empty database.
let server: LocalPostgres
beforeAll(async () => {
  server = await startLocalPostgres()
})
afterAll(async () => {
  await server?.stop()
})

repositorySuite('PostgreSQL', async () => {
  const repo = await PostgresMetadataRepository.open({ url: await freshDatabase(server), poolMax: 4 })
  return { repo, dispose: () => repo.close() }
})

describe('openMetadataRepository with cluster.postgres.url', () => {
  it('opens PostgreSQL and never touches the SQLite registry', async () => {
    const repo = await openMetadataRepository({
      postgres: { url: await freshDatabase(server), poolMax: 1 },
      registry: () => {
        throw new Error('the SQLite registry was opened in cluster mode')
      },
    })
    expect(repo.backend).toBe('postgres')
    await repo.close()
  })
})
