import type Database from 'better-sqlite3'
import type pg from 'pg'
import type { AuditLog, AuditTrail } from '../../api/auth/audit.ts'
import type { SharedConsole } from '../../api/console/routes.ts'
import type { ClusterConfig } from '../../core/cluster-config.ts'
import type { Logger } from '../../core/log.ts'
import { openApiNodesDb } from './api-db.ts'
import { ClusterApiTokens } from './api-tokens.ts'
import { PostgresAuditLog } from './audit-postgres.ts'
import { AuditShipper } from './audit-shipper.ts'
import { PostgresSessions, PostgresSignInThrottle, PostgresStaffAccounts } from './console-postgres.ts'
import { asPostgresUnavailable, openNodeStations, type NodeStations } from './open.ts'

/**
 * What makes an API node stateless in cluster mode (issue 16, docs/CLUSTER.md
 * "Tokens, console sessions and the audit log"): API tokens, staff accounts,
 * console sessions and the audit log are the cluster's, in PostgreSQL, so
 * any number of `tidewatch api` nodes behind HAProxy answer as one.
 *
 * The node waits for PostgreSQL at start (with backoff, logged, as an edge
 * does: open.ts openNodeStations): before its first copy of the tokens it
 * could not tell a good token from a bad one.
 */
export interface ApiNodeShared {
  tokens: ClusterApiTokens
  console: SharedConsole
  /**
   * Given this node's local audit log (written first, synchronously), the
   * trail the API records to and reads from, and the shipper's stop. Reads
   * come from the shared log.
   */
  attachAudit(local: AuditLog, db: Database.Database): { trail: AuditTrail; stop(): Promise<void> }
  /** For /health (api/server.ts ApiDeps.healthChecks). */
  healthChecks: Record<string, () => Promise<{ up: boolean } & Record<string, unknown>>>
  stop(): Promise<void>
}

/**
 * How long /health waits for PostgreSQL's answer to SELECT 1: a health check
 * must answer well within HAProxy's check timeout (its `timeout connect`, 5 s
 * in cluster/local/haproxy.ts, when no `timeout check` is set), and a server
 * on the same network answers in milliseconds.
 */
const HEALTH_PROBE_MS = 2_000

async function probe(pool: pg.Pool): Promise<{ error?: string }> {
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      pool.query('SELECT 1'),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`PostgreSQL did not answer within ${HEALTH_PROBE_MS} ms`)), HEALTH_PROBE_MS))),
    ])
    return {}
  } catch (err) {
    return { error: (err as Error)?.message ?? String(err) }
  } finally {
    clearTimeout(timer)
  }
}

/** openNodeStations opens the SQLite registry only without a PostgreSQL URL, which this module is never called without. */
const noLocalRegistry = (): never => {
  throw new Error('an API node in cluster mode reads its tokens from PostgreSQL, not a local registry')
}

export async function startApiNodeShared(opts: {
  postgres: ClusterConfig['postgres']
  /** The bootstrap admin token (platform/credentials.ts staffToken): accepted on every node with the same config. */
  bootstrapToken: string
  log: Logger
  signal?: AbortSignal
}): Promise<ApiNodeShared> {
  const { url } = opts.postgres
  if (!url) throw new Error('startApiNodeShared: cluster.postgres.url is not set')
  const log = opts.log.child({ component: 'api-node' })
  const node: NodeStations = await openNodeStations({ postgres: opts.postgres, registry: noLocalRegistry, log, bootstrapToken: opts.bootstrapToken, signal: opts.signal })
  let pool: pg.Pool
  try {
    pool = await openApiNodesDb({ url, log })
  } catch (err) {
    await node.close()
    throw asPostgresUnavailable(err)
  }
  const replica = node.replica!
  const tokens = new ClusterApiTokens(replica, node.repo!, log)
  const accounts = new PostgresStaffAccounts(pool)
  const shared = new PostgresAuditLog(pool)
  let shipper: AuditShipper | undefined
  return {
    tokens,
    console: { accounts, sessions: (sessionOpts) => new PostgresSessions(pool, sessionOpts), throttle: (limits) => new PostgresSignInThrottle(pool, limits) },
    attachAudit(local, db) {
      const s = (shipper = new AuditShipper({ local, db, shared, log }))
      const trail: AuditTrail = {
        record: (e, now) => local.record(e, now),
        // The shared log; a record made here a moment ago may still be on its way (the shipper's delay, milliseconds while PostgreSQL is up).
        query: (q) => shared.query(q).catch((err: unknown) => Promise.reject(asPostgresUnavailable(err))),
        actors: () => shared.actors().catch((err: unknown) => Promise.reject(asPostgresUnavailable(err))),
      }
      return { trail, stop: () => s.stop() }
    },
    healthChecks: {
      // Tokens are verified from this node's copy; "up" only while that copy can be kept current: PostgreSQL
      // answers and no read of it is failing. Down, the copy still serves (as of lastReloadAt and the changes
      // applied since), but a token created or revoked elsewhere meanwhile is not seen here.
      tokens: async () => {
        const reachable = await probe(pool)
        const lastError = replica.lastReadError ?? reachable.error
        return { up: lastError === undefined, source: 'postgresql', lastReloadAt: replica.lastReloadAt, ...(lastError ? { lastError } : {}), ...replica.counters }
      },
      audit: async () =>
        shipper
          ? { up: shipper.lastError === undefined, node: shipper.node, ...shipper.counters, ...(shipper.lastError ? { lastError: shipper.lastError } : {}) }
          : { up: true, shipping: false },
    },
    async stop() {
      await shipper?.stop()
      await node.close()
      await pool.end().catch(() => undefined)
    },
  }
}
