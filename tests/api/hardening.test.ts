/**
 * OpenAPI completeness, security headers, body limits, rate limits, and no
 * secret ever in a response or a log line.
 */
import { Writable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import mqtt from 'mqtt'
import { createLogger } from '../../core/log.ts'
import { main } from '../../cli/main.ts'
import { startTestInflux, startTestPlatform, tempDir, type TestInflux, type TestPlatform } from '../helpers/platform.ts'

let tmp: ReturnType<typeof tempDir>
let influx: TestInflux
let tp: TestPlatform
const logLines: string[] = []

beforeAll(async () => {
  tmp = tempDir()
  influx = await startTestInflux(tmp.dir)
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logLines.push(chunk.toString())
      cb()
    },
  })
  // Debug level: the most a log could ever reveal.
  tp = await startTestPlatform({ dir: tmp.dir, influxUrl: influx.server.url, env: { TIDEWATCH_RATE_LIMIT: '40' }, log: createLogger('debug', sink) })
})
afterAll(async () => {
  await tp?.stop()
  await influx?.server.stop()
  tmp?.cleanup()
})

describe('OpenAPI 3.1', () => {
  it('documents every route and serves a UI at /docs', async () => {
    const doc = (await (await fetch(`${tp.apiUrl}/docs/json`)).json()) as { openapi: string; paths: Record<string, Record<string, unknown>> }
    expect(doc.openapi).toBe('3.1.0')
    const toOpenApi = (url: string) => url.replace(/:([A-Za-z]+)/g, '{$1}').replace(/\/\*$/, '/{*}')
    // The staff console's HTML forms are hidden from the document (api/console/routes.ts); tests/api/openapi.test.ts checks the rest.
    const missing = tp.platform
      .api!.routeTable.filter((r) => !r.url.startsWith('/docs') && !r.url.startsWith('/console') && r.method !== 'HEAD' && r.method !== 'OPTIONS')
      // A plugin's root route is registered as both `/open/v1` and `/open/v1/`; the document has it once.
      .filter((r) => ![toOpenApi(r.url), `${toOpenApi(r.url)}/`].some((p) => doc.paths[p]?.[r.method.toLowerCase()]))
      .map((r) => `${r.method} ${r.url}`)
    expect(missing).toEqual([])
    // zod schemas became JSON schema: the readings query names its parameters.
    const readings = doc.paths['/api/v1/stations/{id}/readings']!.get as { parameters: Array<{ name: string }> }
    expect(readings.parameters.map((p) => p.name)).toEqual(expect.arrayContaining(['sensor', 'from', 'to', 'every', 'id']))
    const ui = await fetch(`${tp.apiUrl}/docs/`)
    expect(ui.status).toBe(200)
    expect(await ui.text()).toContain('swagger')
  })
})

describe('hardening', () => {
  it('sends security headers', async () => {
    const res = await fetch(`${tp.apiUrl}/api/v1/stations`)
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'")
    expect(res.headers.get('x-frame-options')).toBeTruthy()
  })

  it('refuses bodies over the limit with 413 and a clear error', async () => {
    const res = await fetch(`${tp.apiUrl}/api/v1/stations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tp.adminToken}` },
      body: JSON.stringify({ id: 'x', name: 'x'.repeat(2 * 1024 * 1024), lat: 9, lon: 105 }),
    })
    expect(res.status).toBe(413)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('FST_ERR_CTP_BODY_TOO_LARGE')
  })

  it('never puts a secret in a response or a log line', async () => {
    const env = { TIDEWATCH_DATA_DIR: tp.dataDir, TIDEWATCH_LOG_LEVEL: 'silent' }
    let out = ''
    await main(['tokens', 'create', '--name', 'leak-check', '--role', 'staff', '--json'], { stdout: (s) => void (out += s), stderr: () => undefined }, env)
    const token = JSON.parse(out).token as string
    const created = await fetch(`${tp.apiUrl}/api/v1/stations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ id: 'cm-leak-01', name: 'Leak', lat: 9, lon: 105 }),
    })
    const password = ((await created.json()) as { credentials: { password: string } }).credentials.password
    // Use the secrets: a good login, a bad one, bad tokens, errors.
    const c = await mqtt.connectAsync(tp.mqttUrl, { username: 'cm-leak-01', password, reconnectPeriod: 0, protocolVersion: 4 })
    await c.publishAsync('stations/cm-leak-01/readings', JSON.stringify({ ts: Date.now(), values: { salinity: 1 } }), { qos: 1 })
    await c.endAsync()
    await mqtt.connectAsync(tp.mqttUrl, { username: 'cm-leak-01', password: `${password}x`, reconnectPeriod: 0, protocolVersion: 4 }).catch(() => undefined)
    await fetch(`${tp.apiUrl}/api/v1/audit`, { headers: { authorization: `Bearer ${token}x` } })
    const bodies: string[] = []
    for (const path of ['/api/v1/stations', '/api/v1/stations/cm-leak-01', '/api/v1/stations/cm-leak-01/health', '/api/v1/audit?limit=1000', '/api/v1/alerts/subscribers', '/metrics', '/health', '/docs/json']) {
      bodies.push(await (await fetch(`${tp.apiUrl}${path}`, { headers: { authorization: `Bearer ${token}` } })).text())
    }
    const hash = tp.platform.registry.credentials('cm-leak-01')!.hash
    for (const secret of [password, token, tp.adminToken, hash]) {
      for (const b of bodies) expect(b.includes(secret)).toBe(false)
      for (const line of logLines) expect(line.includes(secret)).toBe(false)
    }
    expect(logLines.length).toBeGreaterThan(0)
  })

  it('rate-limits per IP without a token and per token, with 429 and a clear error', async () => {
    let limited: Response | undefined
    for (let i = 0; i < 60 && !limited; i++) {
      const res = await fetch(`${tp.apiUrl}/api/v1/stations`)
      if (res.status === 429) limited = res
      else await res.arrayBuffer()
    }
    expect(limited?.status).toBe(429)
    expect(((await limited!.json()) as { error: { code: string } }).error.code).toBe('RATE_LIMITED')
    // A token has its own, larger budget.
    const withToken = await fetch(`${tp.apiUrl}/api/v1/stations`, { headers: { authorization: `Bearer ${tp.adminToken}` } })
    expect(withToken.status).toBe(200)
  })
})
