/**
 * Issue 12, "a session belongs to an identity", against the real embedded
 * broker with MQTT.js stations: no station can take over, disconnect or read
 * another station's session (docs/PROTOCOL.md, "Client ids and sessions").
 */
import { beforeAll, describe, expect, it } from 'vitest'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { ingestServiceAccount } from '../../platform/credentials.ts'
import { capturedLogger, eventually, platformPerFile } from '../helpers/platform.ts'

const captured = capturedLogger()
const logLines = captured.lines
const env = platformPerFile({ log: captured.log })
const secrets: Record<string, string> = {}

beforeAll(async () => {
  for (const id of ['cm-ses-a', 'cm-ses-b']) secrets[id] = (await env.tp.platform.registry.add({ id, name: id, lat: 9, lon: 105 })).password
})

function connect(id: string, opts: IClientOptions = {}): Promise<MqttClient> {
  return mqtt.connectAsync(env.tp.mqttUrl, { username: id, password: secrets[id], protocolVersion: 4, reconnectPeriod: 0, ...opts })
}

/** The CONNACK return code of a refused CONNECT (MQTT 3.1.1 §3.2.2.3). */
async function refusedWith(id: string, opts: IClientOptions): Promise<number | undefined> {
  try {
    const c = await connect(id, opts)
    await c.endAsync()
    return undefined
  } catch (err) {
    return (err as { code?: number }).code
  }
}

function closedFlag(c: MqttClient): { closed: boolean } {
  const flag = { closed: false }
  c.on('close', () => (flag.closed = true))
  return flag
}

describe('client ids and sessions', () => {
  it('a station cannot take over another station by naming its client id', async () => {
    const b = await connect('cm-ses-b', { clientId: 'station-cm-ses-b' })
    const bState = closedFlag(b)
    const refusedBefore = env.tp.platform.broker!.counters.connectsRefused.client_id
    for (const clientId of ['station-cm-ses-b', 'cm-ses-b']) expect(await refusedWith('cm-ses-a', { clientId }), clientId).toBe(5)
    expect(env.tp.platform.broker!.counters.connectsRefused.client_id).toBe(refusedBefore + 2)
    // B is still connected and still acknowledged.
    await b.publishAsync('stations/cm-ses-b/readings', JSON.stringify({ ts: Date.now(), values: { salinity: 2 } }), { qos: 1 })
    expect(bState.closed).toBe(false)
    const events = logLines.filter((l) => l.event === 'mqtt.clientid.refused')
    expect(events.length).toBeGreaterThanOrEqual(2)
    expect(events[0]).toMatchObject({ username: 'cm-ses-a', claimed: 'cm-ses-b', component: 'broker' })
    await b.endAsync()
  })

  it('the same neutral client id used by two stations names two sessions: neither disconnects the other', async () => {
    const a = await connect('cm-ses-a', { clientId: 'gateway-01' })
    const b = await connect('cm-ses-b', { clientId: 'gateway-01' })
    const aState = closedFlag(a)
    const bState = closedFlag(b)
    await a.publishAsync('stations/cm-ses-a/readings', JSON.stringify({ ts: Date.now(), values: { salinity: 2.1 } }), { qos: 1 })
    await b.publishAsync('stations/cm-ses-b/readings', JSON.stringify({ ts: Date.now(), values: { salinity: 2.2 } }), { qos: 1 })
    expect([aState.closed, bState.closed]).toEqual([false, false])
    // A station reconnecting with its own client id still replaces its stale connection ([MQTT-3.1.4-2]).
    const a2 = await connect('cm-ses-a', { clientId: 'gateway-01' })
    expect(await eventually(() => aState.closed)).toBe(true)
    expect(bState.closed).toBe(false)
    await Promise.all([a2.endAsync(), b.endAsync()])
  })

  it("a station cannot read another's persistent session or its queued config message", async () => {
    for (const clientId of ['station-cm-ses-b', 'persist-1']) {
      // B keeps a persistent session with a subscription to its config topic, then goes offline.
      const b = await connect('cm-ses-b', { clientId, clean: false })
      await b.subscribeAsync('stations/cm-ses-b/config', { qos: 1 })
      await b.endAsync()
      const payload = `{"interval_s":${clientId.length}}`
      await new Promise<void>((resolve, reject) =>
        env.tp.platform.broker!.aedes.publish({ cmd: 'publish', topic: 'stations/cm-ses-b/config', payload: Buffer.from(payload), qos: 1, retain: false, dup: false }, (err) => (err ? reject(err) : resolve())),
      )

      const stolen: string[] = []
      if (clientId.startsWith('station-')) {
        expect(await refusedWith('cm-ses-a', { clientId, clean: false })).toBe(5)
      } else {
        // A neutral id is accepted, but it opens A's own (new) session.
        const a = mqtt.connect(env.tp.mqttUrl, { username: 'cm-ses-a', password: secrets['cm-ses-a'], protocolVersion: 4, reconnectPeriod: 0, clientId, clean: false })
        a.on('message', (_t, p) => stolen.push(p.toString()))
        const connack = await new Promise<{ sessionPresent: boolean }>((resolve) => a.once('connect', resolve))
        expect(connack.sessionPresent).toBe(false)
        // B reconnects afterwards: its session and queued message are intact.
        const b2 = mqtt.connect(env.tp.mqttUrl, { username: 'cm-ses-b', password: secrets['cm-ses-b'], protocolVersion: 4, reconnectPeriod: 0, clientId, clean: false })
        const got: string[] = []
        b2.on('message', (_t, p) => got.push(p.toString()))
        const ack = await new Promise<{ sessionPresent: boolean }>((resolve) => b2.once('connect', resolve))
        expect(ack.sessionPresent).toBe(true)
        expect(await eventually(() => got.length > 0)).toBe(true)
        expect(got).toEqual([payload])
        await Promise.all([a.endAsync(), b2.endAsync()])
      }
      expect(stolen).toEqual([])
    }
  })

  it('the service account cannot claim a station client id either', async () => {
    const svc = ingestServiceAccount(env.tp.config)
    for (const clientId of ['station-cm-ses-b', 'cm-ses-b|x']) {
      const code = await mqtt
        .connectAsync(env.tp.mqttUrl, { username: svc.username, password: svc.password, protocolVersion: 4, reconnectPeriod: 0, clientId })
        .then(async (c) => {
          await c.endAsync()
          return 0
        })
        .catch((err: { code?: number }) => err.code)
      expect(code, clientId).toBe(5)
    }
  })
})

describe('security events', () => {
  it('ACL denials, failed logins and refused API tokens are logged with a stable event field', async () => {
    const a = await connect('cm-ses-a', { clientId: 'station-cm-ses-a' })
    await expect(a.subscribeAsync('stations/cm-ses-b/config', { qos: 1 })).rejects.toThrow()
    const closed = new Promise<void>((r) => a.once('close', () => r()))
    a.publish('stations/cm-ses-b/readings', '{}', { qos: 1 })
    await closed
    expect(await refusedWith('cm-ses-a', { password: 'wrong', clientId: 'station-cm-ses-a' })).toBe(4)
    const res = await fetch(`${env.tp.apiUrl}/api/v1/audit`, { headers: { authorization: 'Bearer not-a-real-token-000000' } })
    expect(res.status).toBe(401)

    const has = (event: string, fields: Record<string, unknown>) => logLines.some((l) => l.event === event && Object.entries(fields).every(([k, v]) => l[k] === v))
    expect(await eventually(() => has('mqtt.acl.denied', { action: 'subscribe', station: 'cm-ses-a', topic: 'stations/cm-ses-b/config' }))).toBe(true)
    expect(has('mqtt.acl.denied', { action: 'publish', station: 'cm-ses-a', topic: 'stations/cm-ses-b/readings' })).toBe(true)
    expect(has('mqtt.auth.failed', { reason: 'bad_credentials', username: 'cm-ses-a', remote: '127.0.0.1' })).toBe(true)
    expect(has('api.token.refused', { status: 401, route: '/api/v1/audit' })).toBe(true)
    // No secret ever reaches the log.
    const text = JSON.stringify(logLines)
    expect(text).not.toContain(secrets['cm-ses-a'])
    expect(text).not.toContain('not-a-real-token')
  })
})
