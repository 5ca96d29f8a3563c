/**
 * A child process that simulates a share of the stations: real MQTT.js
 * clients, QoS 1, one TCP connection each. Driven by the parent over IPC
 * (see fleet.ts); it answers every command with one result message.
 *
 * Every reading of a station has a unique device timestamp (its identity in
 * InfluxDB), so the parent can compare per-station acknowledged counts with
 * what InfluxDB stores.
 */
import { createConnection } from 'node:net'
import mqtt, { type MqttClient } from 'mqtt'
import type { WorkerCommand, WorkerResult } from './fleet.ts'

interface Station {
  id: string
  topic: string
  client?: MqttClient
  lastTs: number
  acked: number
  inflight: number
}

const stations: Station[] = []
const LAT_CAP = 50_000
const now = (): number => performance.timeOrigin + performance.now()

/** Reservoir of latencies, so memory stays bounded on long runs. */
class Reservoir {
  readonly xs: number[] = []
  seen = 0
  add(x: number): void {
    this.seen++
    if (this.xs.length < LAT_CAP) this.xs.push(x)
    else {
      const j = Math.floor(Math.random() * this.seen)
      if (j < LAT_CAP) this.xs[j] = x
    }
  }
}

function payload(ts: number, i: number): string {
  return `{"ts":${ts},"values":{"salinity":${(2 + (i % 100) / 100).toFixed(2)},"water_level":${120 + (i % 7)},"ph":7.5,"no2":0.1}}`
}

function nextTs(s: Station): number {
  const ts = Math.max(Date.now(), s.lastTs + 1)
  s.lastTs = ts
  return ts
}

async function connectAll(cmd: Extract<WorkerCommand, { cmd: 'connect' }>): Promise<WorkerResult> {
  const t0 = now()
  const times: number[] = []
  let failed = 0
  let next = 0
  // A bounded number of CONNECTs in the air, like stations coming back over time.
  const connectOne = async (i: number): Promise<void> => {
    const st = cmd.stations[i]!
    const s: Station = { id: st.id, topic: `stations/${st.id}/readings`, lastTs: 0, acked: 0, inflight: 0 }
    stations.push(s)
    const localAddress = cmd.localAddresses[i % cmd.localAddresses.length]
    const c0 = now()
    await new Promise<void>((resolve) => {
      const client = new mqtt.MqttClient(() => createConnection({ host: cmd.host, port: cmd.port, localAddress }), {
        clientId: `bench-${st.id}`,
        username: st.id,
        password: st.password,
        protocolVersion: 4,
        clean: true,
        reconnectPeriod: 0,
        connectTimeout: 900_000,
        keepalive: cmd.keepaliveSec,
      } as never)
      client.once('connect', () => {
        times.push(now() - c0)
        s.client = client
        resolve()
      })
      client.on('error', () => undefined)
      client.once('close', () => {
        if (!s.client) {
          failed++
          resolve()
        }
      })
    })
  }
  await Promise.all(
    Array.from({ length: Math.min(cmd.concurrency, cmd.stations.length) }, async () => {
      while (next < cmd.stations.length) await connectOne(next++)
    }),
  )
  return { ev: 'connected', connected: times.length, failed, connectMs: times, wallMs: now() - t0 }
}

function publish(s: Station, body: string, onAck: (err?: Error) => void): void {
  s.inflight++
  s.client!.publish(s.topic, body, { qos: 1 }, (err) => {
    s.inflight--
    if (!err) s.acked++
    onAck(err ?? undefined)
  })
}

/** As fast as PUBACKs allow, `window` unacknowledged publishes per station. */
async function flood(cmd: Extract<WorkerCommand, { cmd: 'flood' }>): Promise<WorkerResult> {
  const lat = new Reservoir()
  const start = stations.map((s) => s.acked)
  let inWindow = 0
  const t0 = now()
  const tEnd = t0 + cmd.seconds * 1000
  let generating = true
  let i = 0
  const pump = (s: Station): void => {
    while (generating && s.client?.connected && s.inflight < cmd.window) {
      const sent = now()
      publish(s, payload(nextTs(s), i++), (err) => {
        const t = now()
        if (!err) {
          lat.add(t - sent)
          if (t <= tEnd) inWindow++
        }
        pump(s)
      })
    }
  }
  for (const s of stations) pump(s)
  await new Promise((r) => setTimeout(r, cmd.seconds * 1000))
  generating = false
  await drainInflight()
  return { ev: 'done', acked: stations.map((s, k) => s.acked - start[k]!), ackedInWindow: inWindow, pubackMs: lat.xs, wallMs: now() - t0 }
}

/** A fixed rate per station, phases spread evenly; nothing waits for a PUBACK. */
async function rate(cmd: Extract<WorkerCommand, { cmd: 'rate' }>): Promise<WorkerResult> {
  const lat = new Reservoir()
  const start = stations.map((s) => s.acked)
  const periodMs = 1000 / cmd.perStationPerSec
  const t0 = now()
  const sent = new Array<number>(stations.length).fill(0)
  let i = 0
  let errors = 0
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const el = now() - t0
      if (el >= cmd.seconds * 1000) {
        clearInterval(timer)
        return resolve()
      }
      for (let k = 0; k < stations.length; k++) {
        const s = stations[k]!
        const phase = ((k + cmd.phaseOffset) % cmd.phaseCount) * (periodMs / cmd.phaseCount)
        const due = Math.floor((el - phase) / periodMs) + 1
        while (sent[k]! < due && s.client?.connected) {
          sent[k]!++
          const t = now()
          publish(s, payload(nextTs(s), i++), (err) => (err ? errors++ : lat.add(now() - t)))
        }
      }
    }, 5)
  })
  await drainInflight()
  return { ev: 'done', acked: stations.map((s, k) => s.acked - start[k]!), ackedInWindow: 0, pubackMs: lat.xs, wallMs: now() - t0, errors }
}

/**
 * A backlog per station, sent as batch payloads (docs/PROTOCOL.md), with
 * `window` batches in flight per station. Readings are 1 min apart and end
 * `endAgoMs` before now.
 */
async function backlog(cmd: Extract<WorkerCommand, { cmd: 'backlog' }>): Promise<WorkerResult> {
  const start = stations.map((s) => s.acked)
  const ackedReadings = new Array<number>(stations.length).fill(0)
  const t0 = now()
  const end = Date.now() - cmd.endAgoMs
  const lat = new Reservoir()
  await Promise.all(
    stations.map(
      (s, k) =>
        new Promise<void>((resolve) => {
          let next = 0
          const pump = (): void => {
            while (s.inflight < cmd.window && next < cmd.readings && s.client?.connected) {
              const n = Math.min(cmd.batchSize, cmd.readings - next)
              const items: string[] = []
              for (let j = 0; j < n; j++) {
                const ts = end - (cmd.readings - 1 - (next + j)) * cmd.intervalMs
                items.push(`{"ts":${ts},"values":{"salinity":2.5,"water_level":${100 + (j % 50)},"ph":7.4,"no2":0.1}}`)
              }
              next += n
              const body = `{"readings":[${items.join(',')}]}`
              const t = now()
              publish(s, body, (err) => {
                if (!err) {
                  ackedReadings[k]! += n
                  lat.add(now() - t)
                }
                if (next >= cmd.readings && s.inflight === 0) resolve()
                else pump()
              })
            }
            if (!s.client?.connected) resolve()
          }
          pump()
        }),
    ),
  )
  // Each station's backlog readings count once per reading, not per payload.
  void start
  return { ev: 'done', acked: ackedReadings, ackedInWindow: 0, pubackMs: lat.xs, wallMs: now() - t0 }
}

async function drainInflight(timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (stations.some((s) => s.inflight > 0 && s.client?.connected) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
}

async function closeAll(): Promise<WorkerResult> {
  await Promise.all(stations.map((s) => new Promise<void>((r) => (s.client ? s.client.end(true, {}, () => r()) : r()))))
  stations.length = 0
  return { ev: 'closed' }
}

process.on('message', (msg: WorkerCommand) => {
  const run = (): Promise<WorkerResult> => {
    switch (msg.cmd) {
      case 'connect':
        return connectAll(msg)
      case 'flood':
        return flood(msg)
      case 'rate':
        return rate(msg)
      case 'backlog':
        return backlog(msg)
      case 'close':
        return closeAll()
    }
  }
  run().then(
    (r) => process.send!(r),
    (err: Error) => process.send!({ ev: 'error', message: err.stack ?? err.message }),
  )
})
process.send!({ ev: 'ready' })
