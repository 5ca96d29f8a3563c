/**
 * Randomized input against every route: 10,000 requests with random path
 * parameters, query strings, bodies and tokens. No 5xx, no crash, and every
 * successful write is in the audit log.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createRng } from '../../firmware-sim/prng.ts'
import { countWrite, startApiFixture, type ApiFixture } from './fixture.ts'

let f: ApiFixture
beforeAll(async () => {
  f = await startApiFixture({ TIDEWATCH_RATE_LIMIT: '10000000', TIDEWATCH_TOKEN_RATE_LIMIT: '10000000' })
  await f.call('POST', '/api/v1/stations', { token: f.tokens.staff, body: { id: 'cm-fuzz-01', name: 'Fuzz', lat: 9, lon: 105 } })
})
afterAll(async () => f?.stop())

const N = 10_000
const CONCURRENCY = 16

it(`answers ${N} randomized requests without a 5xx`, async () => {
  const rng = createRng(20261121).next
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!
  const routes = f.tp.platform.api!.routeTable.filter((r) => !r.url.startsWith('/docs') && r.method !== 'HEAD' && r.method !== 'OPTIONS')
  expect(routes.length).toBeGreaterThan(30)

  const junk = ['', ' ', 'cm-fuzz-01', 'nope', '../../etc/passwd', '%00', '%', '%zz', '💧', 'a'.repeat(300), '-1', '0', '1e309', 'NaN', 'null', '[]', '{}', "'; DROP", '" OR 1=1', 'Cà Mau', '\\', '/', '..', 'salinity', 'ph', 'default', '1', '99999999999999999999']
  const values = [...junk, '2026-11-21T00:00:00Z', '2026-11-21T00:00:00+07:00', String(Date.now()), '1h', '15m', '1d', '0s', '5m', 'true', 'false', '-5', '1000000', 'vi', 'en']
  const keys = ['sensor', 'from', 'to', 'every', 'limit', 'station', 'reason', 'before', 'lang', 'open', 'status', 'incident', 'target', 'actor', 'since', 'x', 'q']
  const bodies: Array<() => string | undefined> = [
    () => undefined,
    () => '{"id": ',
    () => 'not json at all',
    () => JSON.stringify(null),
    () => JSON.stringify([1, 2, 3]),
    () => JSON.stringify({}),
    () => JSON.stringify({ id: pick(junk), name: pick(junk), lat: rng() * 400 - 200, lon: rng() * 400 - 200 }),
    () => JSON.stringify({ name: pick(junk), enabled: pick([true, false, 'yes', null]), intervalSec: pick([-1, 0, 1.5, 1e12, 'x']) }),
    () => JSON.stringify({ offset: pick([0, -1e308, 'x', null]), scale: pick([0, 1, 'x', Infinity]) }),
    () => JSON.stringify({ phone: pick(['+84912345678', '0912345678', 'abc', '']), stations: [pick(junk)], lang: pick(['vi', 'en', 'fr']), kind: pick(['farmer', 'staff', 'x']) }),
    () => JSON.stringify({ levels: [{ name: pick(junk), severity: pick(['warning', 'danger', 'x']), direction: pick(['above', 'below']), threshold: pick([1, 'x', null]) }] }),
    () => JSON.stringify({ from: pick(junk), text: pick(junk) }),
    () => JSON.stringify({ note: 'x'.repeat(Math.floor(rng() * 3000)) }),
    () => JSON.stringify({ deep: JSON.parse('['.repeat(200) + ']'.repeat(200)) }),
  ]
  const tokens = [undefined, undefined, f.tokens.read, f.tokens.staff, f.tokens.admin, 'tw_forged']

  const statuses = new Map<number, number>()
  const fivexx: string[] = []
  let successfulWrites = 0
  const auditBefore = f.tp.platform.registry.db.prepare('SELECT COUNT(*) AS n FROM audit_log').get() as { n: number }

  async function one(): Promise<void> {
    const route = pick(routes)
    const path = route.url.replace(/:[A-Za-z]+/g, () => encodeURIComponent(pick(junk)) || 'x')
    const qs = Array.from({ length: Math.floor(rng() * 4) }, () => `${pick(keys)}=${encodeURIComponent(pick(values))}`).join('&')
    const method = rng() < 0.9 ? route.method : pick(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'])
    const body = method === 'GET' || method === 'DELETE' ? undefined : pick(bodies)()
    const token = pick(tokens)
    const headers: Record<string, string> = {}
    if (token) headers.authorization = `Bearer ${token}`
    if (body !== undefined) headers['content-type'] = rng() < 0.9 ? 'application/json' : 'text/plain'
    const url = `${f.tp.apiUrl}${path}${qs ? `?${qs}` : ''}`
    const res = await fetch(url, { method, headers, body })
    await res.arrayBuffer()
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
    if (res.status >= 500) fivexx.push(`${method} ${path}?${qs} -> ${res.status}`)
    if (res.status < 400 && method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS') {
      successfulWrites++
      countWrite()
    }
  }

  let issued = 0
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (issued < N) {
        issued++
        await one()
      }
    }),
  )
  expect(fivexx.slice(0, 20)).toEqual([])
  expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBe(N)
  // Still up and serving.
  expect((await f.call('GET', '/health')).status).toBe(200)
  // Every successful write made here is in the audit log.
  const auditAfter = f.tp.platform.registry.db.prepare('SELECT COUNT(*) AS n FROM audit_log').get() as { n: number }
  expect(auditAfter.n - auditBefore.n).toBe(successfulWrites)
})
