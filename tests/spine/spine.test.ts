/**
 * Issue 2 bar, against real servers: influxd (Debian 1.6.7), the embedded
 * Aedes broker on TCP and TLS, the ingest, the API — and mosquitto_pub as a
 * foreign client.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import mqtt from 'mqtt'
import { main } from '../../cli/main.ts'
import { eventually, getJson, startTestInflux, startTestPlatform, tempDir, type TestInflux, type TestPlatform } from '../helpers/platform.ts'

const run = promisify(execFile)

let tmp: ReturnType<typeof tempDir>
let influx: TestInflux
let tp: TestPlatform
let env: Record<string, string>

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = ''
  let err = ''
  const code = await main(args, { stdout: (s) => void (out += s + '\n'), stderr: (s) => void (err += s + '\n') }, env)
  return { code, out, err }
}

async function addStation(id: string, extra: string[] = []): Promise<{ id: string; username: string; password: string }> {
  const r = await cli(['devices', 'add', id, '--name', `Trạm ${id}`, '--lat', '9.1', '--lon', '105.1', '--json', ...extra])
  expect(r.code, r.err).toBe(0)
  return JSON.parse(r.out)
}

function mosquittoPub(args: { user: string; password: string; topic: string; message: string; tls?: boolean }) {
  const port = args.tls ? tp.platform.broker!.tlsPort! : tp.platform.broker!.port
  return run(
    'mosquitto_pub',
    [
      '-h', 'localhost', '-p', String(port), '-V', 'mqttv311', '-q', '1', '-i', `pub-${args.user}-${Date.now()}`,
      '-u', args.user, '-P', args.password, '-t', args.topic, '-m', args.message,
      ...(args.tls ? ['--cafile', tp.certs.caFile] : []),
    ],
    { timeout: 15_000 },
  )
}

beforeAll(async () => {
  tmp = tempDir()
  influx = await startTestInflux(tmp.dir)
  tp = await startTestPlatform({ dir: tmp.dir, influxUrl: influx.server.url })
  env = { TIDEWATCH_DATA_DIR: tp.dataDir, TIDEWATCH_LOG_LEVEL: 'silent' }
})

afterAll(async () => {
  await tp?.stop()
  await influx?.server.stop()
  tmp?.cleanup()
})

describe('devices CLI', () => {
  it('add --json prints exactly id, username and password', async () => {
    const creds = await addStation('cm-cli-01')
    expect(Object.keys(creds)).toEqual(['id', 'username', 'password'])
    expect(creds.username).toBe('cm-cli-01')
    expect(creds.password.length).toBeGreaterThanOrEqual(20)
  })

  it('refuses a bad station id, a duplicate and bad coordinates with clear errors', async () => {
    const bad = await cli(['devices', 'add', 'bad id!', '--name', 'x', '--lat', '9', '--lon', '105'])
    expect(bad.code).toBe(1)
    expect(bad.err).toContain('STATION_ID_INVALID')
    const dup = await cli(['devices', 'add', 'cm-cli-01', '--name', 'x', '--lat', '9', '--lon', '105'])
    expect(dup.err).toContain('STATION_EXISTS')
    const lat = await cli(['devices', 'add', 'cm-cli-02', '--name', 'x', '--lat', 'abc', '--lon', '105'])
    expect(lat.err).toMatch(/--lat must be a number/)
    const sensors = await cli(['devices', 'add', 'cm-cli-03', '--name', 'x', '--lat', '9', '--lon', '105', '--sensors', 'salinity,oxygen'])
    expect(sensors.err).toMatch(/oxygen/)
  })

  it('imports stations from CSV atomically and prints their credentials once', async () => {
    const { writeFileSync } = await import('node:fs')
    const file = `${tmp.dir}/stations.csv`
    writeFileSync(file, 'id,name,lat,lon,commune,district,sensors\ncm-csv-01,"Cống Cái Đôi Vàm, Phú Tân",8.86,104.81,Xã Phú Tân,Huyện Phú Tân,salinity;ph\ncm-csv-02,Rạch Gốc,8.64,105.0,,,\n')
    const r = await cli(['devices', 'import', file, '--json'])
    expect(r.code, r.err).toBe(0)
    const creds = JSON.parse(r.out)
    expect(creds.map((c: { id: string }) => c.id)).toEqual(['cm-csv-01', 'cm-csv-02'])
    const list = JSON.parse((await cli(['devices', 'list', '--json'])).out)
    const one = list.find((s: { id: string }) => s.id === 'cm-csv-01')
    expect(one.name).toBe('Cống Cái Đôi Vàm, Phú Tân')
    expect(one.sensors.map((x: { kind: string }) => x.kind)).toEqual(['ph', 'salinity'])
    // One bad row: nothing from the file is registered, and the line is named.
    writeFileSync(file, 'id,name,lat,lon\ncm-csv-03,A,9,105\ncm-csv-04,B,north,105\n')
    const bad = await cli(['devices', 'import', file])
    expect(bad.code).toBe(1)
    expect(bad.err).toMatch(/CSV_INVALID.*:3: --lat must be a number/)
    expect((await cli(['devices', 'list', '--json'])).out).not.toContain('cm-csv-03')
    writeFileSync(file, 'id,name,lat,lon\ncm-csv-05,A,9,105\nCM 06,B,9,105\n')
    const badId = await cli(['devices', 'import', file])
    expect(badId.err).toMatch(/CSV_INVALID.*:3: Station id must match/)
    expect((await cli(['devices', 'list', '--json'])).out).not.toContain('cm-csv-05')
  })

  it('lists stations without secrets', async () => {
    const r = await cli(['devices', 'list', '--json'])
    expect(r.code).toBe(0)
    expect(r.out).toContain('cm-cli-01')
    expect(r.out).not.toMatch(/scrypt|password/)
  })
})

describe('broker + ingest + API', () => {
  it('stores a reading published by mosquitto_pub over TLS and serves it from the API', async () => {
    const creds = await addStation('cm-tls-01')
    const ts = Date.now() - 1000
    await mosquittoPub({ user: creds.username, password: creds.password, topic: 'stations/cm-tls-01/readings', tls: true, message: JSON.stringify({ ts, values: { salinity: 3.2, water_level: 120, ph: 7.4, no2: 0.2 }, battery: 12.6, rssi: -81 }) })
    // The 2 s bar is measured by bench/spine-latency.ts; tests do not assert timings.
    const latest = await eventually(async () => {
      const r = await getJson(`${tp.apiUrl}/api/v1/stations/cm-tls-01/latest`)
      return Object.keys(r.body.sensors ?? {}).length === 4 ? r.body : undefined
    }, 10_000, 25)
    expect(latest.sensors.salinity).toEqual({ value: 3.2, unit: '‰', ts: new Date(ts).toISOString() })
    expect(latest.sensors.water_level.value).toBe(120)
  })

  it('refuses a wrong password with CONNACK "bad username or password"', async () => {
    await addStation('cm-pw-01')
    await expect(mosquittoPub({ user: 'cm-pw-01', password: 'wrong', topic: 'stations/cm-pw-01/readings', message: '{}', tls: true })).rejects.toMatchObject({
      stderr: expect.stringMatching(/not authori[sz]ed|bad user name or password|Connection Refused/i),
    })
    expect(tp.platform.broker!.counters.connectsRefused.bad_credentials).toBeGreaterThanOrEqual(1)
  })

  it('refuses anonymous clients', async () => {
    const client = mqtt.connect(tp.mqttUrl, { reconnectPeriod: 0, protocolVersion: 4 })
    const err = await new Promise<Error>((resolve) => client.once('error', resolve))
    client.end(true)
    expect(err.message).toMatch(/Not authorized/i)
  })

  it('stores nothing when a station publishes to another station\'s topic', async () => {
    const a = await addStation('cm-spoof-a')
    await addStation('cm-spoof-b')
    const ts = Date.now()
    // mosquitto_pub does not wait for a PUBACK that never comes; the broker drops the connection.
    await mosquittoPub({ user: a.username, password: a.password, topic: 'stations/cm-spoof-b/readings', message: JSON.stringify({ ts, values: { salinity: 9 } }) }).catch(() => undefined)
    await new Promise((r) => setTimeout(r, 500))
    expect(await influx.values(`"station" = 'cm-spoof-b'`)).toBe(0)
    expect(tp.platform.broker!.counters.publishDenied).toBeGreaterThanOrEqual(1)
    const q = await getJson(`${tp.apiUrl}/api/v1/quarantine?reason=TOPIC_INVALID`, tp.adminToken)
    expect(q.body.entries[0]).toMatchObject({ stationId: 'cm-spoof-a', reason: 'TOPIC_INVALID' })
  })

  it('refuses a disabled station, and rotation invalidates the old password at once', async () => {
    const creds = await addStation('cm-dis-01')
    expect((await cli(['devices', 'disable', 'cm-dis-01'])).code).toBe(0)
    await expect(mosquittoPub({ user: creds.username, password: creds.password, topic: 'stations/cm-dis-01/readings', message: '{}' })).rejects.toBeTruthy()
    expect(tp.platform.broker!.counters.connectsRefused.disabled).toBeGreaterThanOrEqual(1)

    const r = await addStation('cm-rot-01')
    await mosquittoPub({ user: r.username, password: r.password, topic: 'stations/cm-rot-01/status', message: 'online' })
    const rotated = await cli(['devices', 'rotate', 'cm-rot-01', '--json'])
    const fresh = JSON.parse(rotated.out)
    await expect(mosquittoPub({ user: r.username, password: r.password, topic: 'stations/cm-rot-01/status', message: 'online' })).rejects.toBeTruthy()
    await mosquittoPub({ user: fresh.username, password: fresh.password, topic: 'stations/cm-rot-01/status', message: 'online' })
  })

  it('refuses and counts an oversized payload', async () => {
    const creds = await addStation('cm-big-01')
    const before = tp.platform.broker!.counters.oversized
    const client = await mqtt.connectAsync(tp.mqttUrl, { username: creds.username, password: creds.password, reconnectPeriod: 0, protocolVersion: 4 })
    const closed = new Promise<void>((r) => client.once('close', () => r()))
    client.publish('stations/cm-big-01/readings', Buffer.alloc(300 * 1024, 0x20), { qos: 1 })
    await closed
    client.end(true)
    expect(tp.platform.broker!.counters.oversized).toBe(before + 1)
    const q = await getJson(`${tp.apiUrl}/api/v1/quarantine?station=cm-big-01`, tp.adminToken)
    expect(q.body.entries[0].reason).toBe('PAYLOAD_TOO_LARGE')
  })

  it('stores all 1,000 valid readings and quarantines all 1,000 invalid ones interleaved with them', async () => {
    const creds = await addStation('cm-mix-01')
    const client = await mqtt.connectAsync(tp.mqttUrl, { username: creds.username, password: creds.password, reconnectPeriod: 0, protocolVersion: 4, clientId: 'mix-01' })
    const base = Date.now() - 2000 * 1000
    const invalid: Array<[string, () => string | Buffer]> = [
      ['PAYLOAD_NOT_JSON', () => '{"ts": 1, "values": '],
      ['TS_INVALID', () => JSON.stringify({ ts: 'yesterday', values: { salinity: 1 } })],
      ['VALUE_NOT_NUMBER', () => JSON.stringify({ ts: Date.now(), values: { salinity: 'high' } })],
      ['VALUE_OUT_OF_RANGE', () => JSON.stringify({ ts: Date.now(), values: { ph: 14.5 } })],
      ['TS_IN_FUTURE', () => JSON.stringify({ ts: Date.now() + 3_600_000, values: { salinity: 1 } })],
      ['TS_TOO_OLD', () => JSON.stringify({ ts: 946684800000, values: { salinity: 1 } })],
      ['READING_NO_VALUES', () => JSON.stringify({ ts: Date.now(), values: {} })],
      ['READING_UNKNOWN_SENSOR', () => JSON.stringify({ ts: Date.now(), values: { oxygen: 5 } })],
      ['PAYLOAD_SCHEMA', () => JSON.stringify({ time: Date.now(), values: { salinity: 1 } })],
      ['PAYLOAD_NOT_UTF8', () => Buffer.from([0xff, 0xfe, 0x7b])],
    ]
    const publishes: Promise<unknown>[] = []
    for (let i = 0; i < 1000; i++) {
      const ts = base + i * 1000
      publishes.push(client.publishAsync('stations/cm-mix-01/readings', JSON.stringify({ ts, seq: i, values: { salinity: 1 + (i % 50) / 10 } }), { qos: 1 }))
      publishes.push(client.publishAsync('stations/cm-mix-01/readings', invalid[i % invalid.length]![1](), { qos: 1 }))
    }
    await Promise.all(publishes)
    await client.endAsync()
    expect(await tp.platform.ingest!.drained(20_000)).toBe(true)
    expect(await influx.values(`"station" = 'cm-mix-01'`)).toBe(1000)
    const mine = tp.platform.ingest!.quarantine.list({ stationId: 'cm-mix-01', limit: 1000 })
    expect(mine).toHaveLength(1000)
    const byReason: Record<string, number> = {}
    for (const m of mine) byReason[m.reason] = (byReason[m.reason] ?? 0) + 1
    expect(byReason).toEqual(Object.fromEntries(invalid.map(([reason]) => [reason, 100])))
    expect(await influx.count('quarantine', `"station" = 'cm-mix-01'`, 'count')).toBe(1000)
    // The process is still up and serving.
    expect((await getJson(`${tp.apiUrl}/health`)).status).toBe(200)
  })

  it('detects a station whose clock was reset: readings quarantined, skew shown in its health', async () => {
    const creds = await addStation('cm-rtc-01')
    const client = await mqtt.connectAsync(tp.mqttUrl, { username: creds.username, password: creds.password, reconnectPeriod: 0, protocolVersion: 4 })
    await client.publishAsync('stations/cm-rtc-01/readings', JSON.stringify({ ts: '2000-01-01T00:00:00Z', values: { salinity: 1.2 } }), { qos: 1 })
    await client.endAsync()
    tp.platform.ingest!.flushSightings()
    const health = await getJson(`${tp.apiUrl}/api/v1/stations/cm-rtc-01/health`)
    expect(health.body.clock.status).toBe('behind')
    expect(health.body.clock.offsetSec).toBeLessThan(-365 * 86400)
    expect(health.body.refusalsLast24h).toEqual({ TS_TOO_OLD: 1 })
    expect(await influx.values(`"station" = 'cm-rtc-01'`)).toBe(0)
    // A station with a good clock reads "ok".
    const good = await getJson(`${tp.apiUrl}/api/v1/stations/cm-tls-01/health`)
    expect(good.body.clock.status).toBe('ok')
    expect(good.body.battery.value).toBe(12.6)
  })

  it('keeps "latest" on the newest device time when older readings arrive after an outage', async () => {
    const creds = await addStation('cm-ooo-01')
    const client = await mqtt.connectAsync(tp.mqttUrl, { username: creds.username, password: creds.password, reconnectPeriod: 0, protocolVersion: 4 })
    const now = Date.now()
    await client.publishAsync('stations/cm-ooo-01/readings', JSON.stringify({ ts: now - 1000, values: { salinity: 2.5 } }), { qos: 1 })
    // The backlog from the outage arrives afterwards, older and late.
    await client.publishAsync('stations/cm-ooo-01/readings', JSON.stringify({ readings: [{ ts: now - 3 * 3_600_000, values: { salinity: 9.9 } }, { ts: now - 2 * 3_600_000, values: { salinity: 8.8 } }] }), { qos: 1 })
    await client.endAsync()
    await tp.platform.ingest!.drained()
    const latest = await getJson(`${tp.apiUrl}/api/v1/stations/cm-ooo-01/latest`)
    expect(latest.body.sensors.salinity.value).toBe(2.5)
    const [series = []] = await influx.query.query(`SELECT "salinity", "late" FROM "station_reading" WHERE "station" = 'cm-ooo-01' ORDER BY time ASC`)
    expect(series[0]!.values.map((v) => v[2])).toEqual([true, true, false])
  })

  it('answers API errors with stable codes: 404 unknown station, 400 naming the parameter', async () => {
    const nf = await getJson(`${tp.apiUrl}/api/v1/stations/nope/latest`)
    expect(nf.status).toBe(404)
    expect(nf.body.error.code).toBe('STATION_NOT_FOUND')
    const bad = await getJson(`${tp.apiUrl}/api/v1/stations/cm-tls-01/readings?sensor=oxygen`)
    expect(bad.status).toBe(400)
    expect(bad.body.error.message).toContain('sensor')
    const every = await getJson(`${tp.apiUrl}/api/v1/stations/cm-tls-01/readings?every=1s&from=2020-01-01T00:00:00Z`)
    expect(every.status).toBe(400)
    expect(every.body.error.details.parameter).toBe('every')
    const from = await getJson(`${tp.apiUrl}/api/v1/stations/cm-tls-01/readings?from=soon`)
    expect(from.status).toBe(400)
    expect(from.body.error.message).toContain('from')
  })

  it('serves readings aggregated with every=', async () => {
    const r = await getJson(`${tp.apiUrl}/api/v1/stations/cm-mix-01/readings?sensor=salinity&every=1h&from=${Date.now() - 3 * 86_400_000}`)
    expect(r.status).toBe(200)
    expect(r.body.series[0].sensor).toBe('salinity')
    expect(r.body.series[0].values.length).toBeGreaterThan(0)
  })

  it('publishes open data: stations as GeoJSON with latest values, readings as CSV', async () => {
    const geo = await getJson(`${tp.apiUrl}/api/v1/open/stations.geojson`)
    expect(geo.status).toBe(200)
    const tls = geo.body.features.find((f: { id: string }) => f.id === 'cm-tls-01')
    expect(tls.geometry.coordinates).toEqual([105.1, 9.1])
    expect(tls.properties.latest.salinity.value).toBe(3.2)
    const res = await fetch(`${tp.apiUrl}/api/v1/open/readings.csv?station=cm-mix-01&sensor=salinity&from=${Date.now() - 3 * 86_400_000}`)
    expect(res.headers.get('x-license')).toBe('CC-BY-4.0')
    const csv = (await res.text()).trim().split('\n')
    expect(csv[0]).toBe('station,station_name,sensor,unit,time,mean,min,max,count')
    expect(csv.slice(1).reduce((n, line) => n + Number(line.split(',')[8]), 0)).toBe(1000)
    const bad = await getJson(`${tp.apiUrl}/api/v1/open/readings.csv?every=5m`)
    expect(bad.status).toBe(400)
    expect(bad.body.error.message).toContain('every')
  })

  it('exposes Prometheus metrics with rejections by reason and per-target lag', async () => {
    const m = await getJson(`${tp.apiUrl}/metrics`)
    expect(m.body).toMatch(/tidewatch_ingest_rejected_total\{reason="VALUE_OUT_OF_RANGE"\} \d+/)
    expect(m.body).toMatch(/tidewatch_target_lag_readings\{target="primary"\} \d+/)
    expect(m.body).toMatch(/tidewatch_write_batches_total\{target="primary"\} \d+/)
    // Where a latency tail comes from: the event loop, or InfluxDB writes.
    expect(m.body).toMatch(/tidewatch_event_loop_delay_seconds\{quantile="0.99"\} [\d.e-]+/)
    expect(m.body).toMatch(/tidewatch_write_duration_seconds\{target="primary",quantile="0.99"\} [\d.e-]+/)
    const list = await getJson(`${tp.apiUrl}/api/v1/stations`)
    expect(JSON.stringify(list.body)).not.toMatch(/scrypt|password/)
  })
})
