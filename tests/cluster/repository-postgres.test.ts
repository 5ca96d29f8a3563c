import { afterAll, beforeAll } from 'vitest'
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
