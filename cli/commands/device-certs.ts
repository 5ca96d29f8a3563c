import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { X509Certificate } from 'node:crypto'
import { dirname, join, resolve } from 'node:path'
import { TidewatchError } from '../../core/errors.ts'
import { DeviceCerts, normalizeSerial, type IssuedCert } from '../../devices/certs.ts'
import type { Registry } from '../../devices/registry.ts'
import { AuditLog } from '../../api/auth/audit.ts'
import { parse, numberFlag, type Io } from '../args.ts'
import { cliActor } from './tokens.ts'

/**
 * `tidewatch devices cert`, `devices revoke-cert` and `devices add --cert`:
 * device certificates (docs/SECURITY.md "Device certificates").
 */
export const DEVICE_CERTS_USAGE = {
  cert: `  tidewatch devices cert <id> [--out DIR] [--days N] [--ca-dir DIR] [--json]
      a client certificate and key for the station, signed by the development CA
      (<data>/tls/ca.crt + ca.key), written to DIR/<id>.crt and DIR/<id>.key (0600)
  tidewatch devices cert <id> --csr FILE.csr [--out DIR] [--days N]
      signs a CSR the station made itself (its key never leaves it): DIR/<id>.crt
  tidewatch devices cert <id> --workflow
      prints the openssl commands for a certificate from the province's CA
  tidewatch devices cert <id> --record FILE.crt
      records a certificate the province's CA issued, so revoke-cert finds it`,
  'revoke-cert': `  tidewatch devices revoke-cert <id> [--serial S] [--reason TEXT]
      refuses the station's certificates (or one serial) at CONNECT from now on`,
}

/** The data dir holds registry.db; the development CA is in <data>/tls, as `tidewatch certs dev` makes it. */
function defaultCaDir(registry: Registry): string {
  return join(dirname(registry.db.name), 'tls')
}

function writeNew(file: string, text: string): void {
  // 'wx': never overwrite a key or certificate a station may already carry.
  try {
    writeFileSync(file, text, { mode: 0o600, flag: 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new TidewatchError('BAD_REQUEST', { file }, `${file} exists; move it away or choose another --out`)
    throw new TidewatchError('BAD_REQUEST', { file }, `cannot write ${file}: ${(err as Error).message}`)
  }
  chmodSync(file, 0o600)
}

function workflow(id: string): string {
  return [
    `Certificate for station ${id} from the province's CA (the key stays on the station):`,
    `  1. On the station (or the bench that flashes it):`,
    `       openssl req -new -newkey rsa:2048 -nodes -keyout ${id}.key -out ${id}.csr -subj "/CN=${id}"`,
    `     The CN must be the station id exactly; it is the identity the broker uses.`,
    `  2. Send ${id}.csr to the province's CA. Ask for a client certificate (extendedKeyUsage clientAuth)`,
    `     with CN=${id}; they return ${id}.crt.`,
    `  3. Record it, so \`tidewatch devices revoke-cert ${id}\` can find it later:`,
    `       tidewatch devices cert ${id} --record ${id}.crt`,
    `  4. The broker must trust that CA: mqtt.clientCaFile (TIDEWATCH_MQTT_CLIENT_CA) = the CA's certificate,`,
    `     mqtt.clientCerts = optional or required. Check the file:  openssl x509 -in ${id}.crt -noout -subject -serial -enddate`,
    `For the development CA instead: tidewatch devices cert ${id} --csr ${id}.csr`,
  ].join('\n')
}

function printIssued(io: Io, c: IssuedCert, files: { certFile: string; keyFile?: string; caFile: string }, json: boolean): void {
  if (json) return io.stdout(JSON.stringify({ id: c.stationId, serial: c.serial, notAfter: c.notAfter.toISOString(), fingerprint256: c.fingerprint256, ...files }))
  io.stdout(
    [
      `Certificate for station ${c.stationId}`,
      `  serial:      ${c.serial}`,
      `  valid until: ${c.notAfter.toISOString()}`,
      `  certificate: ${files.certFile}`,
      ...(files.keyFile ? [`  key:         ${files.keyFile} (0600; put it on the station, then delete this copy)`] : []),
      `  CA:          ${files.caFile} (the station verifies the broker with it)`,
      `Connect with TLS (port 8883), this certificate and key; no password needed (docs/PROTOCOL.md).`,
    ].join('\n'),
  )
}

/** Refuses before anything is registered when `devices add --cert` could not issue (no development CA key). */
export function assertCanIssue(registry: Registry, id: string, caDir?: string): void {
  const caKeyFile = join(resolve(caDir ?? defaultCaDir(registry)), 'ca.key')
  if (!existsSync(caKeyFile)) {
    throw new TidewatchError('BAD_REQUEST', { caKeyFile }, `no development CA key at ${caKeyFile} (run \`tidewatch certs dev\`), or use the province's CA: add the station without --cert, then tidewatch devices cert ${id} --workflow`)
  }
}

/** Issues a certificate for an existing station with the development CA and writes it; what `devices add --cert` calls. */
export async function issueCertFiles(registry: Registry, id: string, opts: { out?: string; caDir?: string; csr?: string; days?: number; json?: boolean }, io: Io): Promise<IssuedCert> {
  registry.require(id)
  // Loaded here, not at start-up: node-forge is only needed to sign.
  const { devCertPaths, issueDeviceCert, loadDevCa } = await import('../../broker/tls/dev-ca.ts')
  const caDir = resolve(opts.caDir ?? defaultCaDir(registry))
  const paths = devCertPaths(caDir)
  if (!existsSync(paths.caKeyFile)) {
    throw new TidewatchError('BAD_REQUEST', { caDir }, `no development CA key at ${paths.caKeyFile} (run \`tidewatch certs dev\`), or use the province's CA: tidewatch devices cert ${id} --workflow`)
  }
  let csrPem: string | undefined
  if (opts.csr !== undefined) {
    try {
      csrPem = readFileSync(opts.csr, 'utf8')
    } catch (err) {
      throw new TidewatchError('BAD_REQUEST', { file: opts.csr }, `cannot read ${opts.csr}: ${(err as Error).message}`)
    }
  }
  const issued = issueDeviceCert(loadDevCa(paths.caFile, paths.caKeyFile), id, { csrPem, validDays: opts.days })
  const out = resolve(opts.out ?? '.')
  const certFile = join(out, `${id}.crt`)
  const keyFile = issued.keyPem ? join(out, `${id}.key`) : undefined
  // Both checked before either is written, so a refusal leaves nothing half done.
  for (const f of [certFile, keyFile]) if (f && existsSync(f)) throw new TidewatchError('BAD_REQUEST', { file: f }, `${f} exists; move it away or choose another --out`)
  if (keyFile) writeNew(keyFile, issued.keyPem!)
  writeNew(certFile, issued.certPem)
  new DeviceCerts(registry.db).record(issued)
  new AuditLog(registry.db).record({ actor: cliActor(), role: 'admin', action: 'devices cert', target: `station:${id}`, after: { serial: issued.serial, notAfter: issued.notAfter.toISOString(), csr: csrPem !== undefined } })
  printIssued(io, issued, { certFile, keyFile, caFile: paths.caFile }, opts.json ?? false)
  return issued
}

/** `devices cert …` and `devices revoke-cert …`. */
export async function deviceCertsCommand(sub: 'cert' | 'revoke-cert', argv: string[], registry: Registry, io: Io): Promise<number> {
  if (sub === 'cert') {
    const { values, positionals } = parse(argv, {
      out: { type: 'string' },
      days: { type: 'string' },
      'ca-dir': { type: 'string' },
      csr: { type: 'string' },
      workflow: { type: 'boolean', default: false },
      record: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    })
    if (values.help) return (io.stdout(`Usage:\n${DEVICE_CERTS_USAGE.cert}`), 0)
    const id = positionals[0]
    if (!id) throw new TidewatchError('BAD_REQUEST', {}, `devices cert needs a station id\n${DEVICE_CERTS_USAGE.cert}`)
    registry.require(id)
    if (values.workflow) return (io.stdout(workflow(id)), 0)
    if (values.record !== undefined) {
      let x509: X509Certificate
      try {
        x509 = new X509Certificate(readFileSync(values.record))
      } catch (err) {
        throw new TidewatchError('BAD_REQUEST', { file: values.record }, `${values.record}: not a readable PEM certificate (${(err as Error).message})`)
      }
      const cn = /(?:^|\n)CN=([^\n]+)/.exec(x509.subject)?.[1]
      if (cn !== id) throw new TidewatchError('BAD_REQUEST', { file: values.record, cn }, `${values.record} is for CN=${cn ?? '(none)'}, not station ${id}`)
      const issued: IssuedCert = { stationId: id, serial: normalizeSerial(x509.serialNumber), certPem: x509.toString(), notAfter: new Date(x509.validTo), fingerprint256: x509.fingerprint256 }
      new DeviceCerts(registry.db).record(issued)
      new AuditLog(registry.db).record({ actor: cliActor(), role: 'admin', action: 'devices cert', target: `station:${id}`, after: { serial: issued.serial, recorded: true } })
      io.stdout(values.json ? JSON.stringify({ id, serial: issued.serial, notAfter: issued.notAfter.toISOString() }) : `Recorded certificate ${issued.serial} for station ${id} (valid until ${issued.notAfter.toISOString()}).`)
      return 0
    }
    const days = values.days === undefined ? undefined : numberFlag('days', values.days, 0, { min: 1, max: 36_500, integer: true })
    await issueCertFiles(registry, id, { out: values.out, caDir: values['ca-dir'], csr: values.csr, days, json: values.json }, io)
    return 0
  }
  const { values, positionals } = parse(argv, { serial: { type: 'string' }, reason: { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', default: false } })
  if (values.help) return (io.stdout(`Usage:\n${DEVICE_CERTS_USAGE['revoke-cert']}`), 0)
  const id = positionals[0]
  if (!id) throw new TidewatchError('BAD_REQUEST', {}, `devices revoke-cert needs a station id\n${DEVICE_CERTS_USAGE['revoke-cert']}`)
  registry.require(id)
  const revoked = new DeviceCerts(registry.db).revoke(id, values.serial, values.reason)
  new AuditLog(registry.db).record({ actor: cliActor(), role: 'admin', action: 'devices revoke-cert', target: `station:${id}`, after: { revoked, reason: values.reason ?? 'unspecified' } })
  if (values.json) io.stdout(JSON.stringify({ id, revoked }))
  else if (revoked.length === 0) io.stdout(`Nothing to revoke: station ${id} has no unrevoked certificate${values.serial ? ` with serial ${values.serial}` : ' on record (use --serial)'}.`)
  else io.stdout(`Revoked for station ${id}: ${revoked.join(', ')}. The broker refuses them at the next CONNECT; connected sessions end at their next reconnect (disable the station to cut it now).`)
  return 0
}
