/**
 * The session guard (broker/session-guard.ts) when the registry cannot be
 * read: the real Aedes broker and real MQTT.js stations, with the station
 * registry faked in memory (so a read can be made to fail on demand, which a
 * real SQLite file does not do on cue). A failed re-check keeps every
 * session, is counted and logged once, and the next good tick applies what
 * changed meanwhile — to the station it concerns only.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import mqtt, { type MqttClient } from 'mqtt'
import { loadConfig } from '../../core/config.ts'
import { hashDeviceSecret } from '../../core/password.ts'
import { startBroker, type BrokerHandle } from '../../broker/server.ts'
import { registryEntitlement } from '../../broker/session-guard.ts'
import type { StationAuthenticator } from '../../broker/hooks/authenticate.ts'
import { capturedLogger, eventually, tempDir } from '../helpers/platform.ts'

const SECRETS = { 'cm-guard-a': 'secret-of-a-0123456789', 'cm-guard-b': 'secret-of-b-0123456789' } as const
type StationId = keyof typeof SECRETS

/** An in-memory registry whose reads throw while `unreadable` is set; `version` moves on every change, as Registry.contextVersion does. */
const fake = {
  unreadable: false,
  version: 0,
  rows: new Map<string, { hash: string; enabled: boolean }>(),
}
const stations: StationAuthenticator = {
  credentials(id) {
    if (fake.unreadable) throw new Error('SQLITE_IOERR: disk I/O error (test)')
    return fake.rows.get(id)
  },
  certRevoked: () => false,
}

let tmp: ReturnType<typeof tempDir>
let broker: BrokerHandle
const captured = capturedLogger()
const clients: MqttClient[] = []

beforeAll(async () => {
  tmp = tempDir()
  for (const [id, secret] of Object.entries(SECRETS)) fake.rows.set(id, { hash: hashDeviceSecret(secret), enabled: true })
  const config = loadConfig({ env: { TIDEWATCH_DATA_DIR: join(tmp.dir, 'data'), TIDEWATCH_BIND_HOST: '127.0.0.1', TIDEWATCH_MQTT_PORT: '0', TIDEWATCH_MQTT_PERSISTENCE: 'memory' } })
  broker = await startBroker({ config, stations, services: [], log: captured.log, sessions: registryEntitlement(stations, () => String(fake.version)) })
})

afterAll(async () => {
  for (const c of clients) c.end(true)
  await broker?.close()
  tmp?.cleanup()
})

async function connect(id: StationId): Promise<{ client: MqttClient; state: { closed: boolean } }> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { username: id, password: SECRETS[id], clientId: `station-${id}`, protocolVersion: 4, reconnectPeriod: 0 })
  clients.push(client)
  const state = { closed: false }
  client.on('close', () => (state.closed = true))
  return { client, state }
}

describe('session re-checks when the registry cannot be read (registry faked in memory, real broker)', () => {
  it('keeps every session while reads fail, counts and logs it once, then closes only the disabled station', async () => {
    const a = await connect('cm-guard-a')
    const b = await connect('cm-guard-b')

    // A is disabled while the registry is unreadable: nobody may be cut on a failed read.
    fake.unreadable = true
    fake.rows.get('cm-guard-a')!.enabled = false
    fake.version++
    expect(await eventually(() => broker.counters.sessionChecksFailed >= 2, 15_000)).toBe(true)
    await a.client.publishAsync('stations/cm-guard-a/readings', JSON.stringify({ ts: Date.now(), values: { salinity: 2 } }), { qos: 1 })
    await b.client.publishAsync('stations/cm-guard-b/readings', JSON.stringify({ ts: Date.now(), values: { salinity: 2 } }), { qos: 1 })
    expect(a.state.closed).toBe(false)
    expect(b.state.closed).toBe(false)
    const errors = captured.lines.filter((l) => l.msg === 'cannot re-check live station sessions against the registry; keeping them and retrying')
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({ level: 50, sessionsUnchecked: 2 })
    expect(broker.metrics().find((f) => f.name === 'tidewatch_mqtt_session_check_errors_total')?.samples[0]).toMatchObject({ value: broker.counters.sessionChecksFailed })

    // Readable again, with no further change: the next tick applies the disable.
    fake.unreadable = false
    expect(await eventually(() => a.state.closed, 15_000)).toBe(true)
    expect(captured.lines.some((l) => l.msg === 'live station sessions re-checked against the registry again')).toBe(true)
    expect(captured.lines.filter((l) => l.event === 'mqtt.session.revoked').map((l) => [l.station, l.reason])).toEqual([['cm-guard-a', 'station_disabled']])
    await b.client.publishAsync('stations/cm-guard-b/readings', JSON.stringify({ ts: Date.now(), values: { salinity: 2.1 } }), { qos: 1 })
    expect(b.state.closed).toBe(false)
    expect(broker.counters.sessionsRevoked.station_disabled).toBe(1)
  })
})
