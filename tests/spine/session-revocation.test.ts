/**
 * A live MQTT session does not outlive the station's right to it
 * (docs/SECURITY.md, "Revoking a connected station"), against the real
 * embedded broker over TCP and mutual TLS with real MQTT.js stations: a
 * revoked certificate, a disable, a rotation and a removal each close the
 * session they concern within seconds, another station's session is
 * untouched and keeps publishing, and the old secret or certificate is
 * refused at the next CONNECT. The CLI's changes are made through a second
 * registry connection, as the CLI process makes them; the API's through the
 * platform's own.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { devicesCommand } from '../../cli/commands/devices.ts'
import { DeviceCerts } from '../../devices/certs.ts'
import { Registry } from '../../devices/registry.ts'
import { registryPath } from '../../platform/data-files.ts'
import { type TestInflux, type TestPlatform, startCertPlatform, eventually, getJson, startTestInflux, startTestPlatform, tempDir } from '../helpers/platform.ts'

let tmp: ReturnType<typeof tempDir>
let influx: TestInflux
let tp: TestPlatform
/** The CLI's own connection to the registry file (another process in production). */
let cli: Registry
let caFile: string
let certDir: string
let logLines: Array<Record<string, unknown>> = []
const secrets: Record<string, string> = {}
const open: MqttClient[] = []
const io = { stdout: () => undefined, stderr: () => undefined }

/** Generous: the guard reads the registry's version once a second; this only bounds a hung test. */
const WAIT_MS = 15_000

beforeAll(async () => {
  tmp = tempDir()
  influx = await startTestInflux(tmp.dir)
  ;({ tp, caFile, certDir, logLines } = await startCertPlatform(tmp.dir, influx))
  cli = Registry.open(registryPath(tp.config))
  for (const id of ['cm-rev-cert', 'cm-rev-cert2']) {
    expect(await devicesCommand(['add', id, '--name', id, '--lat', '9.1', '--lon', '105.1', '--cert', '--out', certDir], cli, io)).toBe(0)
  }
  for (const id of ['cm-rev-pw', 'cm-rev-dis', 'cm-rev-rot', 'cm-rev-del']) secrets[id] = (await tp.platform.registry.add({ id, name: id, lat: 9, lon: 105 })).password
})

afterAll(async () => {
  for (const c of open) c.end(true)
  cli?.close()
  await tp?.stop()
  await influx?.server.stop()
  tmp?.cleanup()
})

const certOf = (id: string) => ({ cert: readFileSync(join(certDir, `${id}.crt`)), key: readFileSync(join(certDir, `${id}.key`)) })

async function connect(url: string, opts: IClientOptions): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, { ca: readFileSync(caFile), protocolVersion: 4, reconnectPeriod: 0, ...opts })
  open.push(c)
  return c
}
const withCert = (id: string, opts: IClientOptions = {}) => connect(tp.mqttsUrl, { ...certOf(id), clientId: `station-${id}`, ...opts })
const withSecret = (id: string, password = secrets[id]) => connect(tp.mqttUrl, { username: id, password, clientId: `station-${id}` })

/** CONNACK code of a CONNECT: 0 accepted, -1 closed without a CONNACK; the client is closed either way. */
function connack(url: string, opts: IClientOptions): Promise<number> {
  return new Promise((resolve) => {
    const c = mqtt.connect(url, { ca: readFileSync(caFile), protocolVersion: 4, reconnectPeriod: 0, ...opts })
    c.once('connect', () => (c.end(true), resolve(0)))
    c.once('error', (err) => (c.end(true), resolve((err as { code?: number }).code ?? -1)))
    c.once('close', () => resolve(-1))
  })
}

/** Whether the broker closed the client's connection (MQTT.js sets `connected` false on close). */
function closedFlag(c: MqttClient): { closed: boolean } {
  const flag = { closed: false }
  c.on('close', () => (flag.closed = true))
  return flag
}

const reading = (salinity: number, agoMs = 1000) => JSON.stringify({ ts: Date.now() - agoMs, values: { salinity } })
const stored = (id: string) => influx.values(`"station" = '${id}'`)
const revokedEvent = (station: string, reason: string) => logLines.find((l) => l.event === 'mqtt.session.revoked' && l.station === station && l.reason === reason)

describe('a live session ends when the station loses its right to it', () => {
  it('a revoked certificate closes the session that uses it (its will is refused too); another station keeps publishing; the certificate is refused at CONNECT', async () => {
    // The revoked station leaves a will on its own readings topic: once revoked, it must not be stored either.
    const revoked = await withCert('cm-rev-cert', { will: { topic: 'stations/cm-rev-cert/readings', payload: Buffer.from(reading(9.9, 500)), qos: 1, retain: false } })
    const other = await withCert('cm-rev-cert2')
    const pw = await withSecret('cm-rev-pw')
    const revokedState = closedFlag(revoked)
    const otherState = closedFlag(other)
    const pwState = closedFlag(pw)
    await revoked.publishAsync('stations/cm-rev-cert/readings', reading(3.1, 3000), { qos: 1 })
    expect(await eventually(async () => (await stored('cm-rev-cert')) === 1, WAIT_MS)).toBe(true)

    const [onRecord] = new DeviceCerts(cli.db).list('cm-rev-cert')
    expect(await devicesCommand(['revoke-cert', 'cm-rev-cert'], cli, io)).toBe(0)
    expect(await eventually(() => revokedState.closed, WAIT_MS)).toBe(true)

    // Nobody else was cut: the other certificate station and a password station still publish and are stored.
    await other.publishAsync('stations/cm-rev-cert2/readings', reading(2.2), { qos: 1 })
    await pw.publishAsync('stations/cm-rev-pw/readings', reading(1.5), { qos: 1 })
    expect(otherState.closed).toBe(false)
    expect(pwState.closed).toBe(false)
    expect(await eventually(async () => (await stored('cm-rev-cert2')) === 1 && (await stored('cm-rev-pw')) === 1, WAIT_MS)).toBe(true)
    // The will went through authorizePublish after the identity was dropped: refused, so only the first reading is there.
    expect(await stored('cm-rev-cert')).toBe(1)

    const event = revokedEvent('cm-rev-cert', 'cert_revoked')
    expect(event).toMatchObject({ via: 'certificate', clientId: 'cm-rev-cert|station-cm-rev-cert', component: 'broker' })
    expect(event?.serial).toBe(onRecord?.serial)
    expect(logLines.some((l) => l.event === 'mqtt.session.revoked' && l.station !== 'cm-rev-cert')).toBe(false)
    expect(await connack(tp.mqttsUrl, { ...certOf('cm-rev-cert'), clientId: 'station-cm-rev-cert' })).toBe(5)
  })

  it('`devices disable` closes the station session; the station is refused at CONNECT', async () => {
    const c = await withSecret('cm-rev-dis')
    const state = closedFlag(c)
    expect(await devicesCommand(['disable', 'cm-rev-dis'], cli, io)).toBe(0)
    expect(await eventually(() => state.closed, WAIT_MS)).toBe(true)
    expect(revokedEvent('cm-rev-dis', 'station_disabled')).toMatchObject({ via: 'secret', clientId: 'cm-rev-dis|station-cm-rev-dis' })
    expect(await connack(tp.mqttUrl, { username: 'cm-rev-dis', password: secrets['cm-rev-dis'], clientId: 'station-cm-rev-dis' })).toBe(5)
  })

  it('rotating through the API closes the session on the old secret; the new secret connects, the old one is refused', async () => {
    const c = await withSecret('cm-rev-rot')
    const state = closedFlag(c)
    const res = await fetch(`${tp.apiUrl}/api/v1/stations/cm-rev-rot/rotate`, { method: 'POST', headers: { authorization: `Bearer ${tp.adminToken}` } })
    expect(res.status).toBe(200)
    const fresh = ((await res.json()) as { credentials: { password: string } }).credentials.password
    expect(await eventually(() => state.closed, WAIT_MS)).toBe(true)
    expect(revokedEvent('cm-rev-rot', 'credentials_rotated')).toBeDefined()

    expect(await connack(tp.mqttUrl, { username: 'cm-rev-rot', password: secrets['cm-rev-rot'], clientId: 'station-cm-rev-rot' })).toBe(4)
    const renewed = await withSecret('cm-rev-rot', fresh)
    const renewedState = closedFlag(renewed)
    await renewed.publishAsync('stations/cm-rev-rot/readings', reading(2.8), { qos: 1 })
    // The session on the new secret is entitled: it survives the sweeps that follow.
    const revokedBefore = tp.platform.broker!.counters.sessionsRevoked.credentials_rotated
    expect(await devicesCommand(['set', 'cm-rev-rot', '--name', 'renamed'], cli, io)).toBe(0)
    await renewed.publishAsync('stations/cm-rev-rot/readings', reading(2.9, 500), { qos: 1 })
    expect(renewedState.closed).toBe(false)
    expect(tp.platform.broker!.counters.sessionsRevoked.credentials_rotated).toBe(revokedBefore)
  })

  it('deleting the station through the API closes its session', async () => {
    const c = await withSecret('cm-rev-del')
    const state = closedFlag(c)
    const res = await fetch(`${tp.apiUrl}/api/v1/stations/cm-rev-del`, { method: 'DELETE', headers: { authorization: `Bearer ${tp.adminToken}` } })
    expect(res.status).toBe(204)
    expect(await eventually(() => state.closed, WAIT_MS)).toBe(true)
    expect(revokedEvent('cm-rev-del', 'station_removed')).toBeDefined()
    expect(await connack(tp.mqttUrl, { username: 'cm-rev-del', password: secrets['cm-rev-del'], clientId: 'station-cm-rev-del' })).toBe(4)
  })

  it('/metrics counts the closed sessions by reason as a counter', async () => {
    const text = (await getJson(`${tp.apiUrl}/metrics`)).body as string
    expect(text).toContain('# TYPE tidewatch_mqtt_sessions_revoked_total counter')
    expect(text).toContain('# TYPE tidewatch_mqtt_session_check_errors_total counter')
    for (const reason of ['cert_revoked', 'station_disabled', 'credentials_rotated', 'station_removed']) {
      expect(text).toMatch(new RegExp(`^tidewatch_mqtt_sessions_revoked_total\\{reason="${reason}"\\} 1$`, 'm'))
    }
  })
})
