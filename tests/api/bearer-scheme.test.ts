/**
 * Issue 12, part "the HTTP API accepts the bearer scheme case-insensitively":
 * RFC 7235 §2.1 makes the auth-scheme case-insensitive, so `bearer`, `BEARER`
 * and `Bearer` are one scheme (RFC 6750 §2.1 defines `Bearer 1*SP token`).
 * Against the real API (fastify on a loopback port, real influxd behind it).
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { startApiFixture, type ApiFixture } from './fixture.ts'

let f: ApiFixture
beforeAll(async () => {
  f = await startApiFixture()
})
afterAll(async () => f?.stop())

const get = (authorization?: string) => f.call('GET', '/api/v1/audit', authorization === undefined ? {} : { headers: { authorization } })

it.each(['Bearer', 'bearer', 'BEARER', 'bEaReR'])('scheme "%s" is accepted for a valid token', async (scheme) => {
  expect((await get(`${scheme} ${f.tokens.read}`)).status).toBe(200)
})

it('more than one space after the scheme is accepted (1*SP)', async () => {
  expect((await get(`bearer   ${f.tokens.read}`)).status).toBe(200)
})

it('a lower-case scheme still needs the right role for a write, and an unknown token is still refused', async () => {
  const body = { id: 'cm-bearer-01', name: 'B', lat: 9, lon: 105 }
  expect((await f.call('POST', '/api/v1/stations', { body, headers: { authorization: `bearer ${f.tokens.read}` } })).status).toBe(403)
  expect((await f.call('POST', '/api/v1/stations', { body, headers: { authorization: `bearer ${f.tokens.staff}` } })).status).toBe(201)
  const unknown = await get('bearer tw_nope')
  expect(unknown.status).toBe(401)
  expect(unknown.body.error.code).toBe('UNAUTHORIZED')
})

it('other schemes, a scheme glued to its token, and a scheme without a token are refused with 401', async () => {
  for (const h of [`Basic ${f.tokens.read}`, `bearer${f.tokens.read}`, `Bearerx ${f.tokens.read}`, 'bearer', 'bearer   ', `Token ${f.tokens.read}`]) {
    const r = await get(h)
    expect({ h, status: r.status }).toEqual({ h, status: 401 })
  }
  expect((await get()).status).toBe(401)
})
