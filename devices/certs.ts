import type { PeerCertificate } from 'node:tls'
import type Database from 'better-sqlite3'
import { TidewatchError } from '../core/errors.ts'
import { STATION_ID_PATTERN } from '../core/protocol.ts'

/**
 * Device certificates (mutual TLS, docs/SECURITY.md "Device certificates").
 *
 * A station may prove who it is with an X.509 client certificate issued by
 * the province's CA instead of its secret. Its identity is the certificate's
 * subject CN (or, without a usable CN, a DNS name in its subjectAltName), as
 * in Azure IoT Hub's X.509 CA authentication (device id = CN) and AWS IoT's
 * thing-name-from-certificate policies. The broker checks the chain in the
 * TLS handshake and, at CONNECT, the certificate's serial against the
 * revoked-serials table kept here (broker/hooks/authenticate.ts).
 *
 * Issuance uses the development CA (broker/tls/dev-ca.ts issueDeviceCert,
 * ca.key) or signs a CSR with it; a production CA signs outside tidewatch and
 * only its serials are recorded for revocation (cli/commands/device-certs.ts).
 * This module stays free of node-forge so the broker and the CLI load fast.
 */

/** Serials as the broker sees them: upper-case hex, no separators, no leading zeros (RFC 5280 §4.1.2.2: a positive integer). */
export function normalizeSerial(serial: string): string {
  const hex = canonicalSerial(serial)
  if (!/^[0-9A-F]{1,40}$/.test(hex)) throw new TidewatchError('BAD_REQUEST', { serial }, `not a certificate serial (hex, at most 20 bytes): "${serial}"`)
  return hex
}

/** The same form without the check, for what a TLS peer presents: the broker never throws on a client's input. */
export function canonicalSerial(serial: string): string {
  return serial.replace(/[:\s]/g, '').toUpperCase().replace(/^0+(?=.)/, '')
}

/** The station a peer certificate names: its CN, else the first subjectAltName DNS entry that is a station id. */
export function certIdentity(cert: Pick<PeerCertificate, 'subject' | 'subjectaltname'>): string | undefined {
  const cn = cert.subject?.CN
  const first = Array.isArray(cn) ? cn[0] : cn
  if (typeof first === 'string' && STATION_ID_PATTERN.test(first)) return first
  for (const entry of (cert.subjectaltname ?? '').split(',')) {
    const m = /^\s*DNS:(.+)$/.exec(entry)
    if (m && STATION_ID_PATTERN.test(m[1]!.trim())) return m[1]!.trim()
  }
  return undefined
}

export interface IssuedCert {
  stationId: string
  serial: string
  certPem: string
  /** Absent when the station made its own key (CSR). */
  keyPem?: string
  notAfter: Date
  fingerprint256: string
}

export interface CertRecord {
  serial: string
  stationId: string
  fingerprint256: string | null
  issuedAt: number
  notAfter: number | null
  revokedAt: number | null
}

/**
 * Issued and revoked certificate serials, in the registry database (tables
 * created by devices/registry.ts's migrations). Revocation is by serial, so
 * a certificate signed by the province's CA outside tidewatch can be revoked
 * too: its serial is recorded without an issuance row.
 */
export class DeviceCerts {
  constructor(private readonly db: Database.Database) {}

  record(c: IssuedCert, now = Date.now()): void {
    this.db
      .prepare('INSERT INTO device_certs (serial, station_id, fingerprint256, issued_at, not_after) VALUES (?, ?, ?, ?, ?)')
      .run(c.serial, c.stationId, c.fingerprint256, now, c.notAfter.getTime())
  }

  list(stationId: string): CertRecord[] {
    return this.db
      .prepare(
        `SELECT c.serial, c.station_id AS stationId, c.fingerprint256, c.issued_at AS issuedAt, c.not_after AS notAfter, r.revoked_at AS revokedAt
           FROM device_certs c LEFT JOIN revoked_certs r ON r.serial = c.serial WHERE c.station_id = ? ORDER BY c.issued_at`,
      )
      .all(stationId) as CertRecord[]
  }

  /**
   * Revokes one serial, or every certificate issued to the station that is
   * not revoked yet. Returns the serials newly revoked. A serial recorded as
   * issued to another station is refused (a typo would lock the wrong one out).
   */
  revoke(stationId: string, serial?: string, reason = 'unspecified', now = Date.now()): string[] {
    const insert = this.db.prepare('INSERT OR IGNORE INTO revoked_certs (serial, station_id, revoked_at, reason) VALUES (?, ?, ?, ?)')
    if (serial !== undefined) {
      const s = normalizeSerial(serial)
      const owner = (this.db.prepare('SELECT station_id FROM device_certs WHERE serial = ?').get(s) as { station_id: string } | undefined)?.station_id
      if (owner !== undefined && owner !== stationId) throw new TidewatchError('BAD_REQUEST', { serial: s, owner, stationId }, `certificate ${s} was issued to station ${owner}, not ${stationId}`)
      return insert.run(s, stationId, now, reason).changes === 1 ? [s] : []
    }
    const open = this.list(stationId).filter((c) => c.revokedAt === null)
    return this.db.transaction(() => open.filter((c) => insert.run(c.serial, stationId, now, reason).changes === 1).map((c) => c.serial))()
  }
}
