import pg from 'pg'
import { backoffWindow, equalJitter, type Backoff } from '../../core/backoff.ts'
import { TidewatchError } from '../../core/errors.ts'
import type { Logger } from '../../core/log.ts'
import type { Calibration } from '../../core/reading.ts'
import { CORE_SENSORS, isSensorKind, type SensorKind } from '../../core/sensors.ts'
import { normalizeSerial, type CertRecord } from '../../devices/certs.ts'
import { generatePassword, hashDeviceSecret } from '../../core/password.ts'
import { checkCode, checkPosition, checkZone, normalizeStationCode, stationFromRow, validateStationId, type NewStation, type SensorConfig, type Sighting, type Station, type StationRow } from '../../devices/registry.ts'
import { mintToken, tokenHash, tokenInfoOf, type Principal, type Role, type TokenInfo, type TokenRow } from '../../core/tokens.ts'
import { checkRule } from '../../levels/book.ts'
import { SensorRuleSchema, type SensorRule } from '../../levels/rules.ts'
import { DEFAULT_ZONE } from '../../levels/zones.ts'
import { mergeSubscriberPatch, parseSubscriberInput, type Subscriber, type SubscriberInput, type ValidSubscriber } from '../../alerts/subscribers.ts'
import { ChangeFanout, type IssuedCertFields, type MetadataChangeKind, type MetadataListener, type MetadataRepository, type StationPatch, type StoredRule, tokenRecordOf, type TokenRecord } from './repository.ts'
import { METADATA_CHANNEL, MIGRATIONS } from './postgres-schema.ts'
import { PostgresOutboxLog } from './outbox-record.ts'

/**
 * Cluster-mode metadata in PostgreSQL, shared by every node (issue 16).
 *
 * Every change is announced by a trigger (postgres-schema.ts) with
 * pg_notify in the same transaction, so it is delivered to every listening
 * node when, and only when, it commits. Each repository holds one LISTEN
 * connection outside the pool. A notification sent while that connection is
 * down is lost (PostgreSQL 15 docs, NOTIFY), so after every reconnect the
 * listeners are told to reload everything ({ kind: 'resync' }).
 */
export interface PostgresMetadataOptions {
  url: string
  /** core/cluster-config.ts `cluster.postgres.poolMax`. */
  poolMax?: number
  log?: Logger
  /** Reconnect delays of the LISTEN connection: one client retrying one server (core/backoff.ts). */
  reconnect?: Backoff
  /**
   * How often the LISTEN connection is probed. A cut network link leaves the
   * socket open and silent; a probe that fails within probeTimeoutMs is a
   * lost connection (and a resync once it is back).
   */
  probeEveryMs?: number
  probeTimeoutMs?: number
  /**
   * How long a new connection may take before it fails (pg's
   * connectionTimeoutMillis); unset waits for the operating system, which
   * gives up on a silent host only after its SYN retries (about 2 minutes
   * with Linux's default tcp_syn_retries = 6). Operator commands set it.
   */
  connectTimeoutMs?: number
}

// Millisecond timestamps and token ids are BIGINT; they fit a double far
// beyond any date we store (Number.MAX_SAFE_INTEGER ms is year 287396).
const INT8_OID = 20
const types = { getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format))) as typeof pg.types.getTypeParser }

const SUBSCRIBER_COLUMNS = `id, kind, name, phone, email, webhook, lang, diacritics, stations, communes, active, created_at AS "createdAt", updated_at AS "updatedAt"`

/** The values of a validated subscriber, in the order of the INSERT and UPDATE below ($1..$10). */
function subscriberValues(s: ValidSubscriber): unknown[] {
  return [s.kind, s.name, s.phone ?? null, s.email ?? null, s.webhook ?? null, s.lang, s.diacritics, JSON.stringify(s.stations), JSON.stringify(s.communes), s.active]
}

const STATION_COLUMNS = 'id, name, commune, district, lat, lon, coast, zone, code, interval_s, enabled, created_at, last_seen_at, clock_offset_s, clock_checked_at'


/** A unique index a concurrent writer got to first: the same code the check before it gives. */
function uniqueViolation(err: unknown, constraint: string): boolean {
  const e = err as { code?: string; constraint?: string }
  return e.code === '23505' && e.constraint === constraint
}

export class PostgresMetadataRepository implements MetadataRepository {
  readonly backend = 'postgres' as const
  private readonly pool: pg.Pool
  private readonly log: Logger | undefined
  private readonly fanout: ChangeFanout
  private listener: pg.Client | undefined
  private reconnectAttempt = 0
  private reconnectTimer: NodeJS.Timeout | undefined
  private probeTimer: NodeJS.Timeout | undefined
  private closed = false
  /** Times the LISTEN connection came back after a loss (each one a resync). */
  reconnects = 0
  /** The cluster alerter's outbox record, on this pool (outbox-record.ts). */
  readonly outbox: PostgresOutboxLog

  private constructor(private readonly opts: PostgresMetadataOptions) {
    this.log = opts.log?.child({ component: 'metadata' })
    this.pool = new pg.Pool({ connectionString: opts.url, max: opts.poolMax ?? 10, types, connectionTimeoutMillis: opts.connectTimeoutMs })
    // An idle pooled connection dropped by a server restart: the pool replaces it on next use.
    this.pool.on('error', (err) => this.log?.warn({ err }, 'idle PostgreSQL connection lost'))
    this.fanout = new ChangeFanout((err) => this.log?.error({ err }, 'metadata change listener failed'))
    this.outbox = new PostgresOutboxLog(this.pool)
  }

  /** Connects, applies the migrations, and starts listening before returning, so no change after open() is missed. */
  static async open(opts: PostgresMetadataOptions): Promise<PostgresMetadataRepository> {
    const repo = new PostgresMetadataRepository(opts)
    try {
      await repo.migrate()
      await repo.listen()
    } catch (err) {
      await repo.close()
      throw err
    }
    return repo
  }

  private async migrate(): Promise<void> {
    await this.tx(async (c) => {
      // Nodes starting together: the advisory lock makes the second wait, then see the new version.
      await c.query("SELECT pg_advisory_xact_lock(hashtext('tidewatch.schema_versions'))")
      await c.query('CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL)')
      const row = await c.query<{ version: number }>("SELECT version FROM schema_versions WHERE component = 'metadata'")
      const from = row.rows[0]?.version ?? 0
      for (let v = from; v < MIGRATIONS.length; v++) await c.query(MIGRATIONS[v]!)
      if (from < MIGRATIONS.length) {
        await c.query(
          "INSERT INTO schema_versions (component, version) VALUES ('metadata', $1) ON CONFLICT (component) DO UPDATE SET version = excluded.version",
          [MIGRATIONS.length],
        )
      }
    })
  }

  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect()
    try {
      await c.query('BEGIN')
      const out = await fn(c)
      await c.query('COMMIT')
      return out
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {})
      throw err
    } finally {
      c.release()
    }
  }

  // ---- the change feed ----

  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.opts.url, types, keepAlive: true, connectionTimeoutMillis: this.opts.connectTimeoutMs })
    const lost = (err?: unknown): void => {
      if (this.listener !== client) return
      this.listener = undefined
      clearInterval(this.probeTimer)
      client.end().catch(() => {})
      if (this.closed) return
      this.log?.warn({ err }, 'metadata change feed lost; reconnecting')
      this.scheduleReconnect()
    }
    client.on('error', lost)
    client.on('end', () => lost())
    client.on('notification', (msg) => {
      if (msg.channel !== METADATA_CHANNEL || !msg.payload) return
      try {
        const change = JSON.parse(msg.payload) as { kind: MetadataChangeKind; id: string }
        this.fanout.emit({ kind: change.kind, id: String(change.id) })
      } catch (err) {
        this.log?.warn({ err, payload: msg.payload }, 'unreadable metadata notification; resyncing')
        this.fanout.emit({ kind: 'resync' })
      }
    })
    try {
      await client.connect()
      await client.query(`LISTEN ${METADATA_CHANNEL}`)
    } catch (err) {
      await client.end().catch(() => {})
      throw err
    }
    this.listener = client
    const probeTimeoutMs = this.opts.probeTimeoutMs ?? 5_000
    this.probeTimer = setInterval(() => {
      const timeout = setTimeout(() => lost(new Error(`change feed probe unanswered after ${probeTimeoutMs} ms`)), probeTimeoutMs)
      client.query('SELECT 1').then(
        () => clearTimeout(timeout),
        (err) => {
          clearTimeout(timeout)
          lost(err)
        },
      )
    }, this.opts.probeEveryMs ?? 5_000)
    this.probeTimer.unref()
  }

  private scheduleReconnect(): void {
    const delay = equalJitter(backoffWindow(this.reconnectAttempt++, this.opts.reconnect ?? { baseMs: 100, capMs: 5_000 }))
    this.reconnectTimer = setTimeout(() => {
      this.listen().then(
        () => {
          this.reconnectAttempt = 0
          this.reconnects++
          this.log?.info('metadata change feed back; listeners reload everything')
          this.fanout.emit({ kind: 'resync' })
        },
        (err) => {
          if (this.closed) return
          this.log?.debug({ err }, 'metadata change feed reconnect failed')
          this.scheduleReconnect()
        },
      )
    }, delay)
    this.reconnectTimer.unref()
  }

  watch(listener: MetadataListener): () => void {
    return this.fanout.add(listener)
  }

  async close(): Promise<void> {
    this.closed = true
    clearTimeout(this.reconnectTimer)
    clearInterval(this.probeTimer)
    const l = this.listener
    this.listener = undefined
    await l?.end().catch(() => {})
    await this.pool.end()
  }

  // ---- stations ----

  private async sensorsOf(c: pg.ClientBase | pg.Pool, ids: string[]): Promise<Map<string, SensorConfig[]>> {
    const rows = await c.query<{ station_id: string; kind: SensorKind; cal_offset: number; cal_scale: number }>(
      'SELECT station_id, kind, cal_offset, cal_scale FROM station_sensors WHERE station_id = ANY($1) ORDER BY station_id, kind',
      [ids],
    )
    const out = new Map<string, SensorConfig[]>()
    for (const s of rows.rows) {
      const list = out.get(s.station_id) ?? []
      list.push({ kind: s.kind, offset: s.cal_offset, scale: s.cal_scale })
      out.set(s.station_id, list)
    }
    return out
  }

  private async stationOn(c: pg.ClientBase | pg.Pool, id: string, lock = false): Promise<Station | undefined> {
    const row = (await c.query<StationRow>(`SELECT ${STATION_COLUMNS} FROM stations WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id])).rows[0]
    return row ? stationFromRow(row, (await this.sensorsOf(c, [id])).get(id) ?? []) : undefined
  }

  private async requireOn(c: pg.ClientBase | pg.Pool, id: string, lock = false): Promise<Station> {
    const station = await this.stationOn(c, id, lock)
    if (!station) throw new TidewatchError('STATION_NOT_FOUND', { id }, `Station "${id}" not found`)
    return station
  }

  getStation(id: string): Promise<Station | undefined> {
    return this.stationOn(this.pool, id)
  }

  async listStations(): Promise<Station[]> {
    const rows = (await this.pool.query<StationRow>(`SELECT ${STATION_COLUMNS} FROM stations ORDER BY id`)).rows
    const sensors = await this.sensorsOf(this.pool, rows.map((r) => r.id))
    return rows.map((r) => stationFromRow(r, sensors.get(r.id) ?? []))
  }

  async addStation(input: NewStation, now = Date.now()) {
    // The checks and their order of devices/registry.ts add(), so the same input gives the same code.
    validateStationId(input.id)
    if (await this.getStation(input.id)) throw new TidewatchError('STATION_EXISTS', { id: input.id })
    checkPosition(input.lat, input.lon, { id: input.id })
    const zone = checkZone(input.zone ?? DEFAULT_ZONE)
    const code = checkCode(input.code)
    if (code !== null && (await this.stationByCode(code))) throw new TidewatchError('STATION_CODE_TAKEN', { code })
    const sensors = (input.sensors ?? [...CORE_SENSORS]).map((s) => (typeof s === 'string' ? { kind: s, offset: 0, scale: 1 } : s))
    for (const s of sensors) {
      if (!isSensorKind(s.kind)) throw new TidewatchError('BAD_REQUEST', { sensor: s.kind }, `unknown sensor kind "${s.kind}"`)
    }
    const password = generatePassword()
    try {
      await this.tx(async (c) => {
        await c.query(
          `INSERT INTO stations (id, name, commune, district, lat, lon, coast, zone, code, interval_s, enabled, created_at, password_hash, credentials_rotated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, TRUE, $11, $12, $11)`,
          [input.id, input.name, input.commune ?? null, input.district ?? null, input.lat, input.lon, input.coast ?? null, zone, code, input.intervalSec ?? 900, now, hashDeviceSecret(password)],
        )
        for (const s of sensors) {
          await c.query('INSERT INTO station_sensors (station_id, kind, cal_offset, cal_scale) VALUES ($1, $2, $3, $4)', [input.id, s.kind, s.offset, s.scale])
        }
      })
    } catch (err) {
      // Another node added the same id or code between the checks and the insert.
      if (uniqueViolation(err, 'stations_pkey')) throw new TidewatchError('STATION_EXISTS', { id: input.id })
      if (uniqueViolation(err, 'stations_code')) throw new TidewatchError('STATION_CODE_TAKEN', { code })
      throw err
    }
    return { id: input.id, username: input.id, password }
  }

  async updateStation(id: string, patch: StationPatch): Promise<Station> {
    try {
      await this.tx(async (c) => {
        // FOR UPDATE: two nodes patching different fields of one station do not undo each other.
        const current = await this.requireOn(c, id, true)
        const next = { ...current, ...patch }
        next.zone = checkZone(next.zone)
        next.code = checkCode(next.code)
        if (next.code !== null && next.code !== current.code) {
          const owner = (await c.query<{ id: string }>('SELECT id FROM stations WHERE upper(code) = $1', [next.code])).rows[0]?.id
          if (owner !== undefined && owner !== id) throw new TidewatchError('STATION_CODE_TAKEN', { code: next.code })
        }
        checkPosition(next.lat, next.lon, {})
        await c.query('UPDATE stations SET name = $1, commune = $2, district = $3, lat = $4, lon = $5, coast = $6, zone = $7, code = $8, interval_s = $9, enabled = $10 WHERE id = $11', [
          next.name, next.commune, next.district, next.lat, next.lon, next.coast, next.zone, next.code, next.intervalSec, next.enabled, id,
        ])
      })
    } catch (err) {
      if (uniqueViolation(err, 'stations_code')) throw new TidewatchError('STATION_CODE_TAKEN', { code: patch.code })
      throw err
    }
    return this.requireOn(this.pool, id)
  }

  async setEnabled(id: string, enabled: boolean): Promise<void> {
    const r = await this.pool.query('UPDATE stations SET enabled = $1 WHERE id = $2', [enabled, id])
    if (r.rowCount === 0) throw new TidewatchError('STATION_NOT_FOUND', { id }, `Station "${id}" not found`)
  }

  async setCalibration(id: string, kind: SensorKind, cal: Calibration): Promise<void> {
    await this.tx(async (c) => {
      await this.requireOn(c, id, true)
      await c.query(
        `INSERT INTO station_sensors (station_id, kind, cal_offset, cal_scale) VALUES ($1, $2, $3, $4)
         ON CONFLICT (station_id, kind) DO UPDATE SET cal_offset = excluded.cal_offset, cal_scale = excluded.cal_scale`,
        [id, kind, cal.offset, cal.scale],
      )
    })
  }

  async removeStation(id: string): Promise<void> {
    const r = await this.pool.query('DELETE FROM stations WHERE id = $1', [id])
    if (r.rowCount === 0) throw new TidewatchError('STATION_NOT_FOUND', { id }, `Station "${id}" not found`)
  }

  async stationByCode(code: string): Promise<string | undefined> {
    return (await this.pool.query<{ id: string }>('SELECT id FROM stations WHERE upper(code) = $1', [normalizeStationCode(code)])).rows[0]?.id
  }

  async touchStations(seen: ReadonlyMap<string, Sighting>): Promise<void> {
    if (seen.size === 0) return
    const ids: string[] = []
    const at: number[] = []
    const offsets: Array<number | null> = []
    for (const [id, s] of seen) {
      ids.push(id)
      at.push(s.lastSeenAt)
      // Rounded to 0.1 s as devices/registry.ts touchMany stores it.
      offsets.push(s.clockOffsetMs === undefined ? null : Math.round(s.clockOffsetMs / 100) / 10)
    }
    // One statement for the batch. The stations_changed trigger lists the
    // columns it watches and these are not among them: no NOTIFY, no reload.
    // A sighting older than the stored one (another edge was faster) keeps
    // last_seen_at, and leaves the clock to the newer check.
    await this.pool.query(
      `UPDATE stations s SET
         last_seen_at = GREATEST(COALESCE(s.last_seen_at, 0), u.at),
         clock_offset_s = CASE WHEN u.offset_s IS NOT NULL AND u.at >= COALESCE(s.clock_checked_at, 0) THEN u.offset_s ELSE s.clock_offset_s END,
         clock_checked_at = CASE WHEN u.offset_s IS NOT NULL AND u.at >= COALESCE(s.clock_checked_at, 0) THEN u.at ELSE s.clock_checked_at END
       FROM unnest($1::text[], $2::bigint[], $3::double precision[]) AS u(id, at, offset_s)
       WHERE s.id = u.id`,
      [ids, at, offsets],
    )
  }

  // ---- secrets ----

  async credentials(id: string) {
    const row = (await this.pool.query<{ password_hash: string; enabled: boolean }>('SELECT password_hash, enabled FROM stations WHERE id = $1', [id])).rows[0]
    return row ? { hash: row.password_hash, enabled: row.enabled } : undefined
  }

  async listSecrets() {
    const rows = (await this.pool.query<{ id: string; password_hash: string; enabled: boolean }>('SELECT id, password_hash, enabled FROM stations ORDER BY id')).rows
    return rows.map((r) => ({ id: r.id, hash: r.password_hash, enabled: r.enabled }))
  }

  async rotate(id: string, now = Date.now()) {
    const password = generatePassword()
    const r = await this.pool.query('UPDATE stations SET password_hash = $1, credentials_rotated_at = $2 WHERE id = $3', [hashDeviceSecret(password), now, id])
    if (r.rowCount === 0) throw new TidewatchError('STATION_NOT_FOUND', { id }, `Station "${id}" not found`)
    return { id, username: id, password }
  }

  async upgradeHash(id: string, from: string, to: string): Promise<boolean> {
    // One statement is one transaction: under READ COMMITTED PostgreSQL
    // re-checks the WHERE on the newest row version after waiting for a
    // concurrent writer (docs §13.2.1), so a rotation that committed first wins.
    const r = await this.pool.query('UPDATE stations SET password_hash = $1 WHERE id = $2 AND password_hash = $3', [to, id, from])
    return r.rowCount === 1
  }

  // ---- device certificates ----

  async recordCert(c: IssuedCertFields, now = Date.now()): Promise<void> {
    await this.pool.query('INSERT INTO device_certs (serial, station_id, fingerprint256, issued_at, not_after) VALUES ($1, $2, $3, $4, $5)', [
      c.serial, c.stationId, c.fingerprint256, now, c.notAfter.getTime(),
    ])
  }

  async listCerts(stationId: string): Promise<CertRecord[]> {
    const rows = await this.pool.query<CertRecord>(
      `SELECT c.serial, c.station_id AS "stationId", c.fingerprint256, c.issued_at AS "issuedAt", c.not_after AS "notAfter", r.revoked_at AS "revokedAt"
         FROM device_certs c LEFT JOIN revoked_certs r ON r.serial = c.serial WHERE c.station_id = $1 ORDER BY c.issued_at`,
      [stationId],
    )
    return rows.rows
  }

  async revokeCerts(stationId: string, serial?: string, reason = 'unspecified', now = Date.now()): Promise<string[]> {
    const insert = 'INSERT INTO revoked_certs (serial, station_id, revoked_at, reason) VALUES ($1, $2, $3, $4) ON CONFLICT (serial) DO NOTHING'
    return this.tx(async (c) => {
      if (serial !== undefined) {
        const s = normalizeSerial(serial)
        const owner = (await c.query<{ station_id: string }>('SELECT station_id FROM device_certs WHERE serial = $1', [s])).rows[0]?.station_id
        if (owner !== undefined && owner !== stationId) throw new TidewatchError('BAD_REQUEST', { serial: s, owner, stationId }, `certificate ${s} was issued to station ${owner}, not ${stationId}`)
        return (await c.query(insert, [s, stationId, now, reason])).rowCount === 1 ? [s] : []
      }
      const open = await c.query<{ serial: string }>(
        'SELECT c.serial FROM device_certs c LEFT JOIN revoked_certs r ON r.serial = c.serial WHERE c.station_id = $1 AND r.serial IS NULL ORDER BY c.issued_at',
        [stationId],
      )
      const revoked: string[] = []
      for (const { serial: s } of open.rows) if ((await c.query(insert, [s, stationId, now, reason])).rowCount === 1) revoked.push(s)
      return revoked
    })
  }

  async certRevoked(serial: string): Promise<boolean> {
    return (await this.pool.query('SELECT 1 FROM revoked_certs WHERE serial = $1', [serial])).rowCount === 1
  }

  async revokedSerials(): Promise<string[]> {
    return (await this.pool.query<{ serial: string }>('SELECT serial FROM revoked_certs ORDER BY serial')).rows.map((r) => r.serial)
  }

  // ---- API tokens ----

  async createToken(name: string, role: Role, now = Date.now()) {
    const minted = mintToken(name, role)
    const row = (await this.pool.query<{ id: number }>('INSERT INTO api_tokens (name, role, hash, prefix, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id', [
      minted.name, role, minted.hash, minted.prefix, now,
    ])).rows[0]!
    return { token: minted.token, info: { id: row.id, name: minted.name, role, prefix: minted.prefix, createdAt: now, revokedAt: null, lastUsedAt: null } }
  }

  async listTokens(): Promise<TokenInfo[]> {
    return (await this.pool.query<TokenRow>('SELECT * FROM api_tokens ORDER BY id')).rows.map(tokenInfoOf)
  }

  async revokeToken(id: number, now = Date.now()): Promise<void> {
    const r = await this.pool.query('UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [now, id])
    if (r.rowCount === 0) throw new TidewatchError('NOT_FOUND', { id }, `no active token with id ${id}`)
  }

  async verifyToken(token: string, now = Date.now()): Promise<Principal | undefined> {
    if (!token) return undefined
    const row = (await this.pool.query<TokenRow>('SELECT id, name, role, revoked_at FROM api_tokens WHERE hash = $1', [tokenHash(token)])).rows[0]
    if (!row || row.revoked_at !== null) return undefined
    await this.pool.query('UPDATE api_tokens SET last_used_at = $1 WHERE id = $2', [now, row.id])
    return { kind: 'token', id: row.id, name: row.name, role: row.role }
  }

  async touchTokens(used: ReadonlyMap<number, number>): Promise<void> {
    if (used.size === 0) return
    await this.pool.query(
      `UPDATE api_tokens t SET last_used_at = GREATEST(COALESCE(t.last_used_at, 0), u.at)
         FROM unnest($1::bigint[], $2::bigint[]) AS u(id, at) WHERE t.id = u.id`,
      [[...used.keys()], [...used.values()]],
    )
  }

  async tokenRecord(id: number): Promise<TokenRecord | undefined> {
    const row = (await this.pool.query<TokenRow>('SELECT * FROM api_tokens WHERE id = $1', [id])).rows[0]
    return row ? tokenRecordOf(row) : undefined
  }

  async listTokenRecords(): Promise<TokenRecord[]> {
    return (await this.pool.query<TokenRow>('SELECT * FROM api_tokens ORDER BY id')).rows.map(tokenRecordOf)
  }

  // ---- alert rules ----

  private static storedRules(rows: Array<{ scope: string; sensor: string; spec: unknown }>): StoredRule[] {
    const out: StoredRule[] = []
    for (const r of rows) {
      // As levels/book.ts refresh(): a stored rule that no longer parses is skipped, not fatal.
      const parsed = SensorRuleSchema.safeParse(r.spec)
      if (parsed.success) out.push({ scope: r.scope, sensor: r.sensor, rule: parsed.data })
    }
    return out
  }

  async rules(scope: string): Promise<Record<string, SensorRule>> {
    const rows = (await this.pool.query('SELECT scope, sensor, spec FROM alert_rules WHERE scope = $1 ORDER BY sensor', [scope])).rows
    return Object.fromEntries(PostgresMetadataRepository.storedRules(rows).map((r) => [r.sensor, r.rule]))
  }

  async listRules(): Promise<StoredRule[]> {
    return PostgresMetadataRepository.storedRules((await this.pool.query('SELECT scope, sensor, spec FROM alert_rules ORDER BY scope, sensor')).rows)
  }

  async setRule(scope: string, sensor: string, input: unknown, now = Date.now()): Promise<SensorRule> {
    const rule = checkRule(scope, sensor, input)
    await this.pool.query(
      'INSERT INTO alert_rules (scope, sensor, spec, updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT (scope, sensor) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at',
      [scope, sensor, JSON.stringify(rule), now],
    )
    return rule
  }

  async deleteRule(scope: string, sensor: string): Promise<boolean> {
    return (await this.pool.query('DELETE FROM alert_rules WHERE scope = $1 AND sensor = $2', [scope, sensor])).rowCount === 1
  }

  // ---- SMS subscribers (alerts/subscribers.ts semantics) ----

  async getSubscriber(id: number): Promise<Subscriber | undefined> {
    // An id that is not an integer names nobody (the SQLite store answers the same).
    if (!Number.isSafeInteger(id)) return undefined
    return (await this.pool.query<Subscriber>(`SELECT ${SUBSCRIBER_COLUMNS} FROM alert_subscribers WHERE id = $1`, [id])).rows[0]
  }

  async listSubscribers(): Promise<Subscriber[]> {
    return (await this.pool.query<Subscriber>(`SELECT ${SUBSCRIBER_COLUMNS} FROM alert_subscribers ORDER BY id`)).rows
  }

  async createSubscriber(input: SubscriberInput, now = Date.now()): Promise<Subscriber> {
    const s = parseSubscriberInput(input)
    try {
      return (await this.pool.query<Subscriber>(
        `INSERT INTO alert_subscribers (kind, name, phone, email, webhook, lang, diacritics, stations, communes, active, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING ${SUBSCRIBER_COLUMNS}`,
        [...subscriberValues(s), now],
      )).rows[0]!
    } catch (err) {
      // The unique index is the check: two nodes adding one phone at once get one subscriber.
      if (uniqueViolation(err, 'alert_subscribers_phone')) throw new TidewatchError('SUBSCRIBER_EXISTS', { phone: s.phone })
      throw err
    }
  }

  async updateSubscriber(id: number, patch: Partial<SubscriberInput>, now = Date.now()): Promise<Subscriber> {
    let phone: string | undefined
    try {
      return await this.tx(async (c) => {
        // FOR UPDATE: two nodes patching different fields of one subscriber do not undo each other.
        const current = Number.isSafeInteger(id) ? (await c.query<Subscriber>(`SELECT ${SUBSCRIBER_COLUMNS} FROM alert_subscribers WHERE id = $1 FOR UPDATE`, [id])).rows[0] : undefined
        if (!current) throw new TidewatchError('SUBSCRIBER_NOT_FOUND', { id })
        const merged = mergeSubscriberPatch(current, patch)
        phone = merged.phone
        return (await c.query<Subscriber>(
          `UPDATE alert_subscribers SET kind = $1, name = $2, phone = $3, email = $4, webhook = $5, lang = $6, diacritics = $7, stations = $8, communes = $9, active = $10, updated_at = $11
           WHERE id = $12 RETURNING ${SUBSCRIBER_COLUMNS}`,
          [...subscriberValues(merged), now, id],
        )).rows[0]!
      })
    } catch (err) {
      if (uniqueViolation(err, 'alert_subscribers_phone')) throw new TidewatchError('SUBSCRIBER_EXISTS', { phone })
      throw err
    }
  }

  async removeSubscriber(id: number): Promise<void> {
    const r = Number.isSafeInteger(id) ? await this.pool.query('DELETE FROM alert_subscribers WHERE id = $1', [id]) : { rowCount: 0 }
    if (r.rowCount === 0) throw new TidewatchError('SUBSCRIBER_NOT_FOUND', { id })
  }
}
