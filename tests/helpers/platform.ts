/**
 * Integration fixtures: a real influxd on an ephemeral loopback port, and the
 * whole platform (embedded broker + ingest + API) on ephemeral ports, each in
 * its own temp dir.
 */
import { afterAll, beforeAll } from 'vitest'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig, type Config } from '../../core/config.ts'
import { createLogger, silentLogger, type Logger } from '../../core/log.ts'
import { Writable } from 'node:stream'
import { ensureDevCertificates, type DevCertPaths } from '../../broker/tls/dev-ca.ts'
import mqtt, { type MqttClient } from 'mqtt'
import { freePort } from '../../core/free-port.ts'
import { startManagedInflux, type ManagedInflux } from '../../influx/managed.ts'
import { createQueryClient, type InfluxQueryClient } from '../../influx/query.ts'
import { READING_MEASUREMENT, queryPerSensor } from '../../influx/schema.ts'
import { SENSOR_KINDS, type SensorKind } from '../../core/sensors.ts'
import { startPlatform, type Platform, type PlatformParts } from '../../platform/platform.ts'
import { staffToken } from '../../platform/credentials.ts'

export function tempDir(prefix = 'tidewatch-test-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

export interface TestInflux {
  server: ManagedInflux
  query: InfluxQueryClient
  /** Number of points in a measurement (optionally filtered by an InfluxQL WHERE clause). */
  count(measurement: string, where?: string, field?: string): Promise<number>
  /**
   * Sensor values stored (influx/schema.ts: a field per sensor in each
   * `station_reading` point), of the given sensors or all, summed: what a
   * count of the old one-point-per-value `reading` measurement gave.
   */
  values(where?: string, sensors?: readonly SensorKind[]): Promise<number>
}

export async function startTestInflux(dir: string, database = 'tidewatch'): Promise<TestInflux> {
  const server = await startManagedInflux({ dir: join(dir, 'influxdb') })
  const query = createQueryClient({ url: server.url, database })
  await query.query(`CREATE DATABASE "${database}"`, { method: 'POST' })
  return {
    server,
    query,
    async count(measurement, where, field = 'value') {
      const [series = []] = await query.query(`SELECT count("${field}") FROM "${measurement}"${where ? ` WHERE ${where}` : ''}`)
      return (series[0]?.values[0]?.[1] as number | undefined) ?? 0
    },
    async values(where, sensors = SENSOR_KINDS) {
      const series = await queryPerSensor(query, sensors, (s) => `SELECT count("${s}") FROM "${READING_MEASUREMENT}"${where ? ` WHERE ${where}` : ''}`)
      return series.reduce((n, s) => n + Number(s.values[0]?.[1] ?? 0), 0)
    },
  }
}

export interface TestPlatform {
  platform: Platform
  config: Readonly<Config>
  certs: DevCertPaths
  mqttUrl: string
  mqttsUrl: string
  apiUrl: string
  dataDir: string
  /** The bootstrap admin bearer token. */
  adminToken: string
  stop(): Promise<void>
}

export async function startTestPlatform(opts: {
  dir: string
  influxUrl?: string
  env?: Record<string, string>
  parts?: PlatformParts
  log?: Logger
}): Promise<TestPlatform> {
  // Reused across restarts on the same dir, as `tidewatch up` does.
  const certs = ensureDevCertificates(join(opts.dir, 'tls'))
  const env: Record<string, string> = {
    TIDEWATCH_DATA_DIR: join(opts.dir, 'data'),
    TIDEWATCH_BIND_HOST: '127.0.0.1',
    TIDEWATCH_HTTP_HOST: '127.0.0.1',
    TIDEWATCH_MQTT_PORT: '0',
    TIDEWATCH_MQTTS_PORT: '0',
    TIDEWATCH_HTTP_PORT: '0',
    TIDEWATCH_TLS_CERT: certs.certFile,
    TIDEWATCH_TLS_KEY: certs.keyFile,
    TIDEWATCH_LOG_LEVEL: 'silent',
    ...(opts.influxUrl ? { TIDEWATCH_INFLUX_URL: opts.influxUrl } : {}),
    ...opts.env,
  }
  const config = loadConfig({ env })
  const platform = await startPlatform({ config, log: opts.log ?? silentLogger, parts: opts.parts ?? { broker: true, ingest: 'embedded', api: true } })
  return {
    platform,
    config,
    certs,
    mqttUrl: `mqtt://127.0.0.1:${platform.broker?.port ?? 0}`,
    mqttsUrl: `mqtts://127.0.0.1:${platform.broker?.tlsPort ?? 0}`,
    apiUrl: platform.apiUrl ?? '',
    dataDir: config.dataDir,
    adminToken: staffToken(config),
    stop: () => platform.stop(),
  }
}

/**
 * A platform whose InfluxDB is down at start (its port reserved, nothing
 * listening), one registered station connected over MQTT, and a way to bring
 * InfluxDB up later: what lands in the spool can then be inspected.
 */
export async function startWithInfluxDown(dir: string, stationId: string): Promise<{
  tp: TestPlatform
  station: MqttClient
  startInflux(): Promise<ManagedInflux>
}> {
  const port = await freePort()
  const tp = await startTestPlatform({ dir, influxUrl: `http://127.0.0.1:${port}` })
  const creds = await tp.platform.registry.add({ id: stationId, name: stationId, lat: 9, lon: 105 })
  const station = await mqtt.connectAsync(tp.mqttUrl, { username: creds.username, password: creds.password, protocolVersion: 4, reconnectPeriod: 0 })
  return { tp, station, startInflux: () => startManagedInflux({ dir: join(dir, 'influxdb'), port }) }
}

/** Polls until `check` returns a truthy value or the deadline passes; returns the last value. */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: T = await check()
  while (!last && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, everyMs))
    last = await check()
  }
  return last
}

export async function getJson(url: string, token?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {})
  const text = await res.text()
  let body: unknown = text
  try {
    body = JSON.parse(text)
  } catch {
    // Prometheus text and friends stay strings.
  }
  return { status: res.status, body }
}

/**
 * One real influxd and one platform for a whole test file: started before
 * its tests, stopped after them. Read the fields inside tests and hooks.
 */
export function platformPerFile(opts: { env?: Record<string, string>; log?: Logger } = {}): { readonly tmp: ReturnType<typeof tempDir>; readonly influx: TestInflux; readonly tp: TestPlatform } {
  const state = {} as { tmp: ReturnType<typeof tempDir>; influx: TestInflux; tp: TestPlatform }
  beforeAll(async () => {
    state.tmp = tempDir()
    state.influx = await startTestInflux(state.tmp.dir)
    state.tp = await startTestPlatform({ dir: state.tmp.dir, influxUrl: state.influx.server.url, env: opts.env, log: opts.log })
  })
  afterAll(async () => {
    await state.tp?.stop()
    await state.influx?.server.stop()
    state.tmp?.cleanup()
  })
  return state
}

/** An info-level logger whose JSON lines a test can read back (security events, lockouts). */
export function capturedLogger(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>)
      cb()
    },
  })
  return { log: createLogger('info', sink), lines }
}

/**
 * A platform serving MQTT over TLS with optional client certificates: the
 * dev CA where the CLI looks for it by default (<dir>/data/tls), a directory
 * for issued station certificates, and the captured log (security events).
 */
export async function startCertPlatform(dir: string, influx: TestInflux): Promise<{ tp: TestPlatform; caFile: string; certDir: string; logLines: Array<Record<string, unknown>> }> {
  const tls = ensureDevCertificates(join(dir, 'data', 'tls'))
  const certDir = join(dir, 'station-certs')
  mkdirSync(certDir)
  const captured = capturedLogger()
  const tp = await startTestPlatform({
    dir,
    influxUrl: influx.server.url,
    log: captured.log,
    env: { TIDEWATCH_TLS_CERT: tls.certFile, TIDEWATCH_TLS_KEY: tls.keyFile, TIDEWATCH_TLS_CA: tls.caFile, TIDEWATCH_MQTT_CLIENT_CERTS: 'optional' },
  })
  return { tp, caFile: tls.caFile, certDir, logLines: captured.lines }
}
