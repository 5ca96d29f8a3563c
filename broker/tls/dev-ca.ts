import { X509Certificate, generateKeyPairSync, randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import forge from 'node-forge'
import { TidewatchError } from '../../core/errors.ts'
import { STATION_ID_PATTERN } from '../../core/protocol.ts'
import { normalizeSerial, type IssuedCert } from '../../devices/certs.ts'

/**
 * A development CA and a server certificate signed by it, for the demo and
 * the tests. Production deployments use a certificate from the province's
 * PKI or a public CA; see docs/PROTOCOL.md "TLS".
 *
 * The CA is the one thing here that must not be replaced by accident: every
 * station was given ca.crt, and a new CA makes all of them fail TLS at once.
 * So an existing CA is only replaced with `force`, and the CA key is kept
 * (ca.key, 0600) so a server certificate can be re-issued — a new host name,
 * a renewal, a deleted server.key — under the CA the stations already trust.
 */
export interface DevCertPaths {
  caFile: string
  certFile: string
  keyFile: string
}

export interface DevCertOptions {
  /** Replace an existing CA (and every station's trust in it). Default false. */
  readonly force?: boolean
  /**
   * Default 825 days: the longest server-certificate lifetime that iOS 13 /
   * macOS 10.15 accept (Apple, "Requirements for trusted certificates in
   * iOS 13 and macOS 10.15"), matching CA/Browser Forum ballot 193 (2018).
   */
  readonly validDays?: number
}

export interface DevCertResult extends DevCertPaths {
  /** 'created' (new CA + server cert), 'reissued' (server cert under the existing CA) or 'reused' (nothing written). */
  readonly action: 'created' | 'reissued' | 'reused'
}

const CA_SUBJECT = [
  { name: 'commonName', value: 'tidewatch development CA' },
  { name: 'organizationName', value: 'tidewatch (development only)' },
]

export function devCertPaths(dir: string): DevCertPaths & { caKeyFile: string } {
  return { caFile: join(dir, 'ca.crt'), caKeyFile: join(dir, 'ca.key'), certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key') }
}

function rsaKeyPair(): forge.pki.rsa.KeyPair {
  // node:crypto generates the key (fast, native); forge only signs.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()
  const priv = forge.pki.privateKeyFromPem(pem) as forge.pki.rsa.PrivateKey
  return { privateKey: priv, publicKey: forge.pki.setRsaPublicKey(priv.n, priv.e) }
}

function serial(): string {
  // Positive, per RFC 5280 §4.1.2.2.
  return '01' + randomBytes(15).toString('hex')
}

function validity(validDays: number): { notBefore: Date; notAfter: Date } {
  // A minute of slack for clocks that are slightly behind.
  const notBefore = new Date(Date.now() - 60_000)
  return { notBefore, notAfter: new Date(notBefore.getTime() + validDays * 86_400_000) }
}

function writeKey(file: string, key: forge.pki.PrivateKey): void {
  writeFileSync(file, forge.pki.privateKeyToPem(key), { mode: 0o600 })
  chmodSync(file, 0o600)
}

function issueServerCert(paths: DevCertPaths, caKey: forge.pki.rsa.PrivateKey, hostnames: readonly string[], validDays: number): void {
  const keys = rsaKeyPair()
  const cert = forge.pki.createCertificate()
  cert.publicKey = keys.publicKey
  cert.serialNumber = serial()
  Object.assign(cert.validity, validity(validDays))
  cert.setSubject([{ name: 'commonName', value: hostnames[0] ?? 'localhost' }])
  cert.setIssuer(CA_SUBJECT)
  const altNames = [
    ...hostnames.map((h) => (/^[\d.]+$/.test(h) ? { type: 7, ip: h } : { type: 2, value: h })),
    { type: 7, ip: '127.0.0.1' },
  ]
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames },
  ])
  cert.sign(caKey, forge.md.sha256.create())
  writeFileSync(paths.certFile, forge.pki.certificateToPem(cert))
  writeKey(paths.keyFile, keys.privateKey)
}

function caExistsError(file: string, reason: string): TidewatchError {
  return new TidewatchError(
    'TLS_CA_EXISTS',
    { file },
    `${reason}: a development CA already exists at ${file}. Stations trust it; replacing it makes every station fail TLS. Re-run with --force to replace it anyway.`,
  )
}

/**
 * Creates a new CA and a server certificate in `dir`. Refuses (TLS_CA_EXISTS)
 * when `dir` already holds a CA, unless `force`.
 */
export function createDevCertificates(dir: string, hostnames: readonly string[] = ['localhost'], options: DevCertOptions = {}): DevCertPaths {
  const validDays = options.validDays ?? 825
  const paths = devCertPaths(dir)
  if (existsSync(paths.caFile) && !options.force) throw caExistsError(paths.caFile, 'not replaced')
  mkdirSync(dir, { recursive: true })

  const caKeys = rsaKeyPair()
  const ca = forge.pki.createCertificate()
  ca.publicKey = caKeys.publicKey
  ca.serialNumber = serial()
  Object.assign(ca.validity, validity(validDays))
  ca.setSubject(CA_SUBJECT)
  ca.setIssuer(CA_SUBJECT)
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ])
  ca.sign(caKeys.privateKey, forge.md.sha256.create())

  writeFileSync(paths.caFile, forge.pki.certificateToPem(ca))
  writeKey(paths.caKeyFile, caKeys.privateKey)
  issueServerCert(paths, caKeys.privateKey, hostnames, validDays)
  return { caFile: paths.caFile, certFile: paths.certFile, keyFile: paths.keyFile }
}

/**
 * What `tidewatch up` and `certs dev` call: never replaces an existing CA.
 * - nothing there: a new CA and server certificate ('created');
 * - CA and server certificate there: nothing written ('reused');
 * - CA there but the server certificate or key missing: a new server
 *   certificate signed by the existing CA key ('reissued'). If the CA key is
 *   missing too (a CA made before the key was kept), nothing can sign: this
 *   throws TLS_CA_EXISTS rather than replace the CA.
 * With `force`, a new CA is created whatever is there.
 */
export function ensureDevCertificates(dir: string, hostnames: readonly string[] = ['localhost'], options: DevCertOptions = {}): DevCertResult {
  const paths = devCertPaths(dir)
  const out = { caFile: paths.caFile, certFile: paths.certFile, keyFile: paths.keyFile }
  if (options.force || !existsSync(paths.caFile)) return { ...createDevCertificates(dir, hostnames, { ...options, force: true }), action: 'created' }
  if (existsSync(paths.certFile) && existsSync(paths.keyFile)) return { ...out, action: 'reused' }
  if (!existsSync(paths.caKeyFile)) throw caExistsError(paths.caFile, `no CA key (${paths.caKeyFile}) to sign a new server certificate with`)
  const caKey = forge.pki.privateKeyFromPem(readFileSync(paths.caKeyFile, 'utf8')) as forge.pki.rsa.PrivateKey
  issueServerCert(paths, caKey, hostnames, options.validDays ?? 825)
  return { ...out, action: 'reissued' }
}

// ---- station (client) certificates: devices/certs.ts, docs/SECURITY.md "Device certificates" ----

/**
 * Default lifetime: 825 days, the same ceiling as the development server
 * certificate (broker/tls/dev-ca.ts, CA/Browser Forum ballot 193). A station
 * is renewed with `tidewatch devices cert <id>` before notAfter.
 */
export const DEVICE_CERT_DAYS = 825

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
