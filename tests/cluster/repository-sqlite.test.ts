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
