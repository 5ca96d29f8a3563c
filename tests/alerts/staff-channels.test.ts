/**
 * Staff notifications beyond SMS: e-mail through a real SMTP server
 * (smtp-server on loopback) and a webhook to a local HTTP receiver. Staff get
 * every level and no-data.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { SMTPServer } from 'smtp-server'
import { afterEach, expect, it } from 'vitest'
import { AlertsConfigSchema } from '../../core/alerts-config.ts'
import { waitFor } from './smsc.ts'
import { openAlerter, reading, tempDir } from './helpers.ts'

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

it('sends staff alerts by e-mail over SMTP and to a webhook, including no-data', async () => {
  const mails: Array<{ to: string[]; body: string }> = []
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onData(stream, session, cb) {
      let body = ''
      stream.on('data', (d: Buffer) => (body += d.toString('utf8')))
      stream.on('end', () => {
        mails.push({ to: session.envelope.rcptTo.map((r) => r.address), body })
        cb()
      })
    },
  })
  await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', () => r()))
  cleanups.push(() => new Promise<void>((r) => smtp.close(() => r())))
  const hooks: unknown[] = []
  const receiver: Server = createServer((req, res) => {
    let b = ''
    req.on('data', (d) => (b += d))
    req.on('end', () => {
      hooks.push(JSON.parse(b))
      res.writeHead(200).end('{}')
    })
  })
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()))
  cleanups.push(() => new Promise<void>((r) => receiver.close(() => r())))

  const tmp = tempDir()
  cleanups.push(() => tmp.cleanup())
  let now = Date.now()
  const config = AlertsConfigSchema.parse({
    email: { enabled: true, host: '127.0.0.1', port: (smtp.server.address() as AddressInfo).port, from: 'Chi cục Thủy lợi <canhbao@camau.example>' },
    noDataCheckMs: 60_000,
  })
  const { registry, alerter } = await openAlerter(join(tmp.dir, 'registry.db'), config, () => now)
  cleanups.push(() => registry.close(), () => alerter.stop())
  await alerter.start()
  await registry.add({ id: 'st-e', name: 'Trạm Đầm Dơi', lat: 9, lon: 105.2, intervalSec: 900 })
  alerter.subscribers.create({ kind: 'staff', name: 'Trực ban', email: 'trucban@camau.example', webhook: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook` }, now)

  for (const salinity of [4.5, 4.6]) {
    alerter.onAccepted([reading('st-e', now, { salinity })])
    alerter.flush()
    now += 60_000
  }
  await waitFor(() => mails.length >= 1 && hooks.length >= 1, 'danger to staff by e-mail and webhook')
  expect(mails[0]!.to).toEqual(['trucban@camau.example'])
  expect(mails[0]!.body).toMatch(/Subject: =\?UTF-8\?|Subject: \[tidewatch\]/)
  expect(mails[0]!.body).toContain('st-e')

  // Silent for more than 3 intervals: staff hear about it, by both channels.
  now += 4 * 900_000
  alerter.checkNoData()
  await waitFor(() => mails.length >= 2 && hooks.length >= 2, 'no-data to staff')
  expect(JSON.stringify(hooks[1])).toMatch(/st-e/)
})
