/**
 * Every route, by name: one success case and each error class that applies to
 * it (400 bad input, 401 no/unknown token, 403 too small a role, 404 unknown
 * resource). The matrix must list exactly the routes the server registers,
 * so a new route cannot ship untested.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import mqtt from 'mqtt'
import { startApiFixture, type ApiFixture } from './fixture.ts'

let f: ApiFixture
let incident = ''
let subscriberId = 0

beforeAll(async () => {
  f = await startApiFixture()
  const made = await f.call('POST', '/api/v1/stations', { token: f.tokens.staff, body: { id: 'cm-mx-01', name: 'Matrix', lat: 9.1, lon: 105.1 } })
  const c = await mqtt.connectAsync(f.tp.mqttUrl, { username: 'cm-mx-01', password: made.body.credentials.password, reconnectPeriod: 0, protocolVersion: 4 })
  const now = Date.now()
  for (const [i, s] of [4.5, 4.7].entries()) {
    await c.publishAsync('stations/cm-mx-01/readings', JSON.stringify({ ts: now - 120_000 + i * 60_000, values: { salinity: s, water_level: 80, ph: 7.6, no2: 0.1 }, battery: 12.5, rssi: -80 }), { qos: 1 })
  }
  await c.endAsync()
  await f.tp.platform.ingest!.drained()
  f.tp.platform.alerter!.flush()
  incident = (f.tp.platform.alerter!.incidents({ open: true, limit: 10 }) as Array<{ id: string }>)[0]!.id
  subscriberId = (await f.call('POST', '/api/v1/alerts/subscribers', { token: f.tokens.staff, body: { phone: '+84913000111', stations: ['cm-mx-01'] } })).body.id
})
afterAll(async () => f?.stop())

type Req = { method: string; path: string | (() => string); token?: 'read' | 'staff' | 'admin' | 'bad'; body?: unknown; headers?: Record<string, string> }
type Case = { ok: Req & { status?: number }; errors: Array<Req & { status: number }> }

const inc = () => encodeURIComponent(incident)
const MATRIX: Record<string, Case> = {
  'GET /health': { ok: { method: 'GET', path: '/health' }, errors: [{ method: 'GET', path: '/health', token: 'bad', status: 401 }] },
  'GET /metrics': { ok: { method: 'GET', path: '/metrics' }, errors: [{ method: 'GET', path: '/metrics', token: 'bad', status: 401 }] },
  'GET /api/v1/stations': { ok: { method: 'GET', path: '/api/v1/stations' }, errors: [{ method: 'GET', path: '/api/v1/stations', token: 'bad', status: 401 }] },
  'GET /api/v1/stations/:id': { ok: { method: 'GET', path: '/api/v1/stations/cm-mx-01' }, errors: [{ method: 'GET', path: '/api/v1/stations/nope', status: 404 }, { method: 'GET', path: '/api/v1/stations/bad%20id', status: 400 }] },
  'GET /api/v1/stations/:id/health': { ok: { method: 'GET', path: '/api/v1/stations/cm-mx-01/health' }, errors: [{ method: 'GET', path: '/api/v1/stations/nope/health', status: 404 }, { method: 'GET', path: '/api/v1/stations/bad%20id/health', status: 400 }] },
  'GET /api/v1/stations/:id/latest': { ok: { method: 'GET', path: '/api/v1/stations/cm-mx-01/latest' }, errors: [{ method: 'GET', path: '/api/v1/stations/nope/latest', status: 404 }, { method: 'GET', path: '/api/v1/stations/bad%20id/latest', status: 400 }] },
  'GET /api/v1/stations/:id/readings': { ok: { method: 'GET', path: '/api/v1/stations/cm-mx-01/readings?sensor=salinity&every=1h' }, errors: [{ method: 'GET', path: '/api/v1/stations/cm-mx-01/readings?every=7x', status: 400 }, { method: 'GET', path: '/api/v1/stations/nope/readings', status: 404 }] },
  'GET /api/v1/stations/:id/readings.csv': { ok: { method: 'GET', path: '/api/v1/stations/cm-mx-01/readings.csv' }, errors: [{ method: 'GET', path: '/api/v1/stations/cm-mx-01/readings.csv?from=later', status: 400 }, { method: 'GET', path: '/api/v1/stations/nope/readings.csv', status: 404 }] },
  'GET /api/v1/quarantine': { ok: { method: 'GET', path: '/api/v1/quarantine', token: 'read' }, errors: [{ method: 'GET', path: '/api/v1/quarantine', status: 401 }, { method: 'GET', path: '/api/v1/quarantine?reason=NOPE', token: 'read', status: 400 }] },
  'POST /api/v1/stations': { ok: { method: 'POST', path: '/api/v1/stations', token: 'staff', body: { id: 'cm-mx-02', name: 'B', lat: 9, lon: 105 }, status: 201 }, errors: [{ method: 'POST', path: '/api/v1/stations', body: {}, status: 401 }, { method: 'POST', path: '/api/v1/stations', token: 'read', body: {}, status: 403 }, { method: 'POST', path: '/api/v1/stations', token: 'staff', body: { id: 'x' }, status: 400 }] },
  'PATCH /api/v1/stations/:id': { ok: { method: 'PATCH', path: '/api/v1/stations/cm-mx-02', token: 'staff', body: { name: 'B2' } }, errors: [{ method: 'PATCH', path: '/api/v1/stations/cm-mx-02', body: { name: 'x' }, status: 401 }, { method: 'PATCH', path: '/api/v1/stations/cm-mx-02', token: 'read', body: { name: 'x' }, status: 403 }, { method: 'PATCH', path: '/api/v1/stations/cm-mx-02', token: 'staff', body: { lat: 'north' }, status: 400 }, { method: 'PATCH', path: '/api/v1/stations/nope', token: 'staff', body: { name: 'x' }, status: 404 }] },
  'POST /api/v1/stations/:id/rotate': { ok: { method: 'POST', path: '/api/v1/stations/cm-mx-02/rotate', token: 'staff' }, errors: [{ method: 'POST', path: '/api/v1/stations/cm-mx-02/rotate', status: 401 }, { method: 'POST', path: '/api/v1/stations/cm-mx-02/rotate', token: 'read', status: 403 }, { method: 'POST', path: '/api/v1/stations/bad%20id/rotate', token: 'staff', status: 400 }, { method: 'POST', path: '/api/v1/stations/nope/rotate', token: 'staff', status: 404 }] },
  'PUT /api/v1/stations/:id/sensors/:kind': { ok: { method: 'PUT', path: '/api/v1/stations/cm-mx-02/sensors/ph', token: 'staff', body: { offset: 0.05, scale: 1 } }, errors: [{ method: 'PUT', path: '/api/v1/stations/cm-mx-02/sensors/ph', body: {}, status: 401 }, { method: 'PUT', path: '/api/v1/stations/cm-mx-02/sensors/ph', token: 'read', body: {}, status: 403 }, { method: 'PUT', path: '/api/v1/stations/cm-mx-02/sensors/oxygen', token: 'staff', body: {}, status: 400 }, { method: 'PUT', path: '/api/v1/stations/nope/sensors/ph', token: 'staff', body: {}, status: 404 }] },
  'DELETE /api/v1/stations/:id': { ok: { method: 'DELETE', path: '/api/v1/stations/cm-mx-02', token: 'admin', status: 204 }, errors: [{ method: 'DELETE', path: '/api/v1/stations/cm-mx-01', status: 401 }, { method: 'DELETE', path: '/api/v1/stations/cm-mx-01', token: 'staff', status: 403 }, { method: 'DELETE', path: '/api/v1/stations/bad%20id', token: 'admin', status: 400 }, { method: 'DELETE', path: '/api/v1/stations/nope', token: 'admin', status: 404 }] },
  'GET /api/v1/alerts/active': { ok: { method: 'GET', path: '/api/v1/alerts/active' }, errors: [{ method: 'GET', path: '/api/v1/alerts/active', token: 'bad', status: 401 }] },
  'POST /api/v1/alerts/incidents/:id/ack': { ok: { method: 'POST', path: () => `/api/v1/alerts/incidents/${inc()}/ack`, token: 'staff', body: { note: 'seen' } }, errors: [{ method: 'POST', path: () => `/api/v1/alerts/incidents/${inc()}/ack`, body: {}, status: 401 }, { method: 'POST', path: () => `/api/v1/alerts/incidents/${inc()}/ack`, token: 'read', body: {}, status: 403 }, { method: 'POST', path: () => `/api/v1/alerts/incidents/${inc()}/ack`, token: 'staff', body: { note: 5 }, status: 400 }, { method: 'POST', path: '/api/v1/alerts/incidents/nope/ack', token: 'staff', body: {}, status: 404 }] },
  'GET /api/v1/audit': { ok: { method: 'GET', path: '/api/v1/audit', token: 'read' }, errors: [{ method: 'GET', path: '/api/v1/audit', status: 401 }, { method: 'GET', path: '/api/v1/audit?limit=0', token: 'read', status: 400 }] },
  'GET /api/v1/open/stations.geojson': { ok: { method: 'GET', path: '/api/v1/open/stations.geojson' }, errors: [{ method: 'GET', path: '/api/v1/open/stations.geojson', token: 'bad', status: 401 }] },
  'GET /api/v1/open/readings.csv': { ok: { method: 'GET', path: '/api/v1/open/readings.csv?station=cm-mx-01' }, errors: [{ method: 'GET', path: '/api/v1/open/readings.csv?every=2h', status: 400 }, { method: 'GET', path: '/api/v1/open/readings.csv?station=nope', status: 404 }] },
  'OPTIONS /open/v1*': {
    ok: { method: 'OPTIONS', path: '/open/v1/stations', headers: { origin: 'https://lgsp.camau.gov.vn', 'access-control-request-method': 'GET' }, status: 204 },
    errors: [{ method: 'OPTIONS', path: '/open/v1/stations', status: 400 }],
  },
  'GET /open/v1': { ok: { method: 'GET', path: '/open/v1' }, errors: [{ method: 'GET', path: '/open/v1', token: 'bad', status: 401 }] },
  'GET /open/v1/stations': { ok: { method: 'GET', path: '/open/v1/stations' }, errors: [{ method: 'GET', path: '/open/v1/stations', token: 'bad', status: 401 }] },
  'GET /open/v1/stations/:id/readings.json': { ok: { method: 'GET', path: '/open/v1/stations/cm-mx-01/readings.json' }, errors: [{ method: 'GET', path: '/open/v1/stations/cm-mx-01/readings.json?every=soon', status: 400 }, { method: 'GET', path: '/open/v1/stations/nope/readings.json', status: 404 }] },
  'GET /open/v1/stations/:id/readings.csv': { ok: { method: 'GET', path: '/open/v1/stations/cm-mx-01/readings.csv' }, errors: [{ method: 'GET', path: '/open/v1/stations/cm-mx-01/readings.csv?from=x', status: 400 }, { method: 'GET', path: '/open/v1/stations/nope/readings.csv', status: 404 }] },
  'GET /open/v1/stations/:id/daily.json': { ok: { method: 'GET', path: '/open/v1/stations/cm-mx-01/daily.json' }, errors: [{ method: 'GET', path: '/open/v1/stations/cm-mx-01/daily.json?from=x', status: 400 }, { method: 'GET', path: '/open/v1/stations/nope/daily.json', status: 404 }] },
  'GET /open/v1/stations/:id/daily.csv': { ok: { method: 'GET', path: '/open/v1/stations/cm-mx-01/daily.csv' }, errors: [{ method: 'GET', path: '/open/v1/stations/cm-mx-01/daily.csv?to=x', status: 400 }, { method: 'GET', path: '/open/v1/stations/nope/daily.csv', status: 404 }] },
  'OPTIONS /sta/v1.1*': {
    ok: { method: 'OPTIONS', path: '/sta/v1.1/Things', headers: { origin: 'https://lgsp.camau.gov.vn', 'access-control-request-method': 'GET' }, status: 204 },
    errors: [{ method: 'OPTIONS', path: '/sta/v1.1/Things', status: 400 }],
  },
  'GET /sta/v1.1': { ok: { method: 'GET', path: '/sta/v1.1' }, errors: [{ method: 'GET', path: '/sta/v1.1?$top=x', status: 400 }] },
  'GET /sta/v1.1/*': { ok: { method: 'GET', path: "/sta/v1.1/Things('cm-mx-01')/Datastreams?$expand=Observations($top=1)" }, errors: [{ method: 'GET', path: '/sta/v1.1/Things?$filter=name%20eq', status: 400 }, { method: 'GET', path: "/sta/v1.1/Things('nope')", status: 404 }] },
  'GET /': { ok: { method: 'GET', path: '/' }, errors: [{ method: 'GET', path: '/', token: 'bad', status: 401 }] },
  'GET /stations/:id': { ok: { method: 'GET', path: '/stations/cm-mx-01' }, errors: [{ method: 'GET', path: '/stations/nope', status: 404 }] },
  'GET /board.json': { ok: { method: 'GET', path: '/board.json' }, errors: [{ method: 'GET', path: '/board.json', token: 'bad', status: 401 }] },
  'GET /open-data': { ok: { method: 'GET', path: '/open-data' }, errors: [{ method: 'GET', path: '/open-data', token: 'bad', status: 401 }] },
  'GET /static/:file': { ok: { method: 'GET', path: '/static/board.js' }, errors: [{ method: 'GET', path: '/static/nope.js', status: 404 }] },
  'GET /open/v1/stations.geojson': { ok: { method: 'GET', path: '/open/v1/stations.geojson' }, errors: [{ method: 'GET', path: '/open/v1/stations.geojson', token: 'bad', status: 401 }] },
  'GET /api/v1/alerts/rules': { ok: { method: 'GET', path: '/api/v1/alerts/rules' }, errors: [{ method: 'GET', path: '/api/v1/alerts/rules', token: 'bad', status: 401 }] },
  'GET /api/v1/alerts/rules/:station': { ok: { method: 'GET', path: '/api/v1/alerts/rules/cm-mx-01' }, errors: [{ method: 'GET', path: '/api/v1/alerts/rules/nope', status: 404 }] },
  'PUT /api/v1/alerts/rules/:scope/:sensor': { ok: { method: 'PUT', path: '/api/v1/alerts/rules/cm-mx-01/no2', token: 'staff', body: { levels: [{ name: 'warning', severity: 'warning', direction: 'above', threshold: 1.5 }] } }, errors: [{ method: 'PUT', path: '/api/v1/alerts/rules/cm-mx-01/no2', body: {}, status: 401 }, { method: 'PUT', path: '/api/v1/alerts/rules/cm-mx-01/no2', token: 'read', body: {}, status: 403 }, { method: 'PUT', path: '/api/v1/alerts/rules/cm-mx-01/no2', token: 'staff', body: { levels: 'x' }, status: 400 }, { method: 'PUT', path: '/api/v1/alerts/rules/nope/no2', token: 'staff', body: { levels: [] }, status: 404 }] },
  'DELETE /api/v1/alerts/rules/:scope/:sensor': { ok: { method: 'DELETE', path: '/api/v1/alerts/rules/cm-mx-01/no2', token: 'staff' }, errors: [{ method: 'DELETE', path: '/api/v1/alerts/rules/cm-mx-01/ph', status: 401 }, { method: 'DELETE', path: '/api/v1/alerts/rules/cm-mx-01/ph', token: 'read', status: 403 }, { method: 'DELETE', path: '/api/v1/alerts/rules/cm-mx-01/oxygen', token: 'staff', status: 400 }, { method: 'DELETE', path: '/api/v1/alerts/rules/cm-mx-01/ph', token: 'staff', status: 404 }] },
  'GET /api/v1/alerts/incidents': { ok: { method: 'GET', path: '/api/v1/alerts/incidents?open=true' }, errors: [{ method: 'GET', path: '/api/v1/alerts/incidents?open=maybe', status: 400 }] },
  'GET /api/v1/alerts/incidents/:id': { ok: { method: 'GET', path: () => `/api/v1/alerts/incidents/${inc()}` }, errors: [{ method: 'GET', path: '/api/v1/alerts/incidents/nope', status: 404 }] },
  'GET /api/v1/alerts/events': { ok: { method: 'GET', path: '/api/v1/alerts/events?station=cm-mx-01' }, errors: [{ method: 'GET', path: '/api/v1/alerts/events?limit=-1', status: 400 }] },
  'GET /api/v1/alerts/states': { ok: { method: 'GET', path: '/api/v1/alerts/states' }, errors: [{ method: 'GET', path: '/api/v1/alerts/states', token: 'bad', status: 401 }] },
  'GET /api/v1/alerts/subscribers': { ok: { method: 'GET', path: '/api/v1/alerts/subscribers', token: 'read' }, errors: [{ method: 'GET', path: '/api/v1/alerts/subscribers', status: 401 }] },
  'POST /api/v1/alerts/subscribers': { ok: { method: 'POST', path: '/api/v1/alerts/subscribers', token: 'staff', body: { phone: '+84913000222', stations: ['cm-mx-01'] } }, errors: [{ method: 'POST', path: '/api/v1/alerts/subscribers', body: {}, status: 401 }, { method: 'POST', path: '/api/v1/alerts/subscribers', token: 'read', body: {}, status: 403 }, { method: 'POST', path: '/api/v1/alerts/subscribers', token: 'staff', body: { phone: 'abc' }, status: 400 }] },
  'GET /api/v1/alerts/subscribers/:id': { ok: { method: 'GET', path: () => `/api/v1/alerts/subscribers/${subscriberId}`, token: 'read' }, errors: [{ method: 'GET', path: () => `/api/v1/alerts/subscribers/${subscriberId}`, status: 401 }, { method: 'GET', path: '/api/v1/alerts/subscribers/999999', token: 'read', status: 404 }] },
  'PATCH /api/v1/alerts/subscribers/:id': { ok: { method: 'PATCH', path: () => `/api/v1/alerts/subscribers/${subscriberId}`, token: 'staff', body: { name: 'Bác Năm' } }, errors: [{ method: 'PATCH', path: () => `/api/v1/alerts/subscribers/${subscriberId}`, body: {}, status: 401 }, { method: 'PATCH', path: () => `/api/v1/alerts/subscribers/${subscriberId}`, token: 'read', body: {}, status: 403 }, { method: 'PATCH', path: () => `/api/v1/alerts/subscribers/${subscriberId}`, token: 'staff', body: { lang: 'fr' }, status: 400 }, { method: 'PATCH', path: '/api/v1/alerts/subscribers/999999', token: 'staff', body: { name: 'x' }, status: 404 }] },
  'DELETE /api/v1/alerts/subscribers/:id': { ok: { method: 'DELETE', path: () => `/api/v1/alerts/subscribers/${subscriberId}`, token: 'staff' }, errors: [{ method: 'DELETE', path: '/api/v1/alerts/subscribers/1', status: 401 }, { method: 'DELETE', path: '/api/v1/alerts/subscribers/1', token: 'read', status: 403 }, { method: 'DELETE', path: '/api/v1/alerts/subscribers/999999', token: 'staff', status: 404 }] },
  'GET /api/v1/alerts/messages': { ok: { method: 'GET', path: '/api/v1/alerts/messages', token: 'read' }, errors: [{ method: 'GET', path: '/api/v1/alerts/messages', status: 401 }, { method: 'GET', path: '/api/v1/alerts/messages?limit=abc', token: 'read', status: 400 }] },
  // Without a configured gateway secret the webhook does not exist (tests/alerts/http-gateway.test.ts covers 200 and 401 with one).
  'POST /api/v1/alerts/inbound/http': { ok: { method: 'POST', path: '/api/v1/alerts/inbound/http', body: { from: '+84913000333', text: 'TT' }, status: 404 }, errors: [{ method: 'POST', path: '/api/v1/alerts/inbound/http', body: { from: 1 }, status: 404 }] },
  'GET /api/v1/alerts/metrics': { ok: { method: 'GET', path: '/api/v1/alerts/metrics' }, errors: [{ method: 'GET', path: '/api/v1/alerts/metrics', token: 'bad', status: 401 }] },
}

async function send(r: Req) {
  const token = r.token === 'bad' ? 'tw_not_a_token' : r.token ? f.tokens[r.token] : undefined
  return f.call(r.method, typeof r.path === 'function' ? r.path() : r.path, { token, body: r.body, headers: r.headers })
}

it('lists exactly the registered routes', () => {
  // The staff console's HTML pages (/console) are covered by tests/console/ in a browser.
  const registered = f.tp.platform.api!.routeTable.filter((r) => !r.url.startsWith('/docs') && !r.url.startsWith('/console') && r.method !== 'HEAD').map((r) => `${r.method} ${r.url}`)
  expect(Object.keys(MATRIX).sort()).toEqual([...new Set(registered)].sort())
})

it.each(Object.keys(MATRIX))('%s: success and every error class', async (route) => {
  const c = MATRIX[route]!
  // Errors first: the success case of a DELETE removes the resource.
  for (const e of c.errors) {
    const r = await send(e)
    expect(r.status, `${e.method} ${typeof e.path === 'function' ? e.path() : e.path} ${e.token ?? ''}: ${r.text.slice(0, 200)}`).toBe(e.status)
    if (r.status !== 204 && e.method !== 'OPTIONS' && typeof r.body === 'object') expect(r.body.error.code).toMatch(/^[A-Z_]+$/)
  }
  const ok = await send(c.ok)
  expect(ok.status, ok.text.slice(0, 200)).toBe(c.ok.status ?? 200)
})
