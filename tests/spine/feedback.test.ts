/**
 * Issue 11 part 9, against real servers: influxd, the Aedes broker (embedded
 * and split), MQTT.js stations and mosquitto_sub as a foreign client. A
 * station learns, on stations/<id>/feedback, what the ingest refused.
 */
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import mqtt, { type MqttClient } from 'mqtt'
import { silentLogger } from '../../core/log.ts'
import { FeedbackMessageSchema, FeedbackPublisher, type FeedbackMessage } from '../../ingest/feedback.ts'
import { startMosquitto } from '../helpers/mosquitto.ts'
import { eventually, getJson, platformPerFile, startTestPlatform, type TestPlatform } from '../helpers/platform.ts'

const env = platformPerFile()

interface Station {
  id: string
  username: string
  password: string
  client: MqttClient
  feedback: FeedbackMessage[]
}

async function connectStation(platform: TestPlatform, id: string, url = platform.mqttUrl): Promise<Station> {
  const creds = await platform.platform.registry.add({ id, name: id, lat: 9, lon: 105 })
  const client = await mqtt.connectAsync(url, { username: creds.username, password: creds.password, protocolVersion: 4, reconnectPeriod: 0 })
  const feedback: FeedbackMessage[] = []
  client.on('message', (topic, payload) => {
    if (topic === `stations/${id}/feedback`) feedback.push(FeedbackMessageSchema.parse(JSON.parse(payload.toString())))
  })
  return { id, username: creds.username, password: creds.password, client, feedback }
}

/** One bad single reading with a known seq: its feedback marks "everything before it has arrived". */
async function publishMarker(s: Station, seq: number): Promise<FeedbackMessage> {
  await s.client.publishAsync(`stations/${s.id}/readings`, JSON.stringify({ ts: Date.now(), seq, values: { ph: 99 } }), { qos: 1 })
  const got = await eventually(() => s.feedback.find((f) => f.seq === seq))
  expect(got, `feedback for marker seq ${seq}`).toBeDefined()
  return got!
}

describe('feedback on stations/<id>/feedback (embedded broker + ingest)', () => {
  it('a batch of 5 with 2 bad readings: exactly one message naming both, and the 3 good ones are stored', async () => {
    const a = await connectStation(env.tp, 'cm-fb-a')
    const granted = await a.client.subscribeAsync('stations/cm-fb-a/feedback', { qos: 1 })
    expect(granted[0]!.qos).toBe(1)
    const t = Date.now() - 60_000
    const batch = {
      readings: [
        { ts: t, seq: 100, values: { salinity: 3.1 } },
        { ts: t + 1000, seq: 101, values: { ph: 20 } }, // outside 2..12
        { ts: t + 2000, seq: 102, values: { salinity: 3.2 } },
        { ts: 'yesterday', seq: 103, values: { salinity: 3.3 } },
        { ts: t + 4000, seq: 104, values: { salinity: 3.4 } },
      ],
    }
    await a.client.publishAsync('stations/cm-fb-a/readings', JSON.stringify(batch), { qos: 1 })
    // Feedback is FIFO on one connection: once the marker's arrives, the batch's has too.
    await publishMarker(a, 900)

    const forBatch = a.feedback.filter((f) => f.seq === undefined)
    expect(forBatch).toHaveLength(1)
    expect(forBatch[0]).toMatchObject({
      v: 1,
      readings: 5,
      stored: 3,
      refused: [
        { i: 1, seq: 101, code: 'VALUE_OUT_OF_RANGE', sensor: 'ph' },
        { i: 3, seq: 103, code: 'TS_INVALID' },
      ],
    })
    expect(forBatch[0]!.omitted).toBeUndefined()
    expect(a.feedback).toHaveLength(2)
    expect(await eventually(async () => (await env.influx.values(`"station" = 'cm-fb-a'`)) === 3)).toBe(true)
    const metrics = await getJson(`${env.tp.apiUrl}/metrics`)
    expect(metrics.body).toMatch(/tidewatch_feedback_published_total \d+/)
    await a.client.endAsync()
  })

  it('a good payload gets no feedback; a payload-wide refusal gets one item without an index', async () => {
    const s = await connectStation(env.tp, 'cm-fb-good')
    await s.client.subscribeAsync('stations/cm-fb-good/feedback', { qos: 1 })
    await s.client.publishAsync('stations/cm-fb-good/readings', JSON.stringify({ ts: Date.now(), seq: 1, values: { salinity: 2 } }), { qos: 1 })
    await s.client.publishAsync('stations/cm-fb-good/readings', '{"ts": 1, "values": ', { qos: 1 })
    await publishMarker(s, 2)
    expect(s.feedback.map((f) => f.seq)).toEqual([undefined, 2])
    expect(s.feedback[0]).toMatchObject({ readings: 1, stored: 0, refused: [{ code: 'PAYLOAD_NOT_JSON' }] })
    expect(s.feedback[0]!.refused[0]!.i).toBeUndefined()
    await s.client.endAsync()
  })

  it('no station may subscribe to another station\'s feedback (SUBACK 0x80), nor to a wildcard', async () => {
    const b = await connectStation(env.tp, 'cm-fb-b')
    const denied = env.tp.platform.broker!.counters.subscribeDenied
    for (const topic of ['stations/cm-fb-a/feedback', 'stations/+/feedback', 'stations/#', '#']) {
      const granted = await b.client.subscribeAsync(topic, { qos: 1 }).catch((err: Error & { granted?: Array<{ qos: number }> }) => err.granted ?? err)
      // MQTT.js rejects on a 0x80 return code; either way nothing was granted.
      expect(Array.isArray(granted) ? granted[0]!.qos : 128, topic).toBe(128)
    }
    expect(env.tp.platform.broker!.counters.subscribeDenied).toBe(denied + 4)
    await b.client.endAsync()
  })

  it('no station may publish to a feedback topic, its own or another\'s', async () => {
    const a = await connectStation(env.tp, 'cm-fb-pa')
    await a.client.subscribeAsync('stations/cm-fb-pa/feedback', { qos: 1 })
    const denied = env.tp.platform.broker!.counters.publishDenied
    for (const [n, topic] of ['stations/cm-fb-pa/feedback', 'stations/cm-fb-pb/feedback'].entries()) {
      const creds = await env.tp.platform.registry.add({ id: `cm-fb-spoof-${n}`, name: 'spoof', lat: 9, lon: 105 })
      const spoofer = await mqtt.connectAsync(env.tp.mqttUrl, { username: creds.username, password: creds.password, protocolVersion: 4, reconnectPeriod: 0 })
      const closed = new Promise<void>((r) => spoofer.once('close', () => r()))
      spoofer.publish(topic, JSON.stringify({ v: 1, at: 0, readings: 1, stored: 0, refused: [{ code: 'FAKE' }] }), { qos: 1 })
      // MQTT 3.1.1 has no negative PUBACK: the broker drops the spoofer (existing policy).
      await closed
      spoofer.end(true)
    }
    // A station may not write even its own feedback topic.
    const own = mqtt.connect(env.tp.mqttUrl, { username: 'cm-fb-pa', password: a.password, protocolVersion: 4, reconnectPeriod: 0, clientId: 'cm-fb-pa-2' })
    await new Promise<void>((r) => own.once('connect', () => r()))
    const ownClosed = new Promise<void>((r) => own.once('close', () => r()))
    own.publish('stations/cm-fb-pa/feedback', JSON.stringify({ v: 1, at: 0, readings: 1, stored: 0, refused: [{ code: 'FAKE' }] }), { qos: 1 })
    await ownClosed
    own.end(true)
    expect(env.tp.platform.broker!.counters.publishDenied).toBe(denied + 3)
    await publishMarker(a, 7)
    expect(a.feedback.flatMap((f) => f.refused.map((r) => r.code))).not.toContain('FAKE')
    await a.client.endAsync()
  })

  it('mosquitto_sub as a foreign station client receives its own feedback and is denied another\'s', async () => {
    const s = await connectStation(env.tp, 'cm-fb-mosq')
    const other = await connectStation(env.tp, 'cm-fb-mosq-other')
    // stdbuf: mosquitto_sub buffers stdout on a pipe, and the test waits for its SUBACK line.
    const sub = spawn('stdbuf', ['-oL', 'mosquitto_sub', '-h', '127.0.0.1', '-p', String(env.tp.platform.broker!.port), '-V', 'mqttv311', '-q', '1', '-d', '-C', '1', '-W', '20', '-u', s.username, '-P', s.password, '-t', 'stations/cm-fb-mosq/feedback'])
    let out = ''
    sub.stdout.on('data', (d: Buffer) => (out += d.toString()))
    const exited = new Promise<number | null>((r) => sub.once('exit', (code) => r(code)))
    expect(await eventually(() => out.includes('received SUBACK'))).toBe(true)
    await s.client.publishAsync('stations/cm-fb-mosq/readings', JSON.stringify({ ts: Date.now(), seq: 42, values: { no2: -5 } }), { qos: 1 })
    expect(await exited).toBe(0)
    const line = out.split('\n').find((l) => l.startsWith('{'))!
    expect(FeedbackMessageSchema.parse(JSON.parse(line))).toMatchObject({ seq: 42, refused: [{ code: 'VALUE_OUT_OF_RANGE', sensor: 'no2' }] })

    const denied = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(env.tp.platform.broker!.port), '-V', 'mqttv311', '-q', '1', '-C', '1', '-W', '20', '-u', other.username, '-P', other.password, '-t', 'stations/cm-fb-mosq/feedback'])
    let err = ''
    denied.stderr.on('data', (d: Buffer) => (err += d.toString()))
    const code = await new Promise<number | null>((r) => denied.once('exit', (c) => r(c)))
    // mosquitto_sub 2.0.11 exits 0 here, after saying so on stderr.
    expect({ code, err }).toMatchObject({ err: expect.stringMatching(/subscription requests were denied/i) })
    await s.client.endAsync()
    await other.client.endAsync()
  })

  it('a station flooding bad payloads is rate limited, keeps its connection, and every offer is accounted for', async () => {
    const s = await connectStation(env.tp, 'cm-fb-flood')
    await s.client.subscribeAsync('stations/cm-fb-flood/feedback', { qos: 1 })
    const fb = env.tp.platform.ingest!.feedback.counters
    const before = { offered: fb.offered, published: fb.published, dropped: { ...fb.dropped } }
    const started = Date.now()
    const n = 200
    await Promise.all(Array.from({ length: n }, (_, i) => s.client.publishAsync('stations/cm-fb-flood/readings', JSON.stringify({ ts: Date.now(), seq: i, values: { salinity: -1 } }), { qos: 1 })))
    const elapsedSec = (Date.now() - started) / 1000
    const dropped = (d: typeof fb.dropped) => d.queue_full + d.rate_limited + d.publish_failed
    const settled = await eventually(() => fb.offered - before.offered === n && fb.queued === 0 && fb.inFlight === 0)
    expect(settled).toBe(true)
    const published = fb.published - before.published
    expect(published + dropped(fb.dropped) - dropped(before.dropped)).toBe(n)
    // Burst 20, then 1/s (ingest/feedback.ts): an upper bound from the measured span, not a timing assertion.
    expect(published).toBeLessThanOrEqual(20 + Math.ceil(elapsedSec) + 1)
    expect(await eventually(() => s.feedback.length === published)).toBe(true)
    expect(s.client.connected).toBe(true)
    await s.client.endAsync()
  })
})

describe('feedback from a standalone ingest (tidewatch broker + `tidewatch ingest` over MQTT)', () => {
  it('the ingest\'s service account publishes the feedback and keeps its own connection', async () => {
    const dataDir = `${env.tmp.dir}/split`
    const broker = await startTestPlatform({ dir: dataDir, parts: { broker: true } })
    const ingest = await startTestPlatform({
      dir: dataDir,
      influxUrl: env.influx.server.url,
      parts: { ingest: 'mqtt' },
      env: { TIDEWATCH_MQTT_URL: broker.mqttUrl, TIDEWATCH_DATA_DIR: broker.dataDir },
    })
    try {
      await ingest.platform.source!.ready
      const s = await connectStation(broker, 'cm-fb-split')
      await s.client.subscribeAsync('stations/cm-fb-split/feedback', { qos: 1 })
      const t = Date.now() - 5000
      await s.client.publishAsync('stations/cm-fb-split/readings', JSON.stringify({ readings: [{ ts: t, seq: 1, values: { salinity: 4 } }, { ts: t + 1, seq: 2, values: { salinity: 4, oxygen: 7 } }] }), { qos: 1 })
      const got = await eventually(() => s.feedback[0])
      expect(got).toMatchObject({ readings: 2, stored: 2, refused: [{ i: 1, seq: 2, code: 'READING_UNKNOWN_SENSOR', sensor: 'oxygen' }] })
      expect(broker.platform.broker!.counters.publishDenied).toBe(0)
      expect(ingest.platform.source!.client.connected).toBe(true)
      expect(ingest.platform.ingest!.feedback.counters.published).toBe(1)
      await s.client.endAsync()
    } finally {
      await ingest.stop()
      await broker.stop()
    }
  })
})

describe('feedback through Debian mosquitto with the ACL of docs/PROTOCOL.md', () => {
  it('the standalone ingest publishes feedback; only the station itself reads it', async () => {
    const acl = `${env.tmp.dir}/mosquitto.acl`
    writeFileSync(acl, 'pattern read stations/%u/feedback\npattern write stations/%u/readings\nuser svc:ingest\ntopic read stations/+/readings\ntopic write stations/+/feedback\n')
    // Started as root, mosquitto drops to user "mosquitto", which cannot read the 0700 temp dir.
    const mosq = await startMosquitto(env.tmp.dir, `user root\nacl_file ${acl}\n`)
    const ingest = await startTestPlatform({ dir: `${env.tmp.dir}/mq`, influxUrl: env.influx.server.url, parts: { ingest: 'mqtt' }, env: { TIDEWATCH_MQTT_URL: mosq.url } })
    try {
      await ingest.platform.source!.ready
      await ingest.platform.registry.add({ id: 'cm-fb-macl', name: 'acl', lat: 9, lon: 105 })
      // No password file here: mosquitto takes the username as given, and the ACL keys on it.
      const station = await mqtt.connectAsync(mosq.url, { username: 'cm-fb-macl', password: 'x', protocolVersion: 4, reconnectPeriod: 0 })
      const other = await mqtt.connectAsync(mosq.url, { username: 'cm-fb-other', password: 'x', protocolVersion: 4, reconnectPeriod: 0 })
      const got: FeedbackMessage[] = []
      const leaked: string[] = []
      station.on('message', (_t, p) => got.push(FeedbackMessageSchema.parse(JSON.parse(p.toString()))))
      other.on('message', (t) => leaked.push(t))
      expect((await station.subscribeAsync('stations/cm-fb-macl/feedback', { qos: 1 }))[0]!.qos).toBe(1)
      // Mosquitto 2.0 grants a denied MQTT 3.1.1 subscription and then delivers nothing on it.
      await other.subscribeAsync('stations/cm-fb-macl/feedback', { qos: 1 }).catch(() => undefined)
      await station.publishAsync('stations/cm-fb-macl/readings', JSON.stringify({ ts: Date.now(), seq: 5, values: { ph: 1 } }), { qos: 1 })
      expect(await eventually(() => got[0])).toMatchObject({ seq: 5, refused: [{ code: 'VALUE_OUT_OF_RANGE', sensor: 'ph' }] })
      // Same broker, same message: had the ACL let it through, it would have arrived with the station's copy (or before the round trip below).
      await other.publishAsync('stations/cm-fb-other/readings', '{}', { qos: 1 })
      expect(leaked).toEqual([])
      await station.endAsync()
      await other.endAsync()
    } finally {
      await ingest.stop()
      await mosq.stop()
    }
  })
})

describe('feedback queue bounds (fake transport: a broker that never acknowledges, which a real one will not do on cue)', () => {
  it('holds at most maxQueued offers and maxInFlight publishes, counts the overflow, and never throws', async () => {
    const p = new FeedbackPublisher({ log: silentLogger, limits: { maxQueued: 10, maxInFlight: 2, stationBurst: 1e9 } })
    p.attach(() => new Promise<void>(() => {}))
    const rejected = [{ stationId: 's', reason: 'VALUE_OUT_OF_RANGE' as const, detail: '', excerpt: '', index: 0, sensor: 'ph' }]
    for (let i = 0; i < 1000; i++) p.offer({ stationId: `s${i % 7}`, receivedAt: i, readingCount: 1, stored: 0, rejected, payload: Buffer.from('{"readings":[{"seq":1}]}') })
    await new Promise((r) => setImmediate(r))
    expect(p.counters.inFlight).toBe(2)
    expect(p.counters.queued).toBeLessThanOrEqual(10)
    expect(p.counters.dropped.queue_full).toBe(1000 - p.counters.queued - p.counters.inFlight)
    p.stop()
    expect(p.counters.queued).toBe(0)
  })
})
