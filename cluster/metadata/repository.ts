import type { Calibration } from '../../core/reading.ts'
import type { SensorKind } from '../../core/sensors.ts'
import type { CertRecord, IssuedCert } from '../../devices/certs.ts'
import type { Credentials, NewStation, Sighting, Station } from '../../devices/registry.ts'
import { tokenInfoOf, type Principal, type Role, type TokenInfo, type TokenRow } from '../../core/tokens.ts'
import type { SensorRule } from '../../levels/rules.ts'
import type { Subscriber, SubscriberInput } from '../../alerts/subscribers.ts'

/**
 * The metadata every node needs, behind one async interface (issue 16):
 * stations and their sensors, station secrets, revoked certificate serials,
 * API tokens, stored alert rules and SMS subscribers. Two implementations:
 * - sqlite.ts: the embedded default, the existing Registry, TokenStore,
 *   DeviceCerts and alert_rules tables of one node;
 * - postgres.ts: cluster mode, shared by every node, with a change feed
 *   that reaches the other nodes through LISTEN/NOTIFY.
 * Both give the same stable error codes (core/errors.ts) for the same bad
 * input; tests/cluster/repository.suite.ts runs against both.
 *
 * It lives in cluster/ (the layer that composes features, like cli/): it
 * names types of devices/, api/auth/ and levels/, which no single feature
 * folder may import from another. The hot path (broker CONNECT, ingest)
 * never calls it: it reads a MetadataReplica (replica.ts) kept in memory.
 */

/** What changed, named by its key: a station id, a token id, a certificate serial, a rule scope, a subscriber id. */
export type MetadataChangeKind = 'station' | 'secret' | 'token' | 'rule' | 'cert' | 'subscriber'

export type MetadataChange =
  | { kind: MetadataChangeKind; id: string }
  /** Changes may have been missed (the feed reconnected): reload everything. */
  | { kind: 'resync' }

export type MetadataListener = (change: MetadataChange) => void

/** A station's stored secret hash and enabled flag: what the broker checks at CONNECT. */
export interface StationSecret {
  id: string
  hash: string
  enabled: boolean
}

/** A stored API token: its info and the SHA-256 of its secret (core/tokens.ts tokenHash). */
export interface TokenRecord extends TokenInfo {
  hash: string
}

/** What is recorded of an issued certificate (devices/certs.ts DeviceCerts.record). */
export type IssuedCertFields = Pick<IssuedCert, 'serial' | 'stationId' | 'fingerprint256' | 'notAfter'>

export function tokenRecordOf(r: TokenRow): TokenRecord {
  return { ...tokenInfoOf(r), hash: r.hash }
}

export interface StoredRule {
  scope: string
  sensor: string
  rule: SensorRule
}

export type StationPatch = Partial<Pick<Station, 'name' | 'commune' | 'district' | 'lat' | 'lon' | 'coast' | 'zone' | 'code' | 'intervalSec' | 'enabled'>>

export interface MetadataRepository {
  readonly backend: 'sqlite' | 'postgres'

  // Stations (devices/registry.ts semantics and error codes).
  getStation(id: string): Promise<Station | undefined>
  listStations(): Promise<Station[]>
  /** Registers a station; the password is returned once and only its hash is kept. STATION_EXISTS, STATION_ID_INVALID, … */
  addStation(input: NewStation, now?: number): Promise<Credentials>
  updateStation(id: string, patch: StationPatch): Promise<Station>
  setEnabled(id: string, enabled: boolean): Promise<void>
  setCalibration(id: string, kind: SensorKind, cal: Calibration): Promise<void>
  /** Removes the station (it can no longer log in); its revoked serials stay. */
  removeStation(id: string): Promise<void>
  /** The station a short SMS code names (case-insensitive). */
  stationByCode(code: string): Promise<string | undefined>
  /**
   * Last-seen times and clock offsets (devices/registry.ts touchMany), batched
   * by the caller. A time never moves back (two edges may report one station);
   * unknown stations are skipped. Announces nothing: these columns change all
   * the time and no replica serves them.
   */
  touchStations(seen: ReadonlyMap<string, Sighting>): Promise<void>

  // Secrets.
  credentials(id: string): Promise<{ hash: string; enabled: boolean } | undefined>
  /** Every station's secret hash, for a replica's full load. */
  listSecrets(): Promise<StationSecret[]>
  /** Issues a new secret; the old one stops working (on every node once the change arrives). */
  rotate(id: string, now?: number): Promise<Credentials>
  /** Compare-and-set of a legacy hash to the fast one (core/password.ts); false when a rotation landed in between. */
  upgradeHash(id: string, from: string, to: string): Promise<boolean>

  // Device certificates (devices/certs.ts semantics).
  recordCert(c: IssuedCertFields, now?: number): Promise<void>
  listCerts(stationId: string): Promise<CertRecord[]>
  /** Revokes one serial, or every open certificate of the station; returns the serials newly revoked. */
  revokeCerts(stationId: string, serial?: string, reason?: string, now?: number): Promise<string[]>
  certRevoked(serial: string): Promise<boolean>
  revokedSerials(): Promise<string[]>

  // API tokens (api/auth/tokens.ts semantics; the bootstrap token is config, not stored).
  createToken(name: string, role: Role, now?: number): Promise<{ token: string; info: TokenInfo }>
  listTokens(): Promise<TokenInfo[]>
  /** NOT_FOUND when no active token has this id. */
  revokeToken(id: number, now?: number): Promise<void>
  verifyToken(token: string, now?: number): Promise<Principal | undefined>
  /** Records when tokens were last used (id → ms), batched by a replica; a time never moves back. */
  touchTokens(used: ReadonlyMap<number, number>): Promise<void>
  tokenRecord(id: number): Promise<TokenRecord | undefined>
  listTokenRecords(): Promise<TokenRecord[]>

  // Stored alert rules (levels/book.ts: scope 'default', 'zone:<zone>' or a station id).
  rules(scope: string): Promise<Record<string, SensorRule>>
  listRules(): Promise<StoredRule[]>
  /** Validates (ALERT_RULE_INVALID) and stores; returns the rule as stored. */
  setRule(scope: string, sensor: string, input: unknown, now?: number): Promise<SensorRule>
  deleteRule(scope: string, sensor: string): Promise<boolean>

  // SMS (and email, webhook) subscribers (alerts/subscribers.ts semantics and error codes:
  // SUBSCRIBER_INVALID, SUBSCRIBER_EXISTS on a phone already subscribed, SUBSCRIBER_NOT_FOUND).
  getSubscriber(id: number): Promise<Subscriber | undefined>
  listSubscribers(): Promise<Subscriber[]>
  createSubscriber(input: SubscriberInput, now?: number): Promise<Subscriber>
  updateSubscriber(id: number, patch: Partial<SubscriberInput>, now?: number): Promise<Subscriber>
  removeSubscriber(id: number): Promise<void>

  /**
   * Calls `listener` after each committed change, on this node and (PostgreSQL)
   * on every other node. Returns the unsubscribe function.
   */
  watch(listener: MetadataListener): () => void
  close(): Promise<void>
}

/** Calls every listener; one that throws is not allowed to stop the others or the writer. */
export class ChangeFanout {
  private readonly listeners = new Set<MetadataListener>()

  constructor(private readonly onError: (err: unknown) => void) {}

  add(listener: MetadataListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  emit(change: MetadataChange): void {
    for (const l of this.listeners) {
      try {
        l(change)
      } catch (err) {
        this.onError(err)
      }
    }
  }
}
