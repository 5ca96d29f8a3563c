import { X509Certificate, generateKeyPairSync, randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import type { PeerCertificate } from 'node:tls'
import type Database from 'better-sqlite3'
import forge from 'node-forge'
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
 * Issuance here uses the development CA (broker/tls/dev-ca.ts, ca.key) or
 * signs a CSR with it; a production CA signs outside tidewatch and only its
 * serials are recorded for revocation (cli/commands/device-certs.ts).
 */

/**
 * Default lifetime: 825 days, the same ceiling as the development server
 * certificate (broker/tls/dev-ca.ts, CA/Browser Forum ballot 193). A station
 * is renewed with `tidewatch devices cert <id>` before notAfter.
 */
export const DEVICE_CERT_DAYS = 825

/** Serials as the broker sees them: upper-case hex, no separators, no leading zeros (RFC 5280 §4.1.2.2: a positive integer). */
export function normalizeSerial(serial: string): string {
  const hex = serial.replace(/[:\s]/g, '').toUpperCase().replace(/^0+(?=.)/, '')
  if (!/^[0-9A-F]{1,40}$/.test(hex)) throw new TidewatchError('BAD_REQUEST', { serial }, `not a certificate serial (hex, at most 20 bytes): "${serial}"`)
  return hex
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

export interface DevCa {
  cert: forge.pki.Certificate
  key: forge.pki.rsa.PrivateKey
}

/** The development CA that `tidewatch certs dev` / `up` created; its key (ca.key) signs station certificates. */
export function loadDevCa(caFile: string, caKeyFile: string): DevCa {
  if (!existsSync(caFile) || !existsSync(caKeyFile)) {
    throw new TidewatchError('BAD_REQUEST', { caFile, caKeyFile }, `no development CA with its key at ${caFile} / ${caKeyFile}; run \`tidewatch certs dev\` first, or sign a CSR with the province's CA (tidewatch devices cert --help)`)
  }
  return {
    cert: forge.pki.certificateFromPem(readFileSync(caFile, 'utf8')),
    key: forge.pki.privateKeyFromPem(readFileSync(caKeyFile, 'utf8')) as forge.pki.rsa.PrivateKey,
  }
}

/**
 * A client certificate for `stationId` signed by the development CA: with a
 * new RSA-2048 key (returned, to be written 0600 and put on the device), or
 * for the public key of a CSR the station made itself. The CSR's subject is
 * replaced by CN=<stationId>; a CSR naming another CN is refused, because the
 * operator probably mixed up two stations' files.
 */
export function issueDeviceCert(ca: DevCa, stationId: string, opts: { csrPem?: string; validDays?: number; now?: number } = {}): IssuedCert {
  if (!STATION_ID_PATTERN.test(stationId)) throw new TidewatchError('STATION_ID_INVALID', { id: stationId })
  let publicKey: forge.pki.PublicKey
  let keyPem: string | undefined
  if (opts.csrPem !== undefined) {
    let csr: forge.pki.CertificateSigningRequest
    try {
      csr = forge.pki.certificationRequestFromPem(opts.csrPem)
    } catch (err) {
      throw new TidewatchError('BAD_REQUEST', {}, `not a PEM certificate signing request (RSA keys only): ${(err as Error).message}`)
    }
    if (!csr.verify()) throw new TidewatchError('BAD_REQUEST', {}, 'the CSR signature does not verify')
    const cn = csr.subject.getField('CN')?.value as string | undefined
    if (cn !== undefined && cn !== stationId) throw new TidewatchError('BAD_REQUEST', { cn, stationId }, `the CSR is for CN=${cn}, not station ${stationId}`)
    publicKey = csr.publicKey!
  } else {
    // node:crypto generates the key (native, fast); forge only signs.
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    const priv = forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()) as forge.pki.rsa.PrivateKey
    publicKey = forge.pki.setRsaPublicKey(priv.n, priv.e)
  }
  const cert = forge.pki.createCertificate()
  cert.publicKey = publicKey
  // Positive (leading 01) and 128 bits of randomness, RFC 5280 §4.1.2.2 and CA/B Forum BR §7.1 (≥ 64 bits).
  cert.serialNumber = '01' + randomBytes(16).toString('hex')
  const notBefore = new Date((opts.now ?? Date.now()) - 60_000)
  cert.validity.notBefore = notBefore
  cert.validity.notAfter = new Date(notBefore.getTime() + (opts.validDays ?? DEVICE_CERT_DAYS) * 86_400_000)
  cert.setSubject([{ name: 'commonName', value: stationId }])
  cert.setIssuer(ca.cert.subject.attributes)
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', clientAuth: true },
    { name: 'subjectAltName', altNames: [{ type: 2, value: stationId }] },
  ])
  cert.sign(ca.key, forge.md.sha256.create())
  const certPem = forge.pki.certificateToPem(cert)
  const x509 = new X509Certificate(certPem)
  return { stationId, serial: normalizeSerial(x509.serialNumber), certPem, keyPem, notAfter: cert.validity.notAfter, fingerprint256: x509.fingerprint256 }
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
