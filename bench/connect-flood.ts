/**
 * CONNECT flood (issue 12): wrong-password CONNECTs for one real station id
 * from one address while good stations, each on its own loopback address,
 * publish QoS 1 readings. Prints the PUBACK p50/p99 before and during the
 * flood, good-CONNECT latency, /health latency, and what the throttle did.
 * Asserts nothing; tests/spine/connect-flood.test.ts runs the same driver and
 * asserts the functional outcome.
 *
 * Also measures the reason the password check runs on its own thread: fsync
 * latency while scrypt runs on the libuv pool (crypto.scrypt async) versus on
 * the password worker (core/password.ts).
 *
 * Run: node bin/run-ts.js bench/connect-flood.ts [--stations 100] [--flood 2000] [--concurrency 50] [--seconds 10]
 */
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { fsync } from 'node:fs'
import { connect as netConnect } from 'node:net'
import { loadavg, cpus, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { scrypt } from 'node:crypto'
import { Worker } from 'node:worker_threads'
import { performance } from 'node:perf_hooks'
import { MqttClient, type IClientOptions } from 'mqtt'
import { createPasswordVerifier, hashPassword } from '../core/password.ts'
import type { TestPlatform } from '../tests/helpers/platform.ts'

export interface FloodOptions {
  /** Good stations connected before the flood, publishing throughout. */
  stations: number
  /** Wrong-password CONNECTs sent. */
  flood: number
  concurrency: number
  /** The flood is paced to end within this many seconds. */
  seconds: number
  /** Each good station publishes one reading per this many ms. */
  publishEveryMs: number
  /** Fresh stations that CONNECT (first time, so with a scrypt check) during the flood. */
  probes: number
  prefix: string
}

export const DEFAULT_FLOOD: FloodOptions = { stations: 100, flood: 2000, concurrency: 50, seconds: 10, publishEveryMs: 1000, probes: 8, prefix: 'cm-fl' }

export interface FloodResult {
  pubackBefore: number[]
  pubackDuring: number[]
  published: number
  acked: number
  /** Good stations that lost their connection at any time. */
  goodDisconnects: number
  goodConnectMs: number[]
  goodConnectFailures: number
  /** The attacked station, already verified once, reconnecting during the flood. */
  targetReconnectMs: number[]
  healthMs: number[]
  floodByCode: Record<string, number>
  floodMs: number
  /** Of the broker's (main) thread during the flood, 0..1. */
  eventLoopUtilization: number
  brokerCounters: unknown
}

/** An MQTT.js client whose socket is bound to a local loopback address (each station its own source address). */
function connectFrom(localAddress: string, port: number, opts: IClientOptions): MqttClient {
  return new MqttClient(() => netConnect({ host: '127.0.0.1', port, localAddress }), { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 30_000, ...opts })
}

function connackOf(client: MqttClient): Promise<number> {
  return new Promise((resolve) => {
    client.once('connect', () => resolve(0))
    client.once('error', (err) => resolve((err as { code?: number }).code ?? -1))
    client.once('close', () => resolve(-1))
  })
}

// The attacker is another machine: its MQTT.js clients run on their own
// thread so their CPU is not charged to the broker's event loop. Plain
// CommonJS evaluated from a string, like core/password.ts's worker.
const FLOOD_WORKER = `
const { parentPort, workerData: o } = require('node:worker_threads')
const { connect } = require('node:net')
const { MqttClient } = require('mqtt')
const byCode = {}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const start = performance.now()
const interval = (o.seconds * 1000) / o.count
let next = 0
async function worker() {
  for (;;) {
    const i = next++
    if (i >= o.count) return
    const due = start + i * interval
    if (due > performance.now()) await sleep(due - performance.now())
    const c = new MqttClient(() => connect({ host: '127.0.0.1', port: o.port, localAddress: o.localAddress }), { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10000, username: o.username, password: 'wrong-' + i, clientId: o.clientId })
    const code = await new Promise((resolve) => {
      c.once('connect', () => resolve(0))
      c.once('error', (err) => resolve(err.code ?? -1))
      c.once('close', () => resolve(-1))
    })
    c.end(true)
    byCode[code] = (byCode[code] ?? 0) + 1
  }
}
Promise.all(Array.from({ length: o.concurrency }, worker)).then(() => parentPort.postMessage(byCode))
`

/** Wrong-password CONNECTs from `localAddress`, paced to end within `seconds`; resolves to CONNACK codes counted (-1: closed without one). */
function floodFromWorker(o: { port: number; username: string; clientId: string; count: number; concurrency: number; seconds: number; localAddress: string }): Promise<Record<string, number>> {
  const w = new Worker(FLOOD_WORKER, { eval: true, workerData: o })
  return new Promise((resolve, reject) => {
    w.once('message', (m: Record<string, number>) => {
      resolve(m)
      void w.terminate()
    })
    w.once('error', reject)
  })
}

export const pct = (xs: number[], p: number): number => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]! : NaN)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export async function runConnectFlood(tp: TestPlatform, o: FloodOptions = DEFAULT_FLOOD): Promise<FloodResult> {
  const port = tp.platform.broker!.port!
  const reg = tp.platform.registry
  const target = `${o.prefix}-target`
  const targetSecret = (await reg.add({ id: target, name: target, lat: 9, lon: 105 })).password
  const good: Array<{ id: string; secret: string; client?: MqttClient }> = []
  for (let i = 0; i < o.stations; i++) {
    const id = `${o.prefix}-${i}`
    good.push({ id, secret: (await reg.add({ id, name: id, lat: 9, lon: 105 })).password })
  }
  const probes: Array<{ id: string; secret: string }> = []
  for (let i = 0; i < o.probes; i++) {
    const id = `${o.prefix}-probe-${i}`
    probes.push({ id, secret: (await reg.add({ id, name: id, lat: 9, lon: 105 })).password })
  }

  // The attacked station has connected before (it is in the verified cache).
  const t0 = connectFrom('127.0.3.1', port, { username: target, password: targetSecret, clientId: `station-${target}` })
  if ((await connackOf(t0)) !== 0) throw new Error('target station could not connect')
  await t0.endAsync()

  let goodDisconnects = 0
  let stopping = false
  for (const [i, s] of good.entries()) {
    s.client = connectFrom(`127.0.1.${i + 1}`, port, { username: s.id, password: s.secret, clientId: `station-${s.id}` })
    if ((await connackOf(s.client)) !== 0) throw new Error(`good station ${s.id} could not connect`)
    s.client.on('close', () => {
      if (!stopping) goodDisconnects++
    })
  }

  let phase: 'before' | 'during' | 'after' = 'before'
  const pubackBefore: number[] = []
  const pubackDuring: number[] = []
  let published = 0
  let acked = 0
  const publishers = good.map(async (s, i) => {
    await sleep((i * o.publishEveryMs) / good.length)
    let seq = 0
    while (phase !== 'after') {
      const started = performance.now()
      const p = phase
      published++
      await s.client!.publishAsync(`stations/${s.id}/readings`, JSON.stringify({ ts: Date.now(), seq: seq++, values: { salinity: 2 + (seq % 10) / 10 } }), { qos: 1 })
      acked++
      ;(p === 'before' ? pubackBefore : pubackDuring).push(performance.now() - started)
      await sleep(Math.max(0, o.publishEveryMs - (performance.now() - started)))
    }
  })
  await sleep(Math.max(2000, o.publishEveryMs * 2))

  const eluBefore = performance.eventLoopUtilization()
  phase = 'during'
  const floodStart = performance.now()
  const flood = floodFromWorker({ port, username: target, clientId: `station-${target}`, count: o.flood, concurrency: o.concurrency, seconds: o.seconds, localAddress: '127.0.0.2' })

  const goodConnectMs: number[] = []
  let goodConnectFailures = 0
  const targetReconnectMs: number[] = []
  const healthMs: number[] = []
  const probing = (async () => {
    for (const [i, p] of probes.entries()) {
      await sleep((o.seconds * 1000) / (o.probes + 1))
      let started = performance.now()
      const c = connectFrom(`127.0.2.${i + 1}`, port, { username: p.id, password: p.secret, clientId: `station-${p.id}` })
      if ((await connackOf(c)) === 0) goodConnectMs.push(performance.now() - started)
      else goodConnectFailures++
      await c.endAsync()
      started = performance.now()
      const t = connectFrom('127.0.3.1', port, { username: target, password: targetSecret, clientId: `station-${target}` })
      if ((await connackOf(t)) === 0) targetReconnectMs.push(performance.now() - started)
      else goodConnectFailures++
      await t.endAsync()
    }
  })()
  const health = (async () => {
    while (phase === 'during') {
      const started = performance.now()
      await fetch(`${tp.apiUrl}/health`).then((r) => r.arrayBuffer())
      healthMs.push(performance.now() - started)
      await sleep(500)
    }
  })()
  const [floodByCode] = await Promise.all([flood, probing])
  const floodMs = performance.now() - floodStart
  const elu = performance.eventLoopUtilization(eluBefore).utilization
  phase = 'after'
  await Promise.all([...publishers, health])
  stopping = true
  await Promise.all(good.map((s) => s.client!.endAsync()))
  return {
    pubackBefore,
    pubackDuring,
    published,
    acked,
    goodDisconnects,
    goodConnectMs,
    goodConnectFailures,
    targetReconnectMs,
    healthMs,
    floodByCode,
    floodMs,
    eventLoopUtilization: elu,
    brokerCounters: structuredClone(tp.platform.broker!.counters),
  }
}

export function describeFlood(r: FloodResult): string {
  const f = (xs: number[]) => `p50 ${pct(xs, 50).toFixed(1)} ms, p99 ${pct(xs, 99).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms (n=${xs.length})`
  return [
    `machine: ${cpus().length} cores, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`,
    `PUBACK before flood: ${f(r.pubackBefore)}`,
    `PUBACK during flood: ${f(r.pubackDuring)}`,
    `good CONNECT (fresh station, scrypt) during flood: ${f(r.goodConnectMs)}; failures ${r.goodConnectFailures}`,
    `attacked station reconnecting during flood (verified before): ${f(r.targetReconnectMs)}`,
    `/health during flood: ${f(r.healthMs)}`,
    `flood: ${Object.values(r.floodByCode).reduce((a, b) => a + b, 0)} CONNECTs in ${(r.floodMs / 1000).toFixed(1)} s; CONNACK codes ${JSON.stringify(r.floodByCode)}`,
    `broker event loop utilisation during flood: ${(r.eventLoopUtilization * 100).toFixed(0)} %`,
    `readings published ${r.published}, acked ${r.acked}; good stations disconnected ${r.goodDisconnects}`,
    `broker counters: ${JSON.stringify(r.brokerCounters)}`,
  ].join('\n')
}

/**
 * Wrong-password CONNECT latency for a registered station id and for an
 * unknown one, each attempt from its own address (so no throttle applies).
 * Before issue 12 these were 62–73 ms and 3–4 ms: a timing oracle for ids.
 */
export async function wrongPasswordTiming(tp: TestPlatform, knownId: string, attempts = 4): Promise<{ known: number[]; unknown: number[] }> {
  const port = tp.platform.broker!.port!
  const out = { known: [] as number[], unknown: [] as number[] }
  for (let i = 0; i < attempts * 2; i++) {
    const kind = i % 2 === 0 ? 'known' : 'unknown'
    const started = performance.now()
    const c = connectFrom(`127.0.5.${i + 1}`, port, { username: kind === 'known' ? knownId : `cm-nobody-${i}`, password: 'not-the-secret', clientId: `t-${i}` })
    const code = await connackOf(c)
    c.end(true)
    if (code === 4) out[kind].push(performance.now() - started)
  }
  return out
}

/**
 * fsync latency on a temp file while `checks` password checks run: on the
 * libuv pool (crypto.scrypt, what the broker used before) or on the worker.
 */
export async function fsyncUnderScrypt(mode: 'none' | 'threadpool' | 'worker', checks = 200, concurrency = 50): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'tw-fsync-'))
  const fd = openSync(join(dir, 'f'), 'w')
  const stored = await hashPassword('x')
  const [, n, r, p, salt] = stored.split('$') as [string, string, string, string, string]
  const verifier = createPasswordVerifier({ maxQueue: checks })
  let running = true
  const lat: number[] = []
  const syncing = (async () => {
    while (running) {
      writeSync(fd, 'x'.repeat(100))
      const t = performance.now()
      await new Promise<void>((res, rej) => fsync(fd, (e) => (e ? rej(e) : res())))
      lat.push(performance.now() - t)
      await sleep(5)
    }
  })()
  if (mode === 'threadpool') {
    let i = 0
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (i++ < checks) await new Promise((res) => scrypt(`w${i}`, Buffer.from(salt, 'base64'), 32, { N: Number(n), r: Number(r), p: Number(p), maxmem: 64 * 1024 * 1024 }, res))
      }),
    )
  } else if (mode === 'worker') {
    await Promise.all(Array.from({ length: checks }, (_, i) => verifier.verify(`w${i}`, stored)))
  } else await sleep(3000)
  running = false
  await syncing
  await verifier.close()
  fsyncSync(fd)
  closeSync(fd)
  rmSync(dir, { recursive: true, force: true })
  return lat
}

if (import.meta.url === pathToFileURL(resolve(process.argv[1] ?? '')).href) {
  const { values } = parseArgs({
    options: { stations: { type: 'string' }, flood: { type: 'string' }, concurrency: { type: 'string' }, seconds: { type: 'string' }, 'skip-fsync': { type: 'boolean' } },
  })
  const f = (xs: number[]) => `p50 ${pct(xs, 50).toFixed(1)} ms, p99 ${pct(xs, 99).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms (n=${xs.length})`
  if (!values['skip-fsync']) {
    for (const mode of ['none', 'threadpool', 'worker'] as const) console.log(`fsync while 200 scrypt checks run (${mode}, UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? 4}): ${f(await fsyncUnderScrypt(mode))}`)
  }
  const { startTestInflux, startTestPlatform, tempDir } = await import('../tests/helpers/platform.ts')
  const tmp = tempDir('tw-bench-flood-')
  const influx = await startTestInflux(tmp.dir)
  const tp = await startTestPlatform({ dir: tmp.dir, influxUrl: influx.server.url })
  try {
    const r = await runConnectFlood(tp, {
      ...DEFAULT_FLOOD,
      ...(values.stations ? { stations: Number(values.stations) } : {}),
      ...(values.flood ? { flood: Number(values.flood) } : {}),
      ...(values.concurrency ? { concurrency: Number(values.concurrency) } : {}),
      ...(values.seconds ? { seconds: Number(values.seconds) } : {}),
    })
    console.log(describeFlood(r))
    const t = await wrongPasswordTiming(tp, 'cm-fl-0')
    const f2 = (xs: number[]) => `p50 ${pct(xs, 50).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms (n=${xs.length})`
    console.log(`wrong password, registered id: ${f2(t.known)}; unknown id: ${f2(t.unknown)}`)
  } finally {
    await tp.stop()
    await influx.server.stop()
    tmp.cleanup()
  }
}
