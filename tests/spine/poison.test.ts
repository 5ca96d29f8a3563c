/**
 * Issue 12, "payloads are parsed defensively", against real servers: influxd,
 * the Aedes broker with the embedded ingest, MQTT.js stations, and
 * mosquitto_pub as a foreign client. A reading nested thousands of levels
 * deep used to overflow the stack in the excerpt code, close the connection
 * without a PUBACK, and be re-sent by the station forever. Now it is
 * quarantined as PAYLOAD_TOO_DEEP and acknowledged, the connection stays
 * open, and the station's next reading is stored.
 */
import { spawn } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import mqtt, { type MqttClient } from 'mqtt'
import { FeedbackMessageSchema, type FeedbackMessage } from '../../ingest/feedback.ts'
import { startMosquitto } from '../helpers/mosquitto.ts'
import { eventually, getJson, platformPerFile, startTestPlatform } from '../helpers/platform.ts'

const env = platformPerFile()

interface Station {
  id: string
  username: string
  password: string
  client: MqttClient
  closes: number
  feedback: FeedbackMessage[]
}

async function connectStation(id: string): Promise<Station> {
  const creds = await env.tp.platform.registry.add({ id, name: id, lat: 9.18, lon: 105.15 })
  // The client id the protocol recommends (docs/PROTOCOL.md, firmware example).
  const client = await mqtt.connectAsync(env.tp.mqttUrl, { clientId: `station-${id}`, username: creds.username, password: creds.password, protocolVersion: 4, reconnectPeriod: 0 })
  const s: Station = { id, username: creds.username, password: creds.password, client, closes: 0, feedback: [] }
  client.on('close', () => s.closes++)
  client.on('message', (topic, payload) => {
    if (topic === `stations/${id}/feedback`) s.feedback.push(FeedbackMessageSchema.parse(JSON.parse(payload.toString())))
  })
  return s
}

/**
 * Resolves on the PUBACK; rejects if the connection closes first. (MQTT.js
 * keeps an unacknowledged QoS 1 message for a reconnect that, with
 * reconnectPeriod 0, never comes: without this, the old failure was a hang.)
 */
function publishOrClose(s: Station, payload: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const onClose = () => reject(new Error(`${s.id}: connection closed before the PUBACK`))
    s.client.once('close', onClose)
    s.client.publishAsync(`stations/${s.id}/readings`, payload, { qos: 1 }).then(
      (v) => (s.client.off('close', onClose), resolve(v)),
      (err: unknown) => (s.client.off('close', onClose), reject(err)),
    )
  })
}

const HOSTILE: Array<[string, string]> = [
  ['array depth 6,000 (12 kB)', '['.repeat(6_000) + ']'.repeat(6_000)],
  ['array depth 60,000 (120 kB)', '['.repeat(60_000) + ']'.repeat(60_000)],
  ['object depth 20,000 ({"a":{"a":…}})', '{"a":'.repeat(20_000) + '1' + '}'.repeat(20_000)],
]

async function quarantined(stationId: string, reason: string): Promise<Array<{ reason: string; excerpt: string; detail: string }>> {
  const q = await getJson(`${env.tp.apiUrl}/api/v1/quarantine?station=${stationId}&reason=${reason}`, env.tp.adminToken)
  expect(q.status).toBe(200)
  return q.body.entries
}

describe('deeply nested payloads (embedded broker + ingest, MQTT.js stations)', () => {
  it('each is acknowledged and quarantined as PAYLOAD_TOO_DEEP; the connection stays open, the next reading is stored, and another station is unaffected', async () => {
    const a = await connectStation('cm-poison-a')
    const b = await connectStation('cm-poison-b')
    await a.client.subscribeAsync(`stations/${a.id}/feedback`, { qos: 1 })
    const now = Date.now()

    for (const [i, [name, payload]] of HOSTILE.entries()) {
      await expect(publishOrClose(a, payload), name).resolves.toBeDefined()
      expect(a.client.connected, name).toBe(true)
      // The bystander publishes between the hostile payloads, on its own connection.
      await publishOrClose(b, JSON.stringify({ ts: now - 60_000 * (3 - i), seq: i, values: { salinity: 3.1 + i } }))
    }
    // The same connection, right after: a valid reading.
    await publishOrClose(a, JSON.stringify({ ts: now, seq: 7, values: { salinity: 2.4, ph: 7.6 } }))
    expect(a.closes).toBe(0)
    expect(b.closes).toBe(0)
    expect(await env.tp.platform.ingest!.drained(20_000)).toBe(true)

    // Quarantined with the reason code, a bounded excerpt (the start of the payload), and a detail naming the limit.
    const entries = await quarantined(a.id, 'PAYLOAD_TOO_DEEP')
    expect(entries).toHaveLength(3)
    for (const e of entries) {
      expect(e.detail).toMatch(/deeper than 32 levels/)
      expect(e.excerpt.length).toBeLessThanOrEqual(513)
      expect(e.excerpt.startsWith('[[[[') || e.excerpt.startsWith('{"a":{"a":')).toBe(true)
    }
    expect((await quarantined(a.id, 'PAYLOAD_SCHEMA')).length + (await quarantined(b.id, 'PAYLOAD_TOO_DEEP')).length).toBe(0)

    // In InfluxDB: the three quarantine points, A's valid reading, and all of B's.
    expect(await eventually(async () => (await env.influx.count('quarantine', `"station" = '${a.id}' AND "reason" = 'PAYLOAD_TOO_DEEP'`, 'count')) === 3, 20_000)).toBe(true)
    expect(await eventually(async () => (await env.influx.values(`"station" = '${a.id}'`)) === 2, 20_000)).toBe(true)
    expect(await eventually(async () => (await env.influx.values(`"station" = '${b.id}'`, ['salinity'])) === 3, 20_000)).toBe(true)

    // Counted like every other refusal.
    const metrics = await getJson(`${env.tp.apiUrl}/metrics`, env.tp.adminToken)
    expect(metrics.body).toMatch(/tidewatch_ingest_rejected_total\{reason="PAYLOAD_TOO_DEEP"\} 3\b/)

    // The feedback publisher copes too: the station is told, once per payload.
    const told = await eventually(() => (a.feedback.length >= 3 ? a.feedback : undefined), 20_000)
    expect(told?.map((f) => f.refused.map((r) => r.code))).toEqual([['PAYLOAD_TOO_DEEP'], ['PAYLOAD_TOO_DEEP'], ['PAYLOAD_TOO_DEEP']])

    // Both connections are still the ones they opened.
    expect([a.client.connected, b.client.connected, a.closes, b.closes]).toEqual([true, true, 0, 0])
    await a.client.endAsync()
    await b.client.endAsync()
  })
})

describe('deeply nested payloads from a foreign client (mosquitto_pub)', () => {
  it('mosquitto_pub sends a deep payload and then a valid reading on one connection: both acknowledged, one quarantined, one stored', async () => {
    const id = 'cm-poison-mosq'
    const creds = await env.tp.platform.registry.add({ id, name: id, lat: 9.18, lon: 105.15 })
    const ts = Date.now()
    // -l: one message per stdin line, all on one connection; -d prints each PUBACK.
    const pub = spawn('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(env.tp.platform.broker!.port), '-V', 'mqttv311', '-q', '1', '-d', '-i', `station-${id}`, '-u', creds.username, '-P', creds.password, '-t', `stations/${id}/readings`, '-l'])
    let out = ''
    pub.stdout.on('data', (d: Buffer) => (out += d.toString()))
    pub.stderr.on('data', (d: Buffer) => (out += d.toString()))
    const exited = new Promise<number | null>((r) => pub.once('exit', (code) => r(code)))
    // Not a timing assertion: without a PUBACK, mosquitto_pub would wait (and
    // reconnect) forever; stop it so the test fails with its output.
    const guard = setTimeout(() => pub.kill('SIGTERM'), 60_000)
    pub.stdin.end(`${'['.repeat(6_000)}${']'.repeat(6_000)}\n${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}\n${JSON.stringify({ ts, values: { salinity: 4.2 } })}\n`)
    const code = await exited
    clearTimeout(guard)
    expect(code, out).toBe(0)
    expect(out.match(/received PUBACK/g), out).toHaveLength(3)
    expect(out.match(/sending CONNECT/g), out).toHaveLength(1)
    expect(await env.tp.platform.ingest!.drained(20_000)).toBe(true)

    expect(await quarantined(id, 'PAYLOAD_TOO_DEEP')).toHaveLength(2)
    expect(await eventually(async () => (await env.influx.values(`"station" = '${id}'`, ['salinity'])) === 1, 20_000)).toBe(true)
  })
})

describe('deeply nested payloads through Debian mosquitto to a standalone ingest', () => {
  it('the ingest quarantines them and keeps its own session: it never drops its connection to be redelivered the payload forever', async () => {
    const mosq = await startMosquitto(env.tmp.dir)
    const st = await startTestPlatform({ dir: `${env.tmp.dir}/standalone`, influxUrl: env.influx.server.url, parts: { ingest: 'mqtt', api: true }, env: { TIDEWATCH_MQTT_URL: mosq.url } })
    try {
      await st.platform.source!.ready
      let ingestCloses = 0
      st.platform.source!.client.on('close', () => ingestCloses++)
      const id = 'cm-poison-ext'
      await st.platform.registry.add({ id, name: id, lat: 9.18, lon: 105.15 })
      const station = await mqtt.connectAsync(mosq.url, { clientId: `station-${id}`, protocolVersion: 4, reconnectPeriod: 0 })
      for (const [, payload] of HOSTILE) await station.publishAsync(`stations/${id}/readings`, payload, { qos: 1 })
      await station.publishAsync(`stations/${id}/readings`, JSON.stringify({ ts: Date.now(), values: { salinity: 1.7 } }), { qos: 1 })
      await station.endAsync()
      const q = await eventually(() => (st.platform.ingest!.quarantine.list({ stationId: id }).length >= 3 ? st.platform.ingest!.quarantine.list({ stationId: id }) : undefined), 20_000)
      expect(q?.map((e) => e.reason)).toEqual(['PAYLOAD_TOO_DEEP', 'PAYLOAD_TOO_DEEP', 'PAYLOAD_TOO_DEEP'])
      expect(await eventually(async () => (await env.influx.values(`"station" = '${id}'`)) === 1, 20_000)).toBe(true)
      expect(ingestCloses).toBe(0)
    } finally {
      await st.stop()
      await mosq.stop()
    }
  })
})
