import { describe, expect, it } from 'vitest'
import { openMetadataRepository } from '../../cluster/metadata/open.ts'
import { Registry } from '../../devices/registry.ts'
import { SqliteMetadataRepository } from '../../cluster/metadata/sqlite.ts'
import { repositorySuite } from './repository.suite.ts'

// The embedded default: an in-memory SQLite registry per test.
repositorySuite('SQLite', async () => {
  const registry = Registry.open(':memory:')
  const repo = new SqliteMetadataRepository(registry)
  return {
    repo,
    dispose: async () => {
      await repo.close()
      registry.close()
    },
  }
})

describe('openMetadataRepository without cluster.postgres.url', () => {
  it('serves the node\'s own SQLite registry', async () => {
    const registry = Registry.open(':memory:')
    const repo = await openMetadataRepository({ postgres: { poolMax: 1 }, registry: () => registry })
    expect(repo.backend).toBe('sqlite')
    await repo.addStation({ id: 'L1', name: 'l', lat: 9, lon: 105 })
    expect(registry.get('L1')?.id).toBe('L1')
    registry.close()
  })
})
