import type Database from 'better-sqlite3'
import type { Calibration } from '../../core/reading.ts'
import type { SensorKind } from '../../core/sensors.ts'
import type { Logger } from '../../core/log.ts'
import { DeviceCerts, type IssuedCert } from '../../devices/certs.ts'
import type { NewStation, Registry, Sighting } from '../../devices/registry.ts'
import { TokenStore } from '../../api/auth/tokens.ts'
import type { Role, TokenInfo, TokenRow } from '../../core/tokens.ts'
import { RuleBook } from '../../levels/book.ts'
import { SensorRuleSchema } from '../../levels/rules.ts'
import { migrateAlerts } from '../../alerts/store.ts'
import { Subscribers, type SubscriberInput } from '../../alerts/subscribers.ts'
import { ChangeFanout, type MetadataChange, type MetadataListener, type IssuedCertFields, type MetadataRepository, type StationPatch, type StoredRule, tokenRecordOf } from './repository.ts'

/**
 * The embedded default: the node's own SQLite registry database, through the
 * classes that already own its tables (Registry, TokenStore, DeviceCerts,
 * RuleBook), so the schema and the validation stay in one place each.
 *
 * The change feed is in-process: it sees what goes through this object. A
 * second process writing the same file (the CLI while `tidewatch up` runs) is
 * noticed by those classes' own PRAGMA data_version checks, not here; a
 * single node needs no more.
 */
export class SqliteMetadataRepository implements MetadataRepository {
  readonly backend = 'sqlite' as const
  private readonly db: Database.Database
  private readonly tokens: TokenStore
  private readonly certs: DeviceCerts
  private readonly book: RuleBook
  private readonly subscribers: Subscribers
  private readonly fanout: ChangeFanout
  private readonly stmts

  constructor(private readonly registry: Registry, log?: Logger) {
    this.db = registry.db
    this.tokens = new TokenStore(this.db)
    this.certs = new DeviceCerts(this.db)
    this.book = new RuleBook(this.db, registry)
    // alert_subscribers belongs to the alerter's schema (alerts/store.ts); idempotent.
    migrateAlerts(this.db)
    this.subscribers = new Subscribers(this.db)
    const feedLog = log?.child({ component: 'metadata' })
    this.fanout = new ChangeFanout((err) => feedLog?.error({ err }, 'metadata change listener failed'))
    this.stmts = {
      secrets: this.db.prepare('SELECT id, password_hash, enabled FROM stations ORDER BY id'),
      revoked: this.db.prepare('SELECT serial FROM revoked_certs ORDER BY serial').pluck(),
      token: this.db.prepare('SELECT * FROM api_tokens WHERE id = ?'),
      tokens: this.db.prepare('SELECT * FROM api_tokens ORDER BY id'),
      rules: this.db.prepare('SELECT scope, sensor, spec FROM alert_rules ORDER BY scope, sensor'),
      tokenUsed: this.db.prepare('UPDATE api_tokens SET last_used_at = MAX(COALESCE(last_used_at, 0), ?) WHERE id = ?'),
    }
  }

  private emit(change: MetadataChange): void {
    this.fanout.emit(change)
  }

  async getStation(id: string) {
    return this.registry.get(id)
  }

  async listStations() {
    return this.registry.list()
  }

  async addStation(input: NewStation, now = Date.now()) {
    const creds = await this.registry.add(input, now)
    this.emit({ kind: 'station', id: input.id })
    return creds
  }

  async updateStation(id: string, patch: StationPatch) {
    const station = this.registry.update(id, patch)
    this.emit({ kind: 'station', id })
    return station
  }

  async setEnabled(id: string, enabled: boolean) {
    this.registry.setEnabled(id, enabled)
    this.emit({ kind: 'station', id })
  }

  async setCalibration(id: string, kind: SensorKind, cal: Calibration) {
    this.registry.setCalibration(id, kind, cal)
    this.emit({ kind: 'station', id })
  }

  async removeStation(id: string) {
    this.registry.remove(id)
    this.emit({ kind: 'station', id })
  }

  async stationByCode(code: string) {
    return this.registry.byCode(code)
  }

  async touchStations(seen: ReadonlyMap<string, Sighting>) {
    this.registry.touchMany(seen)
  }

  async credentials(id: string) {
    return this.registry.credentials(id)
  }

  async listSecrets() {
    return (this.stmts.secrets.all() as Array<{ id: string; password_hash: string; enabled: number }>).map((r) => ({ id: r.id, hash: r.password_hash, enabled: r.enabled === 1 }))
  }

  async rotate(id: string, now = Date.now()) {
    const creds = await this.registry.rotate(id, now)
    this.emit({ kind: 'secret', id })
    return creds
  }

  async upgradeHash(id: string, from: string, to: string) {
    const done = this.registry.upgradeHash(id, from, to)
    if (done) this.emit({ kind: 'secret', id })
    return done
  }

  async recordCert(c: IssuedCertFields, now = Date.now()) {
    // record() stores only these fields; the PEMs are the caller's to keep.
    this.certs.record(c as IssuedCert, now)
    this.emit({ kind: 'cert', id: c.serial })
  }

  async listCerts(stationId: string) {
    return this.certs.list(stationId)
  }

  async revokeCerts(stationId: string, serial?: string, reason?: string, now = Date.now()) {
    const revoked = this.certs.revoke(stationId, serial, reason, now)
    for (const s of revoked) this.emit({ kind: 'cert', id: s })
    return revoked
  }

  async certRevoked(serial: string) {
    return this.registry.certRevoked(serial)
  }

  async revokedSerials() {
    return this.stmts.revoked.all() as string[]
  }

  async createToken(name: string, role: Role, now = Date.now()) {
    const created = this.tokens.create(name, role, now)
    this.emit({ kind: 'token', id: String(created.info.id) })
    return created
  }

  async listTokens(): Promise<TokenInfo[]> {
    return this.tokens.list()
  }

  async revokeToken(id: number, now = Date.now()) {
    this.tokens.revoke(id, now)
    this.emit({ kind: 'token', id: String(id) })
  }

  async verifyToken(token: string, now = Date.now()) {
    return this.tokens.verify(token, now)
  }

  async touchTokens(used: ReadonlyMap<number, number>) {
    this.db.transaction(() => {
      for (const [id, at] of used) this.stmts.tokenUsed.run(at, id)
    })()
  }

  async tokenRecord(id: number) {
    const row = this.stmts.token.get(id) as TokenRow | undefined
    return row ? tokenRecordOf(row) : undefined
  }

  async listTokenRecords() {
    return (this.stmts.tokens.all() as TokenRow[]).map(tokenRecordOf)
  }

  async rules(scope: string) {
    return this.book.overrides(scope)
  }

  async listRules(): Promise<StoredRule[]> {
    const out: StoredRule[] = []
    for (const r of this.stmts.rules.all() as Array<{ scope: string; sensor: string; spec: string }>) {
      // Same tolerance as RuleBook.refresh: a row that no longer parses is skipped, not fatal.
      const parsed = SensorRuleSchema.safeParse(JSON.parse(r.spec))
      if (parsed.success) out.push({ scope: r.scope, sensor: r.sensor, rule: parsed.data })
    }
    return out
  }

  async setRule(scope: string, sensor: string, input: unknown, now = Date.now()) {
    const rule = this.book.set(scope, sensor, input, now)
    this.emit({ kind: 'rule', id: scope })
    return rule
  }

  async deleteRule(scope: string, sensor: string) {
    const removed = this.book.remove(scope, sensor)
    if (removed) this.emit({ kind: 'rule', id: scope })
    return removed
  }

  async getSubscriber(id: number) {
    return this.subscribers.get(id)
  }

  async listSubscribers() {
    return this.subscribers.list()
  }

  async createSubscriber(input: SubscriberInput, now = Date.now()) {
    const created = this.subscribers.create(input, now)
    this.emit({ kind: 'subscriber', id: String(created.id) })
    return created
  }

  async updateSubscriber(id: number, patch: Partial<SubscriberInput>, now = Date.now()) {
    const updated = this.subscribers.update(id, patch, now)
    this.emit({ kind: 'subscriber', id: String(id) })
    return updated
  }

  async removeSubscriber(id: number) {
    this.subscribers.remove(id)
    this.emit({ kind: 'subscriber', id: String(id) })
  }

  watch(listener: MetadataListener): () => void {
    return this.fanout.add(listener)
  }

  /** The registry belongs to whoever opened it; closing the repository does not close it. */
  async close() {}
}
