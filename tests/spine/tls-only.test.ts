/**
 * Issue 12, "TLS-only mode", against the real broker: with
 * `mqtt.plaintext: false` nothing listens on the plaintext port and MQTT
 * over TLS works; asking for TLS-only without a certificate is a config
 * error (CONFIG_INVALID, exit code 2).
 */
import { readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import mqtt from 'mqtt'
import { main } from '../../cli/main.ts'
import { loadConfig } from '../../core/config.ts'
import { isTidewatchError } from '../../core/errors.ts'
import { freePort } from '../../core/free-port.ts'
import { eventually, startTestInflux, startTestPlatform, tempDir, type TestInflux, type TestPlatform } from '../helpers/platform.ts'

let tmp: ReturnType<typeof tempDir>
let influx: TestInflux
let tp: TestPlatform
let plaintextPort: number

beforeAll(async () => {
  tmp = tempDir()
  influx = await startTestInflux(tmp.dir)
  // A port known to be free: if the broker listened in plaintext, it would be here.
  plaintextPort = await freePort()
  tp = await startTestPlatform({ dir: tmp.dir, influxUrl: influx.server.url, env: { TIDEWATCH_MQTT_PLAINTEXT: 'false', TIDEWATCH_MQTT_PORT: String(plaintextPort) } })
})

afterAll(async () => {
  await tp?.stop()
  await influx?.server.stop()
  tmp?.cleanup()
})

it('TLS-only: nothing listens on the plaintext port, and a station publishes over TLS', async () => {
  expect(tp.config.mqtt.plaintext).toBe(false)
  expect(tp.platform.broker!.port).toBeUndefined()
  const refused = await new Promise<string>((resolve) => {
    const s = connect({ host: '127.0.0.1', port: plaintextPort })
    s.once('connect', () => {
      s.destroy()
      resolve('connected')
    })
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message))
  })
  expect(refused).toBe('ECONNREFUSED')

  const creds = await tp.platform.registry.add({ id: 'cm-tls-01', name: 'cm-tls-01', lat: 9, lon: 105 })
  const station = await mqtt.connectAsync(tp.mqttsUrl, {
    username: creds.username,
    password: creds.password,
    clientId: 'station-cm-tls-01',
    ca: readFileSync(tp.certs.caFile),
    protocolVersion: 4,
    reconnectPeriod: 0,
  })
  await station.publishAsync('stations/cm-tls-01/readings', JSON.stringify({ ts: Date.now() - 1000, values: { salinity: 3.3 } }), { qos: 1 })
  await station.endAsync()
  expect(await eventually(async () => (await influx.values(`"station" = 'cm-tls-01'`)) === 1)).toBe(true)
})

it('TLS-only without a certificate is CONFIG_INVALID, and the CLI exits 2', async () => {
  let err: unknown
  try {
    loadConfig({ env: { TIDEWATCH_MQTT_PLAINTEXT: 'false', TIDEWATCH_DATA_DIR: join(tmp.dir, 'no-cert') } })
  } catch (e) {
    err = e
  }
  expect(isTidewatchError(err) && err.code).toBe('CONFIG_INVALID')
  expect((err as Error).message).toMatch(/mqtt\.plaintext/)

  const stderr: string[] = []
  const io = { stdout: () => undefined, stderr: (s: string) => void stderr.push(s) }
  const code = await main(['up'], io as never, { TIDEWATCH_MQTT_PLAINTEXT: 'false', TIDEWATCH_DATA_DIR: join(tmp.dir, 'no-cert') })
  expect(code).toBe(2)
  expect(stderr.join('\n')).toMatch(/mqtt\.plaintext: TLS-only mode/)
  // A value that is not a boolean is named too.
  expect(() => loadConfig({ env: { TIDEWATCH_MQTT_PLAINTEXT: 'nope' } })).toThrow(/mqtt\.plaintext/)
})
