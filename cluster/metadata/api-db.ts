import pg from 'pg'
import type { Logger } from '../../core/log.ts'

/**
 * What API nodes share in PostgreSQL besides the metadata (issue 16, "API
 * nodes are stateless"): staff accounts and console sessions
 * (console-postgres.ts) and the cluster's audit log (audit-postgres.ts).
 *
 * Its own component 'api_nodes' in schema_versions, next to postgres.ts's
 * 'metadata', so its migrations never touch that list. Applied under the same
 * advisory lock, so nodes starting together apply each migration once. Never
 * edit a released migration; append one.
 */
export const API_NODES_COMPONENT = 'api_nodes'

export const API_NODES_MIGRATIONS: readonly string[] = [
  // The audit log: one row per change made anywhere in the cluster. (node,
  // local_id) is the record's identity in the log of the node that made it
  // first (audit-shipper.ts), so shipping it twice stores it once. Refusing
  // UPDATE, DELETE and TRUNCATE by trigger is what api/auth/audit.ts's SQLite
  // triggers do; a superuser can still drop the triggers, as in SQLite: this
  // keeps honest code honest, it is not tamper-proofing.
  `CREATE TABLE audit_log (
     id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     node TEXT NOT NULL,
     local_id BIGINT NOT NULL,
     at BIGINT NOT NULL,
     actor TEXT NOT NULL,
     role TEXT NOT NULL,
     action TEXT NOT NULL,
     target TEXT NOT NULL,
     before JSONB,
     after JSONB,
     ip TEXT,
     received_at BIGINT NOT NULL,
     UNIQUE (node, local_id)
   );
   CREATE INDEX audit_log_at ON audit_log (at DESC, id DESC);
   CREATE INDEX audit_log_target ON audit_log (target, at DESC);
   CREATE INDEX audit_log_actor ON audit_log (actor, at DESC);
   CREATE FUNCTION tidewatch_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     RAISE EXCEPTION 'audit log is append-only' USING ERRCODE = 'insufficient_privilege';
   END $$;
   CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION tidewatch_audit_append_only();
   CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION tidewatch_audit_append_only();`,
  // Staff accounts (api/console/accounts.ts's console_accounts: usernames are
  // stored lower-case, UsernameSchema) and console sessions: the SHA-256 of
  // the cookie as key, the API token the session acts with sealed under a key
  // only the cookie gives (console-postgres.ts).
  `CREATE TABLE staff_accounts (
     id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     username TEXT NOT NULL UNIQUE,
     role TEXT NOT NULL CHECK (role IN ('read', 'staff', 'admin')),
     hash TEXT NOT NULL,
     created_at BIGINT NOT NULL,
     disabled_at BIGINT,
     last_login_at BIGINT
   );
   CREATE TABLE console_sessions (
     id TEXT PRIMARY KEY,
     csrf TEXT NOT NULL,
     name TEXT NOT NULL,
     role TEXT NOT NULL CHECK (role IN ('read', 'staff', 'admin')),
     kind TEXT NOT NULL CHECK (kind IN ('account', 'token')),
     sealed_token TEXT NOT NULL,
     minted_token_id BIGINT,
     created_at BIGINT NOT NULL,
     last_seen_at BIGINT NOT NULL
   );
   CREATE INDEX console_sessions_name ON console_sessions (name);
   CREATE INDEX console_sessions_created ON console_sessions (created_at);`,
  // Console sign-in failures, shared by every API node (console-postgres.ts PostgresSignInThrottle), so N
  // nodes behind round robin allow the single process's 10 guesses per username in 15 min, not N × 10.
  // Keys as api/console/throttle.ts ('u:<username>', 'a:<address>'); rows older than the window are swept.
  `CREATE TABLE console_sign_in_failures (
     key TEXT NOT NULL,
     at BIGINT NOT NULL
   );
   CREATE INDEX console_sign_in_failures_key ON console_sign_in_failures (key, at);
   CREATE INDEX console_sign_in_failures_at ON console_sign_in_failures (at);`,
]

// Millisecond timestamps and ids are BIGINT; they fit a double (postgres.ts does the same).
const INT8_OID = 20
const types = { getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format))) as typeof pg.types.getTypeParser }

export interface ApiNodesDbOptions {
  url: string
  /** A small pool: console and audit traffic is staff-sized (core/cluster-config.ts poolMax is the metadata's). */
  poolMax?: number
  /**
   * Gives up connecting after this long. Unlike the metadata pool (postgres.ts, which nodes leave to the
   * OS), this pool serves requests a person waits on (console pages, sign-in) and the audit shipper a
   * shutdown waits on: during a partition the kernel's SYN retries (about 2 min on Linux) would hold them
   * all. A server on the same network answers in milliseconds; 5 s is open.ts's operator bound.
   */
  connectTimeoutMs?: number
  /**
   * Gives up on a query whose answer does not arrive (pg's query_timeout, client side): a server that went
   * silent mid-query (a partition, no RST) otherwise holds the request and its pooled connection forever.
   * The console's and the audit log's queries are single indexed statements or a 500-row INSERT
   * (audit-shipper.ts), milliseconds on a healthy server; 10 s leaves room for a loaded one.
   */
  queryTimeoutMs?: number
  log?: Logger
}

export const API_NODES_DB_DEFAULTS = Object.freeze({ poolMax: 4, connectTimeoutMs: 5_000, queryTimeoutMs: 10_000 })

/** A pool on the cluster's PostgreSQL with the 'api_nodes' migrations applied. */
export async function openApiNodesDb(opts: ApiNodesDbOptions): Promise<pg.Pool> {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.poolMax ?? API_NODES_DB_DEFAULTS.poolMax,
    types,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? API_NODES_DB_DEFAULTS.connectTimeoutMs,
    query_timeout: opts.queryTimeoutMs ?? API_NODES_DB_DEFAULTS.queryTimeoutMs,
  })
  pool.on('error', (err) => opts.log?.warn({ err }, 'idle PostgreSQL connection lost'))
  try {
    await migrateApiNodes(pool)
  } catch (err) {
    await pool.end().catch(() => undefined)
    throw err
  }
  return pool
}

async function migrateApiNodes(pool: pg.Pool): Promise<void> {
  const c = await pool.connect()
  try {
    await c.query('BEGIN')
    // The lock postgres.ts takes for its component: schema changes of the cluster happen one at a time.
    await c.query("SELECT pg_advisory_xact_lock(hashtext('tidewatch.schema_versions'))")
    await c.query('CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL)')
    const from = (await c.query<{ version: number }>('SELECT version FROM schema_versions WHERE component = $1', [API_NODES_COMPONENT])).rows[0]?.version ?? 0
    for (let v = from; v < API_NODES_MIGRATIONS.length; v++) await c.query(API_NODES_MIGRATIONS[v]!)
    if (from < API_NODES_MIGRATIONS.length) {
      await c.query('INSERT INTO schema_versions (component, version) VALUES ($1, $2) ON CONFLICT (component) DO UPDATE SET version = excluded.version', [API_NODES_COMPONENT, API_NODES_MIGRATIONS.length])
    }
    await c.query('COMMIT')
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined)
    throw err
  } finally {
    c.release()
  }
}
