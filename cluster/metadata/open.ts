import { setTimeout as sleep } from 'node:timers/promises'
import { backoffWindow, equalJitter, type Backoff } from '../../core/backoff.ts'
import type { ClusterConfig } from '../../core/cluster-config.ts'
import type { Logger } from '../../core/log.ts'
import type { StationContext } from '../../core/reading.ts'
import type { StationAuthenticator } from '../../broker/hooks/authenticate.ts'
import type { Registry, Sighting } from '../../devices/registry.ts'
import { PostgresMetadataRepository } from './postgres.ts'
import { MetadataReplica } from './replica.ts'
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

/** What an edge's broker and ingest read about stations (cluster/edge.ts EdgeDeps.stations). */
export type StationDirectory = StationAuthenticator & {
  context(id: string): StationContext | undefined
  touchMany(seen: ReadonlyMap<string, Sighting>): void
}

export interface NodeStations {
  readonly backend: 'postgres' | 'sqlite'
  readonly stations: StationDirectory
  /** The in-memory replica over PostgreSQL (cluster mode only). */
  readonly replica?: MetadataReplica
  /** Writes what is buffered (sightings, token uses), then closes. */
  close(): Promise<void>
}

/** Retry delays while PostgreSQL cannot be reached at a node's start (one client, one server). */
const START_RETRY: Backoff = { baseMs: 250, capMs: 5_000 }

/**
 * A node's station directory. In cluster mode (`cluster.postgres.url`) a
 * MetadataReplica over the shared PostgreSQL repository, so every edge
 * authenticates and validates against the stations registered anywhere, and
 * a change reaches it within the change feed's delay; without a URL the
 * node's own SQLite Registry, as before. A node started while PostgreSQL is
 * away waits for it (retrying with backoff, logged) until `signal` aborts:
 * it has nobody to let in before its first load.
 */
export async function openNodeStations(opts: {
  postgres: ClusterConfig['postgres']
  registry: () => Registry
  log: Logger
  bootstrapToken?: string
  signal?: AbortSignal
}): Promise<NodeStations> {
  const { url, poolMax } = opts.postgres
  if (!url) {
    const registry = opts.registry()
    return { backend: 'sqlite', stations: registry, close: async () => registry.close() }
  }
  for (let attempt = 0; ; attempt++) {
    let repo: PostgresMetadataRepository | undefined
    try {
      repo = await PostgresMetadataRepository.open({ url, poolMax, log: opts.log })
      const replica = await MetadataReplica.start(repo, { log: opts.log, bootstrapToken: opts.bootstrapToken })
      const opened = repo
      opts.log.info({ stations: replica.stations().length }, 'station metadata loaded from PostgreSQL')
      return {
        backend: 'postgres',
        stations: replica,
        replica,
        close: async () => {
          await Promise.all([replica.flushSightings(), replica.flushTokenUse()])
          replica.stop()
          await opened.close()
        },
      }
    } catch (err) {
      await repo?.close().catch(() => undefined)
      if (opts.signal?.aborted) throw err
      const delay = equalJitter(backoffWindow(attempt, START_RETRY))
      opts.log.warn({ err, retryInMs: delay }, 'cannot load station metadata from PostgreSQL yet; retrying')
      try {
        await sleep(delay, undefined, { signal: opts.signal })
      } catch {
        throw err
      }
    }
  }
}
