/**
 * Spine benchmark: prints figures, asserts nothing.
 *  1. publish (mosquitto_pub over TLS) -> readable from GET /latest, p50/p99
 *  2. ingest throughput: N station clients publishing QoS 1 as fast as PUBACKs allow
 * Run: node bin/run-ts.js bench/spine.ts [--clients 100] [--messages 20000]
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { parseArgs } from 'node:util'
import mqtt from 'mqtt'
import { startTestInflux, startTestPlatform, tempDir } from '../tests/helpers/platform.ts'

const run = promisify(execFile)
const { values } = parseArgs({ options: { clients: { type: 'string', default: '100' }, messages: { type: 'string', default: '20000' }, samples: { type: 'string', default: '30' } } })
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!

const tmp = tempDir('tw-bench-')
const influx = await startTestInflux(tmp.dir)
const tp = await startTestPlatform({ dir: tmp.dir, influxUrl: influx.server.url })
try {
  const creds = await tp.platform.registry.add({ id: 'bench-lat', name: 'bench', lat: 9, lon: 105 })
  const lat: number[] = []
  for (let i = 0; i < Number(values.samples); i++) {
    const ts = Date.now()
    const t0 = performance.now()
    await run('mosquitto_pub', ['-h', 'localhost', '-p', String(tp.platform.broker!.tlsPort), '--cafile', tp.certs.caFile, '-q', '1', '-u', creds.username, '-P', creds.password, '-t', 'stations/bench-lat/readings', '-m', JSON.stringify({ ts, values: { salinity: i } })])
    for (;;) {
      const r = await fetch(`${tp.apiUrl}/api/v1/stations/bench-lat/latest`).then((x) => x.json() as Promise<{ sensors: { salinity?: { ts: string } } }>)
      if (r.sensors.salinity && Date.parse(r.sensors.salinity.ts) === ts) break
      await new Promise((res) => setTimeout(res, 10))
    }
    lat.push(performance.now() - t0)
  }
  console.log(`publish (mosquitto_pub, TLS, incl. process start) -> readable via API: p50 ${pct(lat, 50).toFixed(0)} ms, p99 ${pct(lat, 99).toFixed(0)} ms, max ${Math.max(...lat).toFixed(0)} ms (n=${lat.length})`)

  const nClients = Number(values.clients)
  const perClient = Math.ceil(Number(values.messages) / nClients)
  const clients = []
  for (let c = 0; c < nClients; c++) {
    const id = `bench-${c}`
    const cr = await tp.platform.registry.add({ id, name: id, lat: 9, lon: 105 })
    clients.push({ id, client: await mqtt.connectAsync(tp.mqttUrl, { username: cr.username, password: cr.password, protocolVersion: 4, reconnectPeriod: 0 }) })
  }
  const base = Date.now() - 3_600_000
  const t0 = performance.now()
  await Promise.all(
    clients.map(async ({ id, client }) => {
      for (let i = 0; i < perClient; i++) {
        await client.publishAsync(`stations/${id}/readings`, JSON.stringify({ ts: base + i * 100, values: { salinity: 3.1, water_level: 120, ph: 7.5, no2: 0.1 } }), { qos: 1 })
      }
    }),
  )
  const acked = (performance.now() - t0) / 1000
  await tp.platform.ingest!.drained(120_000)
  const stored = (performance.now() - t0) / 1000
  const total = perClient * nClients
  const spool = tp.platform.ingest!.spoolStats()
  console.log(`ingest: ${total} readings (4 values each) from ${nClients} clients, QoS 1, one in flight per client`)
  console.log(`  acknowledged (on disk): ${(total / acked).toFixed(0)} readings/s; stored in InfluxDB: ${(total / stored).toFixed(0)} readings/s; fsyncs ${spool.fsyncs} (${(spool.appendedRecords / Math.max(1, spool.fsyncs)).toFixed(1)} records/fsync)`)
  await Promise.all(clients.map((c) => c.client.endAsync()))
} finally {
  await tp.stop()
  await influx.server.stop()
  tmp.cleanup()
}
