import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import forge from 'node-forge'

/**
 * A development CA and a server certificate signed by it, for the demo and
 * the tests. Production deployments use a certificate from the province's
 * PKI or a public CA; see docs/PROTOCOL.md "TLS".
 */
export interface DevCertPaths {
  caFile: string
  certFile: string
  keyFile: string
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

export function createDevCertificates(dir: string, hostnames: readonly string[] = ['localhost'], validDays = 825): DevCertPaths {
  mkdirSync(dir, { recursive: true })
  const now = new Date(Date.now() - 60_000)
  const until = new Date(now.getTime() + validDays * 86_400_000)

  const caKeys = rsaKeyPair()
  const ca = forge.pki.createCertificate()
  ca.publicKey = caKeys.publicKey
  ca.serialNumber = serial()
  ca.validity.notBefore = now
  ca.validity.notAfter = until
  const caSubject = [
    { name: 'commonName', value: 'tidewatch development CA' },
    { name: 'organizationName', value: 'tidewatch (development only)' },
  ]
  ca.setSubject(caSubject)
  ca.setIssuer(caSubject)
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ])
  ca.sign(caKeys.privateKey, forge.md.sha256.create())

  const keys = rsaKeyPair()
  const cert = forge.pki.createCertificate()
  cert.publicKey = keys.publicKey
  cert.serialNumber = serial()
  cert.validity.notBefore = now
  cert.validity.notAfter = until
  cert.setSubject([{ name: 'commonName', value: hostnames[0] ?? 'localhost' }])
  cert.setIssuer(caSubject)
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
  cert.sign(caKeys.privateKey, forge.md.sha256.create())

  const paths = { caFile: join(dir, 'ca.crt'), certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key') }
  writeFileSync(paths.caFile, forge.pki.certificateToPem(ca))
  writeFileSync(paths.certFile, forge.pki.certificateToPem(cert))
  writeFileSync(paths.keyFile, forge.pki.privateKeyToPem(keys.privateKey))
  chmodSync(paths.keyFile, 0o600)
  // The CA key is deliberately not written: nobody should sign more with it.
  return paths
}

/** Reuses certificates in `dir` when present. */
export function ensureDevCertificates(dir: string, hostnames?: readonly string[]): DevCertPaths {
  const paths = { caFile: join(dir, 'ca.crt'), certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key') }
  if (existsSync(paths.caFile) && existsSync(paths.certFile) && existsSync(paths.keyFile)) return paths
  return createDevCertificates(dir, hostnames)
}
