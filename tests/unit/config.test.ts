import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { main } from '../../cli/main.ts'
import { loadConfig } from '../../core/config.ts'

async function run(args: string[], env: Record<string, string>) {
  let err = ''
  const code = await main(args, { stdout: () => undefined, stderr: (s) => void (err += s) }, env)
  return { code, err }
}

describe('config', () => {
  it('has the documented defaults and is frozen', () => {
    const c = loadConfig({ env: {} })
    expect(c.mqtt.port).toBe(1883)
    expect(c.mqtt.tlsPort).toBe(8883)
    expect(c.http.port).toBe(8080)
    expect(c.mqtt.maxPayloadBytes).toBe(256 * 1024)
    expect(Object.isFrozen(c.mqtt)).toBe(true)
  })

  it('honours the TIDEWATCH_* environment names', () => {
    const c = loadConfig({
      env: {
        TIDEWATCH_DATA_DIR: '/tmp/x',
        TIDEWATCH_MQTT_PORT: '11883',
        TIDEWATCH_MQTTS_PORT: '18883',
        TIDEWATCH_HTTP_PORT: '18080',
        TIDEWATCH_INFLUX_URL: 'http://db:8086',
        TIDEWATCH_INFLUX_DB: 'camau',
        TIDEWATCH_INFLUX_DR_URL: 'http://dr:8086',
      },
    })
    expect(c.dataDir).toBe('/tmp/x')
    expect([c.mqtt.port, c.mqtt.tlsPort, c.http.port]).toEqual([11883, 18883, 18080])
    expect(c.influx.targets.map((t) => [t.name, t.url, t.database])).toEqual([
      ['primary', 'http://db:8086', 'camau'],
      ['dr', 'http://dr:8086', 'tidewatch'],
    ])
  })

  it('exits with code 2 naming the key and the reason for a bad env value', async () => {
    const r = await run(['devices', 'list'], { TIDEWATCH_MQTT_PORT: 'eighty' })
    expect(r.code).toBe(2)
    expect(r.err).toContain('mqtt.port')
    expect(r.err).toMatch(/expected number/i)
  })

  it('exits with code 2 for a bad config file value and for an unreadable file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'twcfg-'))
    const file = join(dir, 'c.json')
    writeFileSync(file, JSON.stringify({ influx: { targets: [{ name: 'primary', url: 'not a url' }] } }))
    const r = await run(['devices', 'list', '--config', file], {})
    expect(r.code).toBe(2)
    expect(r.err).toContain('influx.targets.0.url')
    const missing = await run(['devices', 'list', '--config', join(dir, 'missing.json')], {})
    expect(missing.code).toBe(2)
    expect(missing.err).toMatch(/cannot be read/)
  })

  it('the broker URL and the SMS gateway URL must be URLs of their kind, named at load', () => {
    expect(() => loadConfig({ env: { TIDEWATCH_MQTT_URL: 'notaurl' } })).toThrow(/mqtt\.url.*MQTT URL/s)
    expect(() => loadConfig({ env: { TIDEWATCH_MQTT_URL: 'http://127.0.0.1:1883' } })).toThrow(/mqtt\.url/)
    expect(loadConfig({ env: { TIDEWATCH_MQTT_URL: 'mqtts://broker.example.vn:8883' } }).mqtt.url).toBe('mqtts://broker.example.vn:8883')
    expect(() => loadConfig({ overrides: { 'alerts.http.url': 'sms.example.vn/send' } })).toThrow(/alerts\.http\.url.*http/s)
    expect(loadConfig({ env: {} }).alerts.http.url).toBe('http://127.0.0.1:9090/sms')
  })

  it('v2 targets need org, bucket and token', () => {
    expect(() => loadConfig({ env: { TIDEWATCH_INFLUX_URL: 'http://x:8086', TIDEWATCH_INFLUX_MODE: 'v2' } })).toThrow(/org, bucket and token/)
  })
})
