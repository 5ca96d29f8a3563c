import type { ClusterConfig } from '../../core/cluster-config.ts'
import type { Logger } from '../../core/log.ts'
import type { Registry } from '../../devices/registry.ts'
import { PostgresMetadataRepository } from './postgres.ts'
import type { MetadataRepository } from './repository.ts'
import { SqliteMetadataRepository } from './sqlite.ts'

/**
 * The repository the configuration asks for: PostgreSQL when
 * `cluster.postgres.url` is set (cluster mode, docs/CLUSTER.md), else the
 * node's own SQLite registry, opened by the caller only when it is needed.
 */
export async function openMetadataRepository(opts: {
  postgres: ClusterConfig['postgres']
  /** The SQLite registry; called only without a PostgreSQL URL. */
  registry: () => Registry
  log?: Logger
}): Promise<MetadataRepository> {
  const { url, poolMax } = opts.postgres
  if (url) return PostgresMetadataRepository.open({ url, poolMax, log: opts.log })
  return new SqliteMetadataRepository(opts.registry(), opts.log)
}
