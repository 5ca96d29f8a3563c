/**
 * Segment counts and delivery states recorded per channel: the outbox row
 * says what the message cost and how far it got, the same way on every
 * channel. SMPP against a real smpp.createServer SMSC (tests/alerts/smsc.ts),
 * the HTTP gateway and webhooks against local HTTP servers, e-mail against a
 * real SMTP server (smtp-server), the log channel as it runs in development.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { SMTPServer } from 'smtp-server'
import { afterEach, describe, expect, it } from 'vitest'
import type { Alerter } from '../../alerts/alerter.ts'
import { createHttpGatewayChannel } from '../../alerts/channels/http-gateway.ts'
import { AlertsConfigSchema, HttpGatewayConfigSchema, type AlertsConfig } from '../../core/alerts-config.ts'
import { segmentInfo } from '../../alerts/sms/segments.ts'
import type { OutboxRow } from '../../alerts/store.ts'
import { startSmsc, waitFor } from './smsc.ts'
import { openAlerter, reading, smppConfig, tempDir } from './helpers.ts'

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const UNICODE = '+84911000001'
const PLAIN = '+84911000002'
const STATION = { id: 'SD01', name: 'Cống\u00a0Sông Đốc – Ðá Bạc', lat: 9.04, lon: 104.83, zone: 'rice' as const }

/** An alerter with one farmer who reads diacritics (UCS-2, several parts) and one who does not (GSM-7, one part). */
async function alerterWith(config: AlertsConfig, name: string) {
  const tmp = tempDir()
  const { registry, alerter } = await openAlerter(join(tmp.dir, `${name}.db`), config)
  cleanups.push(() => tmp.cleanup(), () => registry.close(), () => alerter.stop())
  await registry.add(STATION)
  await alerter.start()
  alerter.subscribers.create({ phone: UNICODE, stations: [STATION.id], diacritics: true }, Date.now())
  alerter.subscribers.create({ phone: PLAIN, stations: [STATION.id], diacritics: false }, Date.now())
  return { registry, alerter }
}

function danger(alerter: Alerter): void {
  const t = Date.now()
  alerter.onAccepted([reading(STATION.id, t - 1000, { salinity: 4.5 }), reading(STATION.id, t, { salinity: 4.6 })])
  alerter.flush()
}

const rowsOf = (alerter: Alerter): OutboxRow[] => alerter.messages({ limit: 100 }).filter((m) => m.kind === 'alert')
const rowFor = (alerter: Alerter, address: string): OutboxRow => rowsOf(alerter).find((m) => m.address === address)!

async function httpReceiver(answer: (body: Record<string, unknown>) => [number, string]) {
  const bodies: Array<Record<string, unknown>> = []
  const server: Server = createServer((req, res) => {
    let b = ''
    req.on('data', (d: Buffer) => (b += d.toString('utf8')))
    req.on('end', () => {
      const body = JSON.parse(b) as Record<string, unknown>
      bodies.push(body)
      const [status, text] = answer(body)
      res.writeHead(status, { 'content-type': 'application/json' }).end(text)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, bodies }
}

describe('segment counts per channel', () => {
  it('SMPP: the row counts the PDUs the SMSC received, and is delivered when every part is', async () => {
    const smsc = await startSmsc()
    cleanups.push(() => smsc.close())
    const { alerter } = await alerterWith(smppConfig(smsc.port), 'smpp')
    await waitFor(() => alerter.channels.get('smpp')!.ready(), 'bind')
    danger(alerter)
    await waitFor(() => rowsOf(alerter).length === 2 && rowsOf(alerter).every((r) => r.status === 'delivered'), 'both alerts delivered')
    const unicode = rowFor(alerter, UNICODE)
    const plain = rowFor(alerter, PLAIN)
    const pdus = (phone: string) => smsc.submits.filter((s) => s.to === phone.slice(1))
    expect(unicode.encoding).toBe('ucs2')
    expect(unicode.segments).toBeGreaterThanOrEqual(2)
    expect(unicode.segments).toBe(pdus(UNICODE).length)
    expect(unicode.segments).toBe(segmentInfo(unicode.text).segments)
    expect(pdus(UNICODE).every((p) => p.dataCoding === 8)).toBe(true)
    // The transliterated name keeps the plain message in one GSM-7 PDU.
    expect(plain).toMatchObject({ encoding: 'gsm7', segments: 1 })
    expect(pdus(PLAIN)).toHaveLength(1)
    expect(pdus(PLAIN)[0]).toMatchObject({ dataCoding: 0, udh: null })
    expect(plain.text).toContain('tai Cong Song Doc - Da Bac (SD01)')
  })

  it('HTTP gateway: a 2-part UCS-2 message counts 2, as over SMPP; the submitted row stays submitted (no receipts)', async () => {
    const gw = await httpReceiver((body) => [200, JSON.stringify({ messageId: `gw-${String(body.to)}` })])
    const config = AlertsConfigSchema.parse({ smsChannel: 'http', http: { url: gw.url, ratePerSec: 100 }, outbox: { retryBaseMs: 20, retryMaxMs: 100 } })
    const { alerter } = await alerterWith(config, 'http')
    danger(alerter)
    await waitFor(() => rowsOf(alerter).length === 2 && rowsOf(alerter).every((r) => r.status === 'submitted'), 'both alerts submitted')
    const unicode = rowFor(alerter, UNICODE)
    const sent = gw.bodies.find((b) => b.to === UNICODE)!
    expect(sent.unicode).toBe(true)
    expect(sent.text).toBe(unicode.text)
    expect(unicode.encoding).toBe('ucs2')
    expect(unicode.segments).toBe(segmentInfo(String(sent.text), 'ucs2').segments)
    expect(unicode.segments).toBeGreaterThanOrEqual(2)
    expect(rowFor(alerter, PLAIN)).toMatchObject({ encoding: 'gsm7', segments: 1 })
  })

  it('HTTP gateway without Unicode: counts the parts of the GSM-7 text it actually sent', async () => {
    const gw = await httpReceiver(() => [202, '{"id":"x1"}'])
    const channel = createHttpGatewayChannel(HttpGatewayConfigSchema.parse({ url: gw.url, useUnicode: false }))
    const text = 'NGUY HIỂM: Độ mặn 4,6‰ (ngưỡng 4‰) tại Cống\u00a0Sông Đốc – Ðá Bạc (SD01) lúc 14:30 12/03. Đóng cống, không lấy nước.'
    expect(segmentInfo(text)).toMatchObject({ encoding: 'ucs2', segments: 2 })
    const result = await channel.send({ id: 1, key: 'k1', to: UNICODE, text, encoding: 'ucs2', submittedParts: new Set() }, { partSubmitted: () => {} })
    expect(result).toMatchObject({ ok: true, parts: 1, encoding: 'gsm7', providerId: 'x1' })
    expect(gw.bodies[0]).toMatchObject({ unicode: false, text: 'NGUY HIEM: Do man 4,6g/l (nguong 4g/l) tai Cong Song Doc - Da Bac (SD01) luc 14:30 12/03. Dong cong, khong lay nuoc.' })
  })

  it('log channel: counts parts like a gateway would, and says the message was only logged', async () => {
    const { alerter } = await alerterWith(AlertsConfigSchema.parse({ smsChannel: 'log' }), 'log')
    danger(alerter)
    await waitFor(() => rowsOf(alerter).length === 2 && rowsOf(alerter).every((r) => r.status === 'logged'), 'both alerts logged')
    const unicode = rowFor(alerter, UNICODE)
    expect(unicode.segments).toBe(segmentInfo(unicode.text, 'ucs2').segments)
    expect(unicode.segments).toBeGreaterThanOrEqual(2)
    expect(unicode.reason).toMatch(/log/)
    expect(rowFor(alerter, PLAIN)).toMatchObject({ encoding: 'gsm7', segments: 1, status: 'logged' })
  })
})

describe('delivery states of staff channels', () => {
  it('a disabled e-mail channel is never delivered; a webhook answered 2xx is', async () => {
    const hook = await httpReceiver(() => [200, '{}'])
    const { alerter } = await alerterWith(AlertsConfigSchema.parse({ email: { enabled: false } }), 'email-off')
    alerter.subscribers.create({ kind: 'staff', name: 'Trực ban', email: 'trucban@camau.example', webhook: hook.url }, Date.now())
    danger(alerter)
    const staffRows = () => rowsOf(alerter).filter((r) => r.channel === 'email' || r.channel === 'webhook')
    await waitFor(() => staffRows().length === 2 && staffRows().every((r) => r.status !== 'queued' && r.status !== 'sending'), 'staff messages settled')
    const email = staffRows().find((r) => r.channel === 'email')!
    expect(email).toMatchObject({ status: 'logged', segments: 1 })
    expect(email.reason).toMatch(/alerts\.email not enabled/)
    expect(staffRows().find((r) => r.channel === 'webhook')).toMatchObject({ status: 'delivered', segments: 1 })
    expect(hook.bodies).toHaveLength(1)
  })

  it('an e-mail accepted by the SMTP server is submitted, not delivered (no delivery report comes back)', async () => {
    const smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      onData(stream, _session, cb) {
        stream.resume()
        stream.on('end', () => cb())
      },
    })
    await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', () => r()))
    cleanups.push(() => new Promise<void>((r) => smtp.close(() => r())))
    const config = AlertsConfigSchema.parse({ email: { enabled: true, host: '127.0.0.1', port: (smtp.server.address() as AddressInfo).port } })
    const { alerter } = await alerterWith(config, 'email-on')
    alerter.subscribers.create({ kind: 'staff', name: 'Trực ban', email: 'trucban@camau.example' }, Date.now())
    danger(alerter)
    const email = () => rowsOf(alerter).find((r) => r.channel === 'email')
    await waitFor(() => email()?.status === 'submitted', 'e-mail accepted')
    expect(email()).toMatchObject({ status: 'submitted', segments: 1 })
  })
})
