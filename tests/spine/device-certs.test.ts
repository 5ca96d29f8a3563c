/**
 * Issue 12, "Device certificates (mutual TLS)", against the real embedded
 * broker over TLS with real clients (MQTT.js and mosquitto_pub): a station
 * logs in with a client certificate from the development CA (issued by the
 * CLI code path `devices add --cert`), publishes a reading that InfluxDB
 * stores, and is refused at CONNECT once the certificate is revoked; a
 * certificate for station A cannot act as B; a certificate from another CA
 * is refused; a CSR made with openssl is signed and works.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import mqtt, { type IClientOptions } from 'mqtt'
import { createDevCertificates, ensureDevCertificates, issueDeviceCert, loadDevCa, devCertPaths } from '../../broker/tls/dev-ca.ts'
import { devicesCommand } from '../../cli/commands/devices.ts'
import { DeviceCerts } from '../../devices/certs.ts'
import { type TestInflux, type TestPlatform, capturedLogger, startCertPlatform, eventually, startTestInflux, startTestPlatform, tempDir } from '../helpers/platform.ts'

let tmp: ReturnType<typeof tempDir>
let influx: TestInflux
let tp: TestPlatform
let certDir: string
let caFile: string
let logLines: Array<Record<string, unknown>> = []
const out: string[] = []
const io = { stdout: (s: string) => void out.push(s), stderr: (s: string) => void out.push(s) }

beforeAll(async () => {
  tmp = tempDir()
  influx = await startTestInflux(tmp.dir)
  ;({ tp, caFile, certDir, logLines } = await startCertPlatform(tmp.dir, influx))
})

afterAll(async () => {
  await tp?.stop()
  await influx?.server.stop()
  tmp?.cleanup()
})

const files = (id: string) => ({ cert: readFileSync(join(certDir, `${id}.crt`)), key: readFileSync(join(certDir, `${id}.key`)) })

// Async, never execFileSync: the broker runs in this process and must keep answering.
const run = promisify(execFile)

/** CONNACK code of a CONNECT over TLS: 0 accepted, -1 closed without a CONNACK; the client is closed either way. */
function connackTls(opts: IClientOptions): Promise<number> {
  return new Promise((resolve) => {
    const c = mqtt.connect(tp.mqttsUrl, { ca: readFileSync(caFile), protocolVersion: 4, reconnectPeriod: 0, ...opts })
    c.once('connect', () => (c.end(true), resolve(0)))
    c.once('error', (err) => (c.end(true), resolve((err as { code?: number }).code ?? -1)))
    c.once('close', () => resolve(-1))
  })
}

const has = (event: string, fields: Record<string, unknown>) => logLines.some((l) => l.event === event && Object.entries(fields).every(([k, v]) => l[k] === v))
const stored = (id: string) => influx.values(`"station" = '${id}'`)

describe('device certificates over mutual TLS', () => {
  it('devices add --cert issues a certificate and a 0600 key; the station connects without a password and its reading is stored', async () => {
    expect(await devicesCommand(['add', 'cm-cert-a', '--name', 'A', '--lat', '9.1', '--lon', '105.1', '--cert', '--out', certDir], tp.platform.registry, io)).toBe(0)
    expect(await devicesCommand(['add', 'cm-cert-b', '--name', 'B', '--lat', '9.2', '--lon', '105.2', '--cert', '--out', certDir], tp.platform.registry, io)).toBe(0)
    expect(statSync(join(certDir, 'cm-cert-a.key')).mode & 0o777).toBe(0o600)
    expect(statSync(join(certDir, 'cm-cert-a.crt')).mode & 0o777).toBe(0o600)
    expect(out.join('\n')).toMatch(/serial: +[0-9A-F]+/)

    const station = await mqtt.connectAsync(tp.mqttsUrl, { ...files('cm-cert-a'), ca: readFileSync(caFile), clientId: 'station-cm-cert-a', protocolVersion: 4, reconnectPeriod: 0 })
    await station.publishAsync('stations/cm-cert-a/readings', JSON.stringify({ ts: Date.now() - 2000, values: { salinity: 3.1 } }), { qos: 1 })
    await station.endAsync()
    expect(await eventually(async () => (await stored('cm-cert-a')) === 1)).toBe(true)
    // A username that names the certificate's own station is fine.
    expect(await connackTls({ ...files('cm-cert-a'), username: 'cm-cert-a', clientId: 'station-cm-cert-a' })).toBe(0)
  })

  it("station A's certificate cannot act as B: not by username, not by client id, not by topic", async () => {
    expect(await connackTls({ ...files('cm-cert-a'), username: 'cm-cert-b', password: 'anything', clientId: 'station-cm-cert-b' })).toBe(5)
    expect(await connackTls({ ...files('cm-cert-a'), clientId: 'station-cm-cert-b' })).toBe(5)
    const a = await mqtt.connectAsync(tp.mqttsUrl, { ...files('cm-cert-a'), ca: readFileSync(caFile), clientId: 'station-cm-cert-a', protocolVersion: 4, reconnectPeriod: 0 })
    const closed = new Promise<void>((r) => a.once('close', () => r()))
    a.publish('stations/cm-cert-b/readings', JSON.stringify({ ts: Date.now() - 1000, values: { salinity: 9.9 } }), { qos: 1 })
    await closed
    expect(await eventually(() => has('mqtt.acl.denied', { action: 'publish', station: 'cm-cert-a', topic: 'stations/cm-cert-b/readings' }))).toBe(true)
    expect(has('mqtt.cert.refused', { reason: 'username_mismatch', station: 'cm-cert-a', username: 'cm-cert-b' })).toBe(true)
    expect(has('mqtt.clientid.refused', { username: 'cm-cert-a', clientId: 'station-cm-cert-b' })).toBe(true)
    expect(await stored('cm-cert-b')).toBe(0)
  })

  it('a certificate from another CA is refused, even for a registered station id and even when that CA copies our CA name', async () => {
    // Another CA (another province, a test CA): refused at CONNECT with CONNACK 5.
    const otherDir = join(tmp.dir, 'other-ca')
    mkdirSync(otherDir)
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-keyout', join(otherDir, 'ca.key'), '-out', join(otherDir, 'ca.crt'), '-subj', '/CN=Other Province CA'])
    const foreign = issueDeviceCert(loadDevCa(join(otherDir, 'ca.crt'), join(otherDir, 'ca.key')), 'cm-cert-a')
    expect(await connackTls({ cert: foreign.certPem, key: foreign.keyPem!, clientId: 'station-cm-cert-a' })).toBe(5)
    expect(await eventually(() => has('mqtt.cert.refused', { reason: 'untrusted', subject: 'cm-cert-a', serial: foreign.serial }))).toBe(true)
    // A certificate from a CA outside tidewatch can be put on record (for revoke-cert); the CN must match.
    const { writeFileSync } = await import('node:fs')
    writeFileSync(join(otherDir, 'a.crt'), foreign.certPem)
    expect(await devicesCommand(['cert', 'cm-cert-a', '--record', join(otherDir, 'a.crt')], tp.platform.registry, io)).toBe(0)
    await expect(devicesCommand(['cert', 'cm-cert-b', '--record', join(otherDir, 'a.crt')], tp.platform.registry, io)).rejects.toThrow(/CN=cm-cert-a/)
    expect(new DeviceCerts(tp.platform.registry.db).list('cm-cert-a').map((c) => c.serial)).toContain(foreign.serial)
    expect(await devicesCommand(['cert', 'cm-cert-a', '--workflow'], tp.platform.registry, io)).toBe(0)
    expect(out.join('\n')).toMatch(/openssl req -new .* -subj "\/CN=cm-cert-a"/)

    // A forged CA with the same name as ours: its signature fails in the TLS layer, the connection closes without a CONNACK.
    const forgedDir = join(tmp.dir, 'forged-ca')
    createDevCertificates(forgedDir)
    const p = devCertPaths(forgedDir)
    const forged = issueDeviceCert(loadDevCa(p.caFile, p.caKeyFile), 'cm-cert-a')
    expect(await connackTls({ cert: forged.certPem, key: forged.keyPem!, clientId: 'station-cm-cert-a' })).toBe(-1)
    expect(await eventually(() => has('mqtt.cert.refused', { reason: 'untrusted', subject: 'cm-cert-a', issuer: 'tidewatch development CA' }))).toBe(true)
    // A password station is not affected by certificates being optional.
    const secret = (await tp.platform.registry.add({ id: 'cm-cert-pw', name: 'pw', lat: 9, lon: 105 })).password
    expect(await connackTls({ username: 'cm-cert-pw', password: secret, clientId: 'station-cm-cert-pw' })).toBe(0)
  })

  it('a CSR made with openssl is signed by `devices cert --csr`, and the station connects with its own key', async () => {
    await tp.platform.registry.add({ id: 'cm-cert-c', name: 'C', lat: 9, lon: 105 })
    const key = join(certDir, 'cm-cert-c.key')
    const csr = join(tmp.dir, 'cm-cert-c.csr')
    await run('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', '/CN=cm-cert-c'])
    expect(await devicesCommand(['cert', 'cm-cert-c', '--csr', csr, '--out', certDir], tp.platform.registry, io)).toBe(0)
    expect(await connackTls({ ...files('cm-cert-c'), clientId: 'station-cm-cert-c' })).toBe(0)
    // A CSR for another CN is refused: the operator mixed up two stations' files.
    await expect(devicesCommand(['cert', 'cm-cert-b', '--csr', csr, '--out', join(tmp.dir)], tp.platform.registry, io)).rejects.toThrow(/CN=cm-cert-c/)
  })

  it('mosquitto_pub with --cert/--key publishes as its station (a foreign client)', async () => {
    const port = tp.platform.broker!.tlsPort!
    const f = { cert: join(certDir, 'cm-cert-b.crt'), key: join(certDir, 'cm-cert-b.key') }
    expect(existsSync(f.cert)).toBe(true)
    await run(
      'mosquitto_pub',
      ['-h', '127.0.0.1', '-p', String(port), '--cafile', caFile, '--cert', f.cert, '--key', f.key, '-i', 'station-cm-cert-b', '-V', 'mqttv311', '-q', '1', '-t', 'stations/cm-cert-b/readings', '-m', JSON.stringify({ ts: Date.now() - 3000, values: { salinity: 2.2 } })],
      { timeout: 15_000 },
    )
    expect(await eventually(async () => (await stored('cm-cert-b')) === 1)).toBe(true)
  })

  it('after `devices revoke-cert` the certificate is refused at CONNECT (TLS handshake still succeeds) and mqtt.cert.revoked is logged', async () => {
    const onRecord = new DeviceCerts(tp.platform.registry.db).list('cm-cert-a')
    const serial = onRecord[0]!.serial
    expect(await devicesCommand(['revoke-cert', 'cm-cert-a', '--json'], tp.platform.registry, io)).toBe(0)
    expect(JSON.parse(out.at(-1)!)).toEqual({ id: 'cm-cert-a', revoked: onRecord.map((c) => c.serial) })
    expect(tp.platform.registry.certRevoked(serial)).toBe(true)
    expect(await connackTls({ ...files('cm-cert-a'), clientId: 'station-cm-cert-a' })).toBe(5)
    expect(await eventually(() => has('mqtt.cert.revoked', { source: 'registry', station: 'cm-cert-a', serial }))).toBe(true)
    // B's certificate is untouched; a serial of B cannot be revoked in A's name.
    expect(await connackTls({ ...files('cm-cert-b'), clientId: 'station-cm-cert-b' })).toBe(0)
    const serialB = new DeviceCerts(tp.platform.registry.db).list('cm-cert-b')[0]!.serial
    await expect(devicesCommand(['revoke-cert', 'cm-cert-a', '--serial', serialB], tp.platform.registry, io)).rejects.toThrow(/issued to station cm-cert-b/)
    expect(tp.platform.broker!.counters.connectsRefused.cert).toBeGreaterThanOrEqual(4)
  })
})

describe("clientCerts: 'required', with the CA's CRL", () => {
  let tmp2: ReturnType<typeof tempDir>
  let tp2: TestPlatform
  let ca2: string
  let dir2: string
  let lines2: Array<Record<string, unknown>> = []
  const has2 = (event: string, fields: Record<string, unknown>) => lines2.some((l) => l.event === event && Object.entries(fields).every(([k, v]) => l[k] === v))

  beforeAll(async () => {
    tmp2 = tempDir()
    const tls = ensureDevCertificates(join(tmp2.dir, 'data', 'tls'))
    ca2 = tls.caFile
    dir2 = join(tmp2.dir, 'certs')
    mkdirSync(dir2)
    // Two stations' certificates; a CRL made by openssl's own CA tool revokes the first.
    const ca = loadDevCa(tls.caFile, join(tmp2.dir, 'data', 'tls', 'ca.key'))
    const { writeFileSync } = await import('node:fs')
    for (const id of ['cm-req-d', 'cm-req-e']) {
      const c = issueDeviceCert(ca, id)
      writeFileSync(join(dir2, `${id}.crt`), c.certPem)
      writeFileSync(join(dir2, `${id}.key`), c.keyPem!, { mode: 0o600 })
    }
    const crlDir = join(tmp2.dir, 'crl')
    mkdirSync(crlDir)
    writeFileSync(join(crlDir, 'index.txt'), '')
    writeFileSync(join(crlDir, 'crlnumber'), '1000\n')
    writeFileSync(join(crlDir, 'ca.cnf'), `[ca]\ndefault_ca = d\n[d]\ndatabase = ${crlDir}/index.txt\ncrlnumber = ${crlDir}/crlnumber\ndefault_md = sha256\ndefault_crl_days = 30\n`)
    const caArgs = ['-config', join(crlDir, 'ca.cnf'), '-keyfile', join(tmp2.dir, 'data', 'tls', 'ca.key'), '-cert', tls.caFile]
    await run('openssl', ['ca', ...caArgs, '-revoke', join(dir2, 'cm-req-d.crt')])
    await run('openssl', ['ca', ...caArgs, '-gencrl', '-out', join(crlDir, 'crl.pem')])
    const captured = capturedLogger()
    lines2 = captured.lines
    tp2 = await startTestPlatform({
      dir: tmp2.dir,
      parts: { broker: true },
      log: captured.log,
      env: { TIDEWATCH_TLS_CERT: tls.certFile, TIDEWATCH_TLS_KEY: tls.keyFile, TIDEWATCH_MQTT_CLIENT_CA: tls.caFile, TIDEWATCH_MQTT_CLIENT_CERTS: 'required', TIDEWATCH_MQTT_CRL: join(crlDir, 'crl.pem') },
    })
    for (const id of ['cm-req-d', 'cm-req-e', 'cm-req-pw']) await tp2.platform.registry.add({ id, name: id, lat: 9, lon: 105 })
  })
  afterAll(async () => {
    await tp2?.stop()
    tmp2?.cleanup()
  })

  const connack2 = (url: string, opts: IClientOptions): Promise<number> =>
    new Promise((resolve) => {
      const c = mqtt.connect(url, { ca: readFileSync(ca2), protocolVersion: 4, reconnectPeriod: 0, ...opts })
      c.once('connect', () => (c.end(true), resolve(0)))
      c.once('error', (err) => (c.end(true), resolve((err as { code?: number }).code ?? -1)))
      c.once('close', () => resolve(-1))
    })
  const certOf = (id: string) => ({ cert: readFileSync(join(dir2, `${id}.crt`)), key: readFileSync(join(dir2, `${id}.key`)) })

  it('a station with a valid certificate gets in; one revoked by the CRL is refused (mqtt.cert.revoked, source crl)', async () => {
    const mqtts = `mqtts://127.0.0.1:${tp2.platform.broker!.tlsPort}`
    expect(await connack2(mqtts, { ...certOf('cm-req-e'), clientId: 'station-cm-req-e' })).toBe(0)
    expect(await connack2(mqtts, { ...certOf('cm-req-d'), clientId: 'station-cm-req-d' })).toBe(5)
    expect(await eventually(() => has2('mqtt.cert.revoked', { source: 'crl', subject: 'cm-req-d' }))).toBe(true)
  })

  it('a station secret without a certificate is refused on both ports (no_certificate); a service account keeps its secret', async () => {
    const secret = (await tp2.platform.registry.rotate('cm-req-pw')).password
    const mqtts = `mqtts://127.0.0.1:${tp2.platform.broker!.tlsPort}`
    expect(await connack2(mqtts, { username: 'cm-req-pw', password: secret, clientId: 'station-cm-req-pw' })).toBe(5)
    expect(await connack2(tp2.mqttUrl, { username: 'cm-req-pw', password: secret, clientId: 'station-cm-req-pw' })).toBe(5)
    expect(has2('mqtt.cert.refused', { reason: 'no_certificate', username: 'cm-req-pw' })).toBe(true)
    const { ingestServiceAccount } = await import('../../platform/credentials.ts')
    const svc = ingestServiceAccount(tp2.config)
    expect(await connack2(tp2.mqttUrl, { username: svc.username, password: svc.password, clientId: 'tidewatch-ingest-test' })).toBe(0)
  })

  it('certificates without TLS are a config error', async () => {
    const { loadConfig } = await import('../../core/config.ts')
    expect(() => loadConfig({ env: { TIDEWATCH_MQTT_CLIENT_CERTS: 'required', TIDEWATCH_DATA_DIR: join(tmp2.dir, 'x') } })).toThrow(/clientCerts/)
  })
})
