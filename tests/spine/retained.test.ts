/**
 * Issue 12, "retained readings are refused", against real servers: influxd,
 * the embedded broker + ingest, an MQTT.js station and mosquitto_sub as a
 * later subscriber. A retained reading is acknowledged, quarantined as
 * READING_RETAINED, not stored, not retained and not delivered; a retained
 * status stays retained (docs/PROTOCOL.md, "Retained readings are refused").
 */
import { spawn } from 'node:child_process'
import { afterAll, beforeAll, expect, it } from 'vitest'
import mqtt from 'mqtt'
import { ingestServiceAccount } from '../../platform/credentials.ts'
import { FeedbackMessageSchema, type FeedbackMessage } from '../../ingest/feedback.ts'
import { eventually, getJson, startTestInflux, startTestPlatform, tempDir, type TestInflux, type TestPlatform } from '../helpers/platform.ts'

let tmp: ReturnType<typeof tempDir>
let influx: TestInflux
let tp: TestPlatform

beforeAll(async () => {
  tmp = tempDir()
  influx = await startTestInflux(tmp.dir)
  tp = await startTestPlatform({ dir: tmp.dir, influxUrl: influx.server.url })
})

afterAll(async () => {
  await tp?.stop()
  await influx?.server.stop()
  tmp?.cleanup()
})

/** mosquitto_sub connecting after the fact: prints what it received within `seconds` (retained messages arrive at once). */
function laterSubscriber(topic: string, seconds: number): Promise<{ code: number | null; out: string }> {
  const svc = ingestServiceAccount(tp.config)
  const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(tp.platform.broker!.port), '-V', 'mqttv311', '-q', '1', '-v', '-C', '1', '-W', String(seconds), '-u', svc.username, '-P', svc.password, '-t', topic])
  let out = ''
  sub.stdout.on('data', (d: Buffer) => (out += d.toString()))
  return new Promise((resolve) => sub.once('exit', (code) => resolve({ code, out })))
}

it('a retained reading is acknowledged and quarantined, never stored, retained or delivered; a retained status still is retained', async () => {
  const id = 'cm-ret-01'
  const creds = await tp.platform.registry.add({ id, name: id, lat: 9, lon: 105 })
  const station = await mqtt.connectAsync(tp.mqttUrl, { username: creds.username, password: creds.password, clientId: `station-${id}`, protocolVersion: 4, reconnectPeriod: 0 })
  let closed = false
  station.on('close', () => (closed = true))
  const feedback: FeedbackMessage[] = []
  station.on('message', (topic, payload) => {
    if (topic === `stations/${id}/feedback`) feedback.push(FeedbackMessageSchema.parse(JSON.parse(payload.toString())))
  })
  await station.subscribeAsync(`stations/${id}/feedback`, { qos: 1 })

  // A subscriber already connected (the data center's readings wildcard) must not get it either.
  const svc = ingestServiceAccount(tp.config)
  const live = await mqtt.connectAsync(tp.mqttUrl, { username: svc.username, password: svc.password, clientId: 'retained-test-live', protocolVersion: 4, reconnectPeriod: 0 })
  const liveGot: string[] = []
  live.on('message', (topic, payload) => liveGot.push(`${topic} ${payload.toString()}`))
  await live.subscribeAsync('stations/+/readings', { qos: 1 })

  const before = tp.platform.broker!.counters.retainedRefused
  const ts = Date.now() - 5000
  // publishAsync resolves on the PUBACK.
  await station.publishAsync(`stations/${id}/readings`, JSON.stringify({ ts, values: { salinity: 9.9 } }), { qos: 1, retain: true })
  await station.publishAsync(`stations/${id}/readings`, JSON.stringify({ ts: ts + 1, values: { salinity: 9.8 } }), { qos: 0, retain: true })
  await station.publishAsync(`stations/${id}/status`, 'online', { qos: 1, retain: true })
  // A normal reading after them, so "nothing arrived" is not just "not yet".
  await station.publishAsync(`stations/${id}/readings`, JSON.stringify({ ts: ts + 2, values: { salinity: 1.5 } }), { qos: 1 })
  expect(closed).toBe(false)
  expect(await eventually(() => tp.platform.broker!.counters.retainedRefused === before + 2)).toBe(true)

  const q = await eventually(async () => {
    const r = await getJson(`${tp.apiUrl}/api/v1/quarantine?reason=READING_RETAINED`, tp.adminToken)
    return r.body.entries?.length >= 2 ? r : undefined
  })
  expect(q?.body.entries[0]).toMatchObject({ stationId: id, reason: 'READING_RETAINED' })
  expect(await eventually(() => feedback.some((f) => f.refused.some((r) => r.code === 'READING_RETAINED')))).toBe(true)

  // Only the normal reading is stored, and only it reached the live subscriber.
  expect(await eventually(async () => (await influx.values(`"station" = '${id}'`)) === 1)).toBe(true)
  expect(await influx.values(`"station" = '${id}' AND "salinity" > 9`, ['salinity'])).toBe(0)
  expect(await eventually(() => liveGot.length === 1)).toBe(true)
  expect(liveGot[0]).toContain('"salinity":1.5')

  // A later subscriber gets the retained status at once, and no retained reading.
  const status = await laterSubscriber('stations/+/status', 5)
  expect(status.out).toContain(`stations/${id}/status online`)
  const readings = await laterSubscriber('stations/+/readings', 2)
  expect(readings.out).toBe('')
  // mosquitto_sub exits 27 when -W runs out with nothing received.
  expect(readings.code).toBe(27)
  await Promise.all([station.endAsync(), live.endAsync()])
}, 60_000)
