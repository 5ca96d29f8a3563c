import Database from 'better-sqlite3'
import { migrate, openDatabase } from '../core/sqlite.ts'
import { TidewatchError } from '../core/errors.ts'
import { STATION_ID_PATTERN } from '../core/protocol.ts'
import { CORE_SENSORS, isSensorKind, type SensorKind } from '../core/sensors.ts'
import { DEFAULT_ZONE, isZone, ZONES, type Zone } from '../levels/zones.ts'
import type { Calibration, StationContext } from '../core/reading.ts'
import { dummyHash, generatePassword, hashDeviceSecret, needsRehash, verifyPassword } from '../core/password.ts'

/**
 * The station registry: SQLite (better-sqlite3) in the data dir. Other
 * components (alerter, API) add their own tables to the same database
 * through `registry.db`, each with its own migrations.
 */
export type Coast = 'east' | 'west' | 'inland'

export interface SensorConfig extends Calibration {
  kind: SensorKind
}

export interface Station {
  id: string
  name: string
  commune: string | null
  district: string | null
  lat: number
  lon: number
  coast: Coast | null
  /** What the water is used for; decides the rules and the advice (levels/zones.ts). */
  zone: Zone
  /** Short code a farmer types on a keypad to subscribe by SMS ("DK SD01"); null when none. */
  code: string | null
  /** Expected reporting interval; the alerter's no-data rule uses 3x this. */
  intervalSec: number
  sensors: SensorConfig[]
  enabled: boolean
  createdAt: number
  lastSeenAt: number | null
  /** Device clock minus data-center clock, seconds, from the last live single reading; null if unknown. */
  clockOffsetSec: number | null
  clockCheckedAt: number | null
}

/** What the ingest learned about a station since the last flush. */
export interface Sighting {
  lastSeenAt: number
  clockOffsetMs?: number
}

export interface NewStation {
  id: string
  name: string
  commune?: string | null
  district?: string | null
  lat: number
  lon: number
  coast?: Coast | null
  zone?: Zone
  code?: string | null
  intervalSec?: number
  sensors?: Array<SensorKind | SensorConfig>
}

export interface Credentials {
  id: string
  username: string
  password: string
}

/**
 * A row of the stations table, as both stores keep it: this SQLite registry and
 * the cluster's PostgreSQL repository (cluster/metadata/postgres.ts).
 * `enabled` is 0/1 in SQLite and a boolean in PostgreSQL.
 */
export interface StationRow {
  id: string
  name: string
  commune: string | null
  district: string | null
  lat: number
  lon: number
  coast: Coast | null
  zone: string
  code: string | null
  interval_s: number
  enabled: number | boolean
  created_at: number
  last_seen_at: number | null
  clock_offset_s: number | null
  clock_checked_at: number | null
}

const MIGRATIONS: string[] = [
  `CREATE TABLE stations (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     commune TEXT,
     district TEXT,
     lat REAL NOT NULL,
     lon REAL NOT NULL,
     coast TEXT,
     interval_s INTEGER NOT NULL DEFAULT 900,
     enabled INTEGER NOT NULL DEFAULT 1,
     created_at INTEGER NOT NULL,
     last_seen_at INTEGER,
     password_hash TEXT NOT NULL,
     credentials_rotated_at INTEGER NOT NULL
   );
   CREATE TABLE station_sensors (
     station_id TEXT NOT NULL REFERENCES stations(id) ON DELETE CASCADE,
     kind TEXT NOT NULL,
     cal_offset REAL NOT NULL DEFAULT 0,
     cal_scale REAL NOT NULL DEFAULT 1,
     PRIMARY KEY (station_id, kind)
   );`,
  // Clock health: the station's clock offset as last estimated by the ingest.
  `ALTER TABLE stations ADD COLUMN clock_offset_s REAL;
   ALTER TABLE stations ADD COLUMN clock_checked_at INTEGER;`,
  // Water-use zones; stations from before zones keep the rule they had (rice, levels/zones.ts DEFAULT_ZONE).
  // Short SMS codes are unique ignoring case.
  `ALTER TABLE stations ADD COLUMN zone TEXT NOT NULL DEFAULT 'rice';
   ALTER TABLE stations ADD COLUMN code TEXT;
   CREATE UNIQUE INDEX stations_code ON stations (code COLLATE NOCASE) WHERE code IS NOT NULL;`,
  // Device certificates (devices/certs.ts): what was issued, and the revoked
  // serials the broker checks at CONNECT. No foreign key to stations: a
  // revocation must outlive the station row it was made for.
  `CREATE TABLE device_certs (
     serial TEXT PRIMARY KEY,
     station_id TEXT NOT NULL,
     fingerprint256 TEXT,
     issued_at INTEGER NOT NULL,
     not_after INTEGER
   );
   CREATE INDEX device_certs_station ON device_certs (station_id);
   CREATE TABLE revoked_certs (
     serial TEXT PRIMARY KEY,
     station_id TEXT,
     revoked_at INTEGER NOT NULL,
     reason TEXT
   );`,
]

/** A station's SMS code: 2–4 letters then 1–3 digits, typed on a keypad (SD01, NC1). */
export const STATION_CODE_PATTERN = /^[A-Z]{2,4}[0-9]{1,3}$/

export function normalizeStationCode(code: string): string {
  return code.trim().toUpperCase()
}

export function checkZone(zone: string): Zone {
  if (!isZone(zone)) throw new TidewatchError('STATION_ZONE_INVALID', { zone }, `unknown zone "${zone}"; zones are ${ZONES.join(', ')}`)
  return zone
}

export function checkCode(code: string | null | undefined): string | null {
  if (code === null || code === undefined || code === '') return null
  const c = normalizeStationCode(code)
  if (!STATION_CODE_PATTERN.test(c)) throw new TidewatchError('STATION_CODE_INVALID', { code }, 'a station code is 2–4 letters then 1–3 digits, e.g. SD01')
  return c
}

export function validateStationId(id: string): void {
  if (!STATION_ID_PATTERN.test(id)) throw new TidewatchError('STATION_ID_INVALID', { id })
}

/** A stations row and its sensors as a Station (both stores). */
export function stationFromRow(row: StationRow, sensors: SensorConfig[]): Station {
  return {
    id: row.id,
    name: row.name,
    commune: row.commune,
    district: row.district,
    lat: row.lat,
    lon: row.lon,
    coast: row.coast,
    zone: isZone(row.zone) ? row.zone : DEFAULT_ZONE,
    code: row.code,
    intervalSec: row.interval_s,
    sensors,
    enabled: row.enabled === true || row.enabled === 1,
    createdAt: row.created_at,
    lastSeenAt: row.last_seen_at,
    clockOffsetSec: row.clock_offset_s,
    clockCheckedAt: row.clock_checked_at,
  }
}

/** WGS 84 bounds (both stores refuse a station outside them). */
export function checkPosition(lat: number, lon: number, details: Record<string, unknown>): void {
  if (!(lat >= -90 && lat <= 90) || !(lon >= -180 && lon <= 180)) {
    throw new TidewatchError('BAD_REQUEST', { ...details, lat, lon }, 'lat must be within -90..90 and lon within -180..180')
  }
}

/** What the ingest needs to validate a reading: enabled flag and calibration (both stores). */
export function stationContext(station: Station): StationContext {
  const calibration: StationContext['calibration'] = {}
  for (const s of station.sensors) calibration[s.kind] = { offset: s.offset, scale: s.scale }
  return { id: station.id, enabled: station.enabled, calibration }
}

export class Registry {
  readonly db: Database.Database
  private readonly stmts

  constructor(db: Database.Database) {
    this.db = db
    migrate(db, 'registry', MIGRATIONS)
    this.stmts = {
      get: db.prepare('SELECT * FROM stations WHERE id = ?'),
      list: db.prepare('SELECT * FROM stations ORDER BY id'),
      sensors: db.prepare('SELECT kind, cal_offset, cal_scale FROM station_sensors WHERE station_id = ? ORDER BY kind'),
      allSensors: db.prepare('SELECT station_id, kind, cal_offset, cal_scale FROM station_sensors ORDER BY station_id, kind'),
      hash: db.prepare('SELECT password_hash, enabled FROM stations WHERE id = ?'),
      insert: db.prepare(
        `INSERT INTO stations (id, name, commune, district, lat, lon, coast, zone, code, interval_s, enabled, created_at, password_hash, credentials_rotated_at)
         VALUES (@id, @name, @commune, @district, @lat, @lon, @coast, @zone, @code, @interval_s, 1, @now, @hash, @now)`,
      ),
      insertSensor: db.prepare('INSERT OR REPLACE INTO station_sensors (station_id, kind, cal_offset, cal_scale) VALUES (?, ?, ?, ?)'),
      setHash: db.prepare('UPDATE stations SET password_hash = ?, credentials_rotated_at = ? WHERE id = ?'),
      // Compare-and-set: a rotation that landed since the check is never overwritten.
      upgradeHash: db.prepare('UPDATE stations SET password_hash = ? WHERE id = ? AND password_hash = ?'),
      certRevoked: db.prepare('SELECT 1 FROM revoked_certs WHERE serial = ?').pluck(),
      setEnabled: db.prepare('UPDATE stations SET enabled = ? WHERE id = ?'),
      touch: db.prepare('UPDATE stations SET last_seen_at = MAX(COALESCE(last_seen_at, 0), ?) WHERE id = ?'),
      clock: db.prepare('UPDATE stations SET clock_offset_s = ?, clock_checked_at = ? WHERE id = ?'),
      byCode: db.prepare('SELECT id FROM stations WHERE code = ? COLLATE NOCASE'),
      zones: db.prepare('SELECT id, zone FROM stations'),
      dataVersion: db.prepare('PRAGMA data_version').pluck(),
    }
  }

  private zoneCache: Map<string, Zone> | null = null
  private zoneGen = 0
  /** Writes through this connection that change what context() answers, or who may stay connected (PRAGMA data_version counts only the other connections'). */
  private contextWrites = 0

  /**
   * Changes whenever context() may answer differently for some station:
   * after a write through this connection, or a commit by another one (the
   * CLI, the cluster mirror). One SQLite pragma, so the ingest can check it
   * once a second instead of re-reading every station's row and sensors.
   */
  contextVersion(): string {
    return `${this.stmts.dataVersion.get() as number}:${this.contextWrites}`
  }
  private zoneVersion = -1

  /** The station's zone (cached; see syncZones), null when unknown. Part of levels/book.ts ZoneDirectory. */
  zoneOf(id: string): Zone | null {
    if (!this.zoneCache) {
      this.zoneCache = new Map()
      for (const r of this.stmts.zones.all() as Array<{ id: string; zone: string }>) this.zoneCache.set(r.id, isZone(r.zone) ? r.zone : DEFAULT_ZONE)
    }
    return this.zoneCache.get(id) ?? null
  }

  zoneGeneration(): number {
    return this.zoneGen
  }

  /** Drops cached zones when another connection (the CLI) committed; the rule book calls it once per batch. */
  syncZones(): void {
    const v = this.stmts.dataVersion.get() as number
    if (v !== this.zoneVersion) {
      this.zoneVersion = v
      this.zonesChanged()
    }
  }

  private zonesChanged(): void {
    this.zoneCache = null
    this.zoneGen++
  }

  /** The station a short SMS code names (case-insensitive), if any. */
  byCode(code: string): string | undefined {
    return (this.stmts.byCode.get(normalizeStationCode(code)) as { id: string } | undefined)?.id
  }

  static open(file: string): Registry {
    return new Registry(openDatabase(file))
  }

  close(): void {
    this.db.close()
  }

  private sensorsOf(id: string): SensorConfig[] {
    return (this.stmts.sensors.all(id) as Array<{ kind: SensorKind; cal_offset: number; cal_scale: number }>).map((s) => ({
      kind: s.kind,
      offset: s.cal_offset,
      scale: s.cal_scale,
    }))
  }

  get(id: string): Station | undefined {
    const row = this.stmts.get.get(id) as StationRow | undefined
    return row ? stationFromRow(row, this.sensorsOf(id)) : undefined
  }

  require(id: string): Station {
    const station = this.get(id)
    if (!station) throw new TidewatchError('STATION_NOT_FOUND', { id }, `Station "${id}" not found`)
    return station
  }

  list(): Station[] {
    const sensors = new Map<string, SensorConfig[]>()
    for (const s of this.stmts.allSensors.all() as Array<{ station_id: string; kind: SensorKind; cal_offset: number; cal_scale: number }>) {
      const list = sensors.get(s.station_id) ?? []
      list.push({ kind: s.kind, offset: s.cal_offset, scale: s.cal_scale })
      sensors.set(s.station_id, list)
    }
    return (this.stmts.list.all() as StationRow[]).map((row) => stationFromRow(row, sensors.get(row.id) ?? []))
  }

  /** What the ingest needs to validate a reading: enabled flag and calibration. */
  context(id: string): StationContext | undefined {
    const station = this.get(id)
    return station ? stationContext(station) : undefined
  }

  /** Registers a station and returns its credentials. The password is shown once and only its hash is kept. */
  async add(input: NewStation, now = Date.now()): Promise<Credentials> {
    validateStationId(input.id)
    if (this.get(input.id)) throw new TidewatchError('STATION_EXISTS', { id: input.id })
    checkPosition(input.lat, input.lon, { id: input.id })
    const zone = checkZone(input.zone ?? DEFAULT_ZONE)
    const code = checkCode(input.code)
    if (code !== null && this.byCode(code)) throw new TidewatchError('STATION_CODE_TAKEN', { code })
    const sensors = (input.sensors ?? [...CORE_SENSORS]).map((s) => (typeof s === 'string' ? { kind: s, offset: 0, scale: 1 } : s))
    for (const s of sensors) {
      if (!isSensorKind(s.kind)) throw new TidewatchError('BAD_REQUEST', { sensor: s.kind }, `unknown sensor kind "${s.kind}"`)
    }
    const password = generatePassword()
    const hash = hashDeviceSecret(password)
    this.db.transaction(() => {
      this.stmts.insert.run({
        id: input.id,
        name: input.name,
        commune: input.commune ?? null,
        district: input.district ?? null,
        lat: input.lat,
        lon: input.lon,
        coast: input.coast ?? null,
        zone,
        code,
        interval_s: input.intervalSec ?? 900,
        now,
        hash,
      })
      for (const s of sensors) this.stmts.insertSensor.run(input.id, s.kind, s.offset, s.scale)
    })()
    this.contextWrites++
    this.zonesChanged()
    return { id: input.id, username: input.id, password }
  }

  /** Issues a new password; the old one stops working at once (the broker checks the hash on every CONNECT). */
  async rotate(id: string, now = Date.now()): Promise<Credentials> {
    this.require(id)
    const password = generatePassword()
    this.stmts.setHash.run(hashDeviceSecret(password), now, id)
    // The broker's session guard reads contextVersion to cut sessions of the old secret.
    this.contextWrites++
    return { id, username: id, password }
  }

  /** Changes a station's descriptive fields; credentials and sensors have their own methods. */
  update(id: string, patch: Partial<Pick<Station, 'name' | 'commune' | 'district' | 'lat' | 'lon' | 'coast' | 'zone' | 'code' | 'intervalSec' | 'enabled'>>): Station {
    const current = this.require(id)
    const next = { ...current, ...patch }
    next.zone = checkZone(next.zone)
    next.code = checkCode(next.code)
    if (next.code !== null && next.code !== current.code) {
      const owner = this.byCode(next.code)
      if (owner !== undefined && owner !== id) throw new TidewatchError('STATION_CODE_TAKEN', { code: next.code })
    }
    checkPosition(next.lat, next.lon, {})
    this.db
      .prepare('UPDATE stations SET name = ?, commune = ?, district = ?, lat = ?, lon = ?, coast = ?, zone = ?, code = ?, interval_s = ?, enabled = ? WHERE id = ?')
      .run(next.name, next.commune, next.district, next.lat, next.lon, next.coast, next.zone, next.code, next.intervalSec, next.enabled ? 1 : 0, id)
    this.contextWrites++
    if (next.zone !== current.zone) this.zonesChanged()
    return this.require(id)
  }

  /** Removes a station from the registry (it can no longer log in); its stored readings stay in InfluxDB. */
  remove(id: string): void {
    this.require(id)
    this.db.prepare('DELETE FROM stations WHERE id = ?').run(id)
    this.contextWrites++
    this.zonesChanged()
  }

  setEnabled(id: string, enabled: boolean): void {
    this.require(id)
    this.stmts.setEnabled.run(enabled ? 1 : 0, id)
    this.contextWrites++
  }

  setCalibration(id: string, kind: SensorKind, cal: Calibration): void {
    this.require(id)
    this.stmts.insertSensor.run(id, kind, cal.offset, cal.scale)
    this.contextWrites++
  }

  private dummy: Promise<string> | undefined
  /** Checks station credentials. Returns the reason on failure so the broker can pick the CONNACK code. */
  async authenticate(id: string, password: string): Promise<'ok' | 'bad_credentials' | 'disabled'> {
    const row = this.stmts.hash.get(id) as { password_hash: string; enabled: number } | undefined
    // An unknown id costs a scrypt too, so timing does not tell which ids exist.
    this.dummy ??= dummyHash()
    if (!(await verifyPassword(password, row?.password_hash ?? (await this.dummy))) || !row) return 'bad_credentials'
    if (needsRehash(row.password_hash)) this.upgradeHash(id, row.password_hash, hashDeviceSecret(password))
    return row.enabled === 1 ? 'ok' : 'disabled'
  }

  /**
   * Replaces a legacy (scrypt) station hash by the fast one after the secret
   * verified (core/password.ts). Not a rotation: the secret is the same.
   * False when the stored hash changed in between (a rotation wins).
   */
  upgradeHash(id: string, from: string, to: string): boolean {
    return this.stmts.upgradeHash.run(to, id, from).changes === 1
  }

  credentials(id: string): { hash: string; enabled: boolean } | undefined {
    const row = this.stmts.hash.get(id) as { password_hash: string; enabled: number } | undefined
    return row ? { hash: row.password_hash, enabled: row.enabled === 1 } : undefined
  }

  verify(password: string, hash: string): Promise<boolean> {
    return verifyPassword(password, hash)
  }

  /** Whether a client certificate serial (normalized, devices/certs.ts) is revoked; read on every certificate CONNECT so a revocation takes effect at once. */
  certRevoked(serial: string): boolean {
    return this.stmts.certRevoked.get(serial) !== undefined
  }

  /** Records when a station was last heard from; batched by the caller. */
  touchMany(seen: ReadonlyMap<string, Sighting>): void {
    this.db.transaction(() => {
      for (const [id, s] of seen) {
        this.stmts.touch.run(s.lastSeenAt, id)
        if (s.clockOffsetMs !== undefined) this.stmts.clock.run(Math.round(s.clockOffsetMs / 100) / 10, s.lastSeenAt, id)
      }
    })()
  }
}
