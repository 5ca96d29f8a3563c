import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { redact, type AuditEntry } from '../../api/auth/audit.ts'
import { backoffWindow, equalJitter, type Backoff } from '../../core/backoff.ts'
import type { ClusterConfig } from '../../core/cluster-config.ts'
import { isTidewatchError, TidewatchError } from '../../core/errors.ts'
import type { Logger } from '../../core/log.ts'
import type { StationContext } from '../../core/reading.ts'
import type { StationAuthenticator } from '../../broker/hooks/authenticate.ts'
import type { Registry, Sighting } from '../../devices/registry.ts'
import { PostgresMetadataRepository } from './postgres.ts'
import { MetadataReplica } from './replica.ts'
import type { MetadataRepository } from './repository.ts'
import { SqliteMetadataRepository } from './sqlite.ts'
import { openApiNodesDb } from './api-db.ts'
import { PostgresAuditLog } from './audit-postgres.ts'
import { PostgresStaffAccounts } from './console-postgres.ts'

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

/**
 * An operator command gives up on an unreachable PostgreSQL after this long
 * and says so, rather than waiting out the kernel's SYN retries (postgres.ts
 * connectTimeoutMs); a server on the same network answers in milliseconds.
 */
const OPERATOR_CONNECT_TIMEOUT_MS = 5_000

/**
 * True for a failure to reach or keep PostgreSQL, as opposed to a refusal of
 * the request: a socket error (ECONNREFUSED, ENOTFOUND, ETIMEDOUT…), pg's
 * own connection errors, and the SQLSTATE classes 08 (connection exception),
 * 28 (invalid authorization), 3D (no such database) and 57P (operator
 * intervention: shutdown, cannot connect now) of the PostgreSQL 15 manual,
 * Appendix A; and pg's query_timeout ("Query read timeout", api-db.ts): an
 * answer that never came is the server away, not a refusal.
 */
export function isPostgresUnavailable(err: unknown): boolean {
  if (isTidewatchError(err)) return err.code === 'POSTGRES_UNAVAILABLE'
  const e = err as { code?: unknown; syscall?: unknown; message?: unknown }
  if (typeof e?.syscall === 'string') return true
  if (typeof e?.code === 'string' && /^(08|28|3D|57P)/.test(e.code)) return true
  return typeof e?.message === 'string' && /^(Connection terminated|timeout expired|Client has encountered a connection error|Query read timeout)/.test(e.message)
}

/** The error as POSTGRES_UNAVAILABLE. The URL is not quoted: it may hold a password. */
function unavailable(err: unknown): TidewatchError {
  const e = err as { code?: string; message?: string }
  return new TidewatchError('POSTGRES_UNAVAILABLE', { cause: e?.code }, `cannot reach PostgreSQL (cluster.postgres.url): ${e?.message || e?.code || String(err)}`)
}

/** The error as POSTGRES_UNAVAILABLE when it is one, else unchanged. */
export function asPostgresUnavailable(err: unknown): unknown {
  return isTidewatchError(err) || !isPostgresUnavailable(err) ? err : unavailable(err)
}

/** Where an operator command's changes are audited in cluster mode. */
export interface OperatorAudit {
  /** Stores the record in the cluster's audit log before resolving; POSTGRES_UNAVAILABLE if it cannot. */
  record(entry: AuditEntry, now?: number): Promise<void>
}

/**
 * The source of the cluster-mode operator commands: the metadata repository,
 * the cluster's audit log to record their changes in, and the console's
 * staff accounts (`tidewatch staff`).
 */
export type OperatorRepository = MetadataRepository & {
  readonly audit: OperatorAudit
  readonly staff: PostgresStaffAccounts
}

/**
 * How long an operator command keeps trying to store its audit record: a
 * PostgreSQL restart or failover that lands between the change and its
 * record is ridden out (a restart here takes about a second, chaos scenario
 * 7); past that the command fails with POSTGRES_UNAVAILABLE and prints the
 * record (the error's details), so the operator knows the change was made
 * and what to record by hand.
 */
const OPERATOR_AUDIT_RETRY: Backoff = { baseMs: 250, capMs: 4_000 }
const OPERATOR_AUDIT_ATTEMPTS = 6

/**
 * An operator command's audit records go straight to PostgreSQL: the command
 * has no node of its own to keep a local log on (it runs anywhere, once),
 * and it has just written PostgreSQL, so it can reach it. Each record's
 * identity is (this command run, its number), so a retry after a lost
 * answer stores it once.
 */
function operatorAudit(shared: PostgresAuditLog): OperatorAudit {
  const node = `cli@${hostname()}/${randomUUID()}`
  let next = 0
  return {
    async record(entry, now = Date.now()) {
      const record = { ...entry, localId: ++next, at: now }
      for (let attempt = 0; ; attempt++) {
        try {
          await shared.append(node, [record])
          return
        } catch (err) {
          if (!isPostgresUnavailable(err) || attempt + 1 >= OPERATOR_AUDIT_ATTEMPTS) {
            // Whatever the failure, the record travels with the error: the change is made, and the operator
            // must be able to record it by hand (cli/main.ts prints the message; exit 3, a run-time failure).
            const e = asPostgresUnavailable(err)
            const code = isTidewatchError(e) ? e.code : 'INTERNAL'
            const cause = isTidewatchError(e) ? e.details : { cause: (e as { code?: string })?.code }
            const shown = redact({ ...entry, at: now })
            throw new TidewatchError(code, { ...cause, auditRecord: shown }, `the change was made, but its audit record could not be stored (${(e as Error)?.message ?? String(e)}); record it by hand: ${JSON.stringify(shown)}`)
          }
          await sleep(equalJitter(backoffWindow(attempt, OPERATOR_AUDIT_RETRY)))
        }
      }
    },
  }
}

/**
 * The repository with what an operator command adds (audit, staff), as one
 * object: cli/main.ts hands the command the source it gets here as it is, so
 * the additions must travel on it. A Proxy forwards everything else to the
 * repository itself, unchanged.
 */
function operatorSource(repo: MetadataRepository, extra: { audit: OperatorAudit; staff: PostgresStaffAccounts }): OperatorRepository {
  return new Proxy(repo, {
    get: (target, key) => (key === 'audit' || key === 'staff' ? extra[key] : Reflect.get(target, key, target)),
    has: (target, key) => key === 'audit' || key === 'staff' || Reflect.has(target, key),
  }) as OperatorRepository
}

/**
 * The shared repository for one operator command (`tidewatch devices`,
 * `tidewatch tokens`, `tidewatch staff` in cluster mode): connects within
 * OPERATOR_CONNECT_TIMEOUT_MS, and reports a server it cannot reach, at open
 * or during the command, as POSTGRES_UNAVAILABLE. Its changes are audited in
 * the cluster's log (`audit`).
 */
export async function withOperatorRepository<T>(postgres: ClusterConfig['postgres'], fn: (repo: OperatorRepository) => Promise<T>): Promise<T> {
  const { url, poolMax } = postgres
  if (!url) throw new TidewatchError('BAD_REQUEST', {}, 'cluster.postgres.url is not set')
  let repo: PostgresMetadataRepository
  let pool: Awaited<ReturnType<typeof openApiNodesDb>>
  try {
    repo = await PostgresMetadataRepository.open({ url, poolMax, connectTimeoutMs: OPERATOR_CONNECT_TIMEOUT_MS })
  } catch (err) {
    // Open only connects and migrates: whatever it fails with, the command cannot start.
    throw isTidewatchError(err) ? err : unavailable(err)
  }
  try {
    pool = await openApiNodesDb({ url, poolMax: 2, connectTimeoutMs: OPERATOR_CONNECT_TIMEOUT_MS })
  } catch (err) {
    await repo.close().catch(() => undefined)
    throw isTidewatchError(err) ? err : unavailable(err)
  }
  try {
    return await fn(operatorSource(repo, { audit: operatorAudit(new PostgresAuditLog(pool)), staff: new PostgresStaffAccounts(pool) }))
  } catch (err) {
    throw asPostgresUnavailable(err)
  } finally {
    await Promise.all([repo.close().catch(() => undefined), pool.end().catch(() => undefined)])
  }
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
  /** The PostgreSQL repository the replica follows (cluster mode only): where changes are written. */
  readonly repo?: MetadataRepository
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
        repo: opened,
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
