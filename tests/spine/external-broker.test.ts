/**
 * The ingest consumes from any MQTT 3.1.1 broker: Debian's mosquitto, and a
 * separately running tidewatch broker (split deployment).
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import mqtt from 'mqtt'
import { startMosquitto, type TestMosquitto } from '../helpers/mosquitto.ts'
import { eventually, getJson, startTestInflux, startTestPlatform, tempDir, type TestInflux } from '../helpers/platform.ts'

const run = promisify(execFile)
let tmp: ReturnType<typeof tempDir>
let influx: TestInflux

beforeAll(async () => {
  tmp = tempDir()
  influx = await startTestInflux(tmp.dir)
})
afterAll(async () => {
  await influx?.server.stop()
  tmp?.cleanup()
})

describe('ingest against Debian mosquitto', () => {
  let mosq: TestMosquitto
  afterAll(async () => mosq?.stop())

  it('stores readings published through mosquitto and quarantines bad ones', async () => {
    mosq = await startMosquitto(tmp.dir)
    const tp = await startTestPlatform({
      dir: `${tmp.dir}/m`,
      influxUrl: influx.server.url,
      parts: { ingest: 'mqtt', api: true },
      env: { TIDEWATCH_MQTT_URL: mosq.url },
    })
    try {
      await tp.platform.source!.ready
      await tp.platform.registry.add({ id: 'cm-mosq-01', name: 'Mosquitto station', lat: 9, lon: 105 })
      const ts = Date.now() - 5000
      await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(mosq.port), '-q', '1', '-t', 'stations/cm-mosq-01/readings', '-m', JSON.stringify({ ts, values: { salinity: 5.5, ph: 7.9 } })])
      await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(mosq.port), '-q', '1', '-t', 'stations/cm-mosq-01/readings', '-m', 'not json'])
      // Mosquitto has no per-station ACL here, so an unregistered id must be caught by the ingest.
      await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(mosq.port), '-q', '1', '-t', 'stations/ghost-01/readings', '-m', JSON.stringify({ ts, values: { salinity: 1 } })])
      const latest = await eventually(async () => {
        const r = await getJson(`${tp.apiUrl}/api/v1/stations/cm-mosq-01/latest`)
        return r.body.sensors?.salinity ? r.body : undefined
      })
      expect(latest.sensors.salinity.value).toBe(5.5)
      const q = await eventually(() => (tp.platform.ingest!.quarantine.list().length >= 2 ? tp.platform.ingest!.quarantine.list() : undefined))
      expect(q!.map((e) => e.reason).sort()).toEqual(['PAYLOAD_NOT_JSON', 'STATION_UNKNOWN'])
    } finally {
      await tp.stop()
    }
  })
})

describe('split deployment: tidewatch broker + tidewatch ingest', () => {
  it('the ingest logs in with its service account and stores what stations publish', async () => {
    const dataDir = `${tmp.dir}/split`
    const broker = await startTestPlatform({ dir: dataDir, parts: { broker: true } })
    const ingest = await startTestPlatform({
      dir: dataDir,
      influxUrl: influx.server.url,
      parts: { ingest: 'mqtt' },
      env: { TIDEWATCH_MQTT_URL: broker.mqttUrl, TIDEWATCH_DATA_DIR: broker.dataDir },
    })
    try {
      await ingest.platform.source!.ready
      const creds = await broker.platform.registry.add({ id: 'cm-split-01', name: 'Split', lat: 9, lon: 105 })
      const station = await mqtt.connectAsync(broker.mqttUrl, { username: creds.username, password: creds.password, protocolVersion: 4, reconnectPeriod: 0 })
      await station.publishAsync('stations/cm-split-01/readings', JSON.stringify({ readings: [{ ts: Date.now() - 2000, values: { no2: 0.3 } }, { ts: Date.now() - 1000, values: { no2: 0.4 } }] }), { qos: 1 })
      // A station cannot subscribe to the readings of others.
      await expect(station.subscribeAsync('stations/+/readings', { qos: 1 })).rejects.toThrow(/Subscribe error/)
      await station.endAsync()
      expect(await eventually(async () => (await influx.values(`"station" = 'cm-split-01'`)) === 2)).toBe(true)
    } finally {
      await ingest.stop()
      await broker.stop()
    }
  })

  it('a broker restart keeps what was queued for the offline ingest (persistent session on disk)', async () => {
    const dataDir = `${tmp.dir}/split2`
    let broker = await startTestPlatform({ dir: dataDir, parts: { broker: true } })
    const ingestEnv = (url: string) => ({ TIDEWATCH_MQTT_URL: url, TIDEWATCH_DATA_DIR: broker.dataDir })
    let ingest = await startTestPlatform({ dir: dataDir, influxUrl: influx.server.url, parts: { ingest: 'mqtt' }, env: ingestEnv(broker.mqttUrl) })
    await ingest.platform.source!.ready
    await ingest.stop()
    const creds = await broker.platform.registry.add({ id: 'cm-split-02', name: 'Split 2', lat: 9, lon: 105 })
    const station = await mqtt.connectAsync(broker.mqttUrl, { username: creds.username, password: creds.password, protocolVersion: 4, reconnectPeriod: 0 })
    const now = Date.now()
    for (let i = 0; i < 3; i++) await station.publishAsync('stations/cm-split-02/readings', JSON.stringify({ ts: now - 10_000 + i, values: { ph: 7 + i / 10 } }), { qos: 1 })
    await station.endAsync()
    await broker.stop()
    broker = await startTestPlatform({ dir: dataDir, parts: { broker: true } })
    ingest = await startTestPlatform({ dir: dataDir, influxUrl: influx.server.url, parts: { ingest: 'mqtt' }, env: ingestEnv(broker.mqttUrl) })
    try {
      await ingest.platform.source!.ready
      expect(await eventually(async () => (await influx.values(`"station" = 'cm-split-02'`)) === 3)).toBe(true)
    } finally {
      await ingest.stop()
      await broker.stop()
    }
  })
})
