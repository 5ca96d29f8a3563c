import { afterAll, describe, expect, it } from 'vitest'
import Fastify from 'fastify'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { AlertsConfigSchema } from '../../core/alerts-config.ts'
import { renderPrometheus } from '../../core/metrics.ts'
import { alertRoutes } from '../../api/routes/alerts.ts'
import { openAlerter, outboxCounts, reading, tempDir } from './helpers.ts'
import { waitFor } from './smsc.ts'

/** HTTP gateway against a local fastify receiver; API through app.inject(). */
describe('HTTP gateway and alert API', () => {
  const tmp = tempDir()
  afterAll(() => tmp.cleanup())

  it('retries a 503 with the same Idempotency-Key, renders the body template, and answers inbound keywords', async () => {
    const received: Array<{ key: string; auth: string; body: Record<string, unknown> }> = []
    let fail = 1
    const gw = Fastify()
    gw.post('/sms', async (req, reply) => {
      received.push({ key: String(req.headers['idempotency-key']), auth: String(req.headers.authorization), body: req.body as Record<string, unknown> })
      if (fail-- > 0) return reply.code(503).send('busy')
      return { messageId: `gw-${received.length}` }
    })
    await gw.listen({ port: 0, host: '127.0.0.1' })
    const url = `http://127.0.0.1:${(gw.server.address() as AddressInfo).port}/sms`
    const config = AlertsConfigSchema.parse({ smsChannel: 'http', http: { url, authHeader: 'Bearer t0k', ratePerSec: 50, inboundSecret: 'gw-shared-secret' }, outbox: { retryBaseMs: 20, retryMaxMs: 100 } })
    const { registry, alerter } = await openAlerter(join(tmp.dir, 'http.db'), config)
    await registry.add({ id: 'CM07', name: 'Trạm Năm Căn', lat: 8.7, lon: 105, sensors: ['salinity'] })
    await alerter.start()
    const api = Fastify()
    await api.register(alertRoutes(alerter), { prefix: '/api/v1' })

    const created = await api.inject({ method: 'POST', url: '/api/v1/alerts/subscribers', payload: { phone: '0912345678', stations: ['CM07'], diacritics: true } })
    expect(created.statusCode).toBe(200)
    expect(created.json().phone).toBe('+84912345678')
    const bad = await api.inject({ method: 'POST', url: '/api/v1/alerts/subscribers', payload: { phone: '12' } })
    expect(bad.statusCode).toBe(400)
    expect(bad.json().error.code).toBe('BAD_REQUEST')
    const missing = await api.inject({ method: 'GET', url: '/api/v1/alerts/subscribers/999' })
    expect(missing.statusCode).toBe(404)
    const rule = await api.inject({ method: 'PUT', url: '/api/v1/alerts/rules/CM07/water_level', payload: { levels: [{ name: 'bd1', severity: 'warning', direction: 'above', threshold: 120 }] } })
    expect(rule.statusCode).toBe(200)
    const badRule = await api.inject({ method: 'PUT', url: '/api/v1/alerts/rules/CM07/salinity', payload: { levels: [{ name: 'x', severity: 'bad' }] } })
    expect(badRule.json().error.code).toBe('ALERT_RULE_INVALID')

    const t = Date.now()
    alerter.onAccepted([reading('CM07', t - 1000, { salinity: 2.4 }), reading('CM07', t, { salinity: 2.6 })])
    alerter.flush()
    await waitFor(() => outboxCounts(alerter).submitted === 1, 'submitted via http')
    expect(received).toHaveLength(2)
    expect(received[0]!.key).toBe(received[1]!.key)
    expect(received[1]!.auth).toBe('Bearer t0k')
    expect(received[1]!.body).toMatchObject({ to: '+84912345678', from: 'TIDEWATCH', unicode: true })
    expect(String(received[1]!.body.text)).toMatch(/^CẢNH BÁO: Độ mặn 2,6‰ \(ngưỡng 2‰\) tại Trạm Năm Căn \(CM07\)/)

    // A forged inbound SMS (no or wrong shared secret) changes nothing.
    const forged = await api.inject({ method: 'POST', url: '/api/v1/alerts/inbound/http', payload: { from: '+84912345678', text: 'HUY' } })
    expect(forged.statusCode, forged.body).toBe(401)
    const wrong = await api.inject({ method: 'POST', url: '/api/v1/alerts/inbound/http', headers: { 'x-tidewatch-secret': 'guess' }, payload: { from: '+84912345678', text: 'HUY' } })
    expect(wrong.statusCode).toBe(401)
    const inbound = await api.inject({ method: 'POST', url: '/api/v1/alerts/inbound/http', headers: { 'x-tidewatch-secret': 'gw-shared-secret' }, payload: { from: '+84912345678', text: 'tt cm07' } })
    expect(inbound.json()).toMatchObject({ command: 'status' })
    expect(inbound.json().reply).toMatch(/^Trạm Năm Căn \(CM07\) lúc .*Độ mặn 2,6‰ \(CẢNH BÁO\)\.$/)
    await waitFor(() => received.length === 3, 'reply via http')

    const incidents = await api.inject({ method: 'GET', url: '/api/v1/alerts/incidents?open=true' })
    expect(incidents.json().incidents).toHaveLength(1)
    // The alerter reports metric families (core/metrics.ts); the route renders them.
    expect(renderPrometheus(alerter.metrics())).toContain('tidewatch_alerts_incidents_open 1')
    const metrics = await api.inject({ method: 'GET', url: '/api/v1/alerts/metrics' })
    expect(metrics.statusCode).toBe(200)

    await alerter.stop()
    registry.close()
    await api.close()
    await gw.close()
  })
})
