/**
 * broker/unrouted-publish.ts against real servers (influxd, the embedded
 * broker + ingest, MQTT.js clients): a reading nobody subscribed to skips
 * aedes' publish pipeline, and the moment somebody subscribes, live or with
 * a persistent session, readings reach them again. Every reading is
 * acknowledged and stored either way.
 */
import { expect, it } from 'vitest'
import mqtt from 'mqtt'
import { ingestServiceAccount } from '../../platform/credentials.ts'
import { eventually, platformPerFile } from '../helpers/platform.ts'

const world = platformPerFile()

it('a reading nobody subscribed to skips the pipeline; live and persistent subscribers still get theirs', async () => {
  const { tp, influx } = world
  const id = 'cm-unr-01'
  const topic = `stations/${id}/readings`
  const creds = await tp.platform.registry.add({ id, name: id, lat: 9, lon: 105 })
  const station = await mqtt.connectAsync(tp.mqttUrl, { username: creds.username, password: creds.password, clientId: `station-${id}`, protocolVersion: 4, reconnectPeriod: 0 })
  const counters = tp.platform.broker!.counters
  let ts = Date.now() - 60_000
  // publishAsync resolves on the PUBACK.
  const send = (salinity: number) => station.publishAsync(topic, JSON.stringify({ ts: ts++, values: { salinity } }), { qos: 1 })

  // Nobody listens: the first reading finds that out the long way, the next ones skip it.
  const unroutedAtStart = counters.unrouted
  for (let i = 0; i < 3; i++) await send(1 + i / 10)
  expect(counters.unrouted).toBeGreaterThanOrEqual(unroutedAtStart + 2)

  // A live subscriber: the next reading reaches it, through the pipeline.
  const svc = ingestServiceAccount(tp.config)
  const live = await mqtt.connectAsync(tp.mqttUrl, { username: svc.username, password: svc.password, clientId: 'unrouted-test-live', protocolVersion: 4, reconnectPeriod: 0 })
  const liveGot: string[] = []
  live.on('message', (_t, payload) => liveGot.push(payload.toString()))
  await live.subscribeAsync('stations/+/readings', { qos: 1 })
  const unroutedBeforeLive = counters.unrouted
  await send(2.1)
  expect(await eventually(() => liveGot.some((p) => p.includes('2.1')))).toBe(true)
  // QoS 0 too.
  await station.publishAsync(topic, JSON.stringify({ ts: ts++, values: { salinity: 2.2 } }), { qos: 0 })
  expect(await eventually(() => liveGot.some((p) => p.includes('2.2')))).toBe(true)
  expect(counters.unrouted).toBe(unroutedBeforeLive)

  // A persistent session that goes away: what is published meanwhile waits for it.
  const persistentOpts = { username: svc.username, password: svc.password, clientId: 'unrouted-test-persistent', protocolVersion: 4 as const, reconnectPeriod: 0, clean: false }
  const persistent = await mqtt.connectAsync(tp.mqttUrl, persistentOpts)
  await persistent.subscribeAsync('stations/+/readings', { qos: 1 })
  await persistent.endAsync()
  await live.unsubscribeAsync('stations/+/readings')
  await live.endAsync()
  await new Promise((r) => setImmediate(r))
  await send(3.3)
  // Listening before it connects: the queued reading arrives right after CONNACK.
  const back = mqtt.connect(tp.mqttUrl, { ...persistentOpts, manualConnect: true })
  const queued: string[] = []
  back.on('message', (_t, payload) => queued.push(payload.toString()))
  await new Promise<void>((resolve, reject) => {
    back.once('connect', () => resolve())
    back.once('error', reject)
    back.connect()
  })
  expect(await eventually(() => queued.some((p) => p.includes('3.3')))).toBe(true)
  // Its session ends clean: nobody subscribed again, so readings skip the pipeline again.
  await back.unsubscribeAsync('stations/+/readings')
  await back.endAsync()
  await new Promise((r) => setImmediate(r))
  await send(4.4)
  const unroutedAfter = counters.unrouted
  await send(4.5)
  expect(counters.unrouted).toBe(unroutedAfter + 1)

  // Every reading was acknowledged and is stored, whichever way it went.
  expect(await eventually(async () => (await influx.values(`"station" = '${id}'`)) === 8)).toBe(true)
  await station.endAsync()
})
