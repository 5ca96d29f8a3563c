/**
 * Latency from an accepted reading to submit_sm at a real SMPP server
 * (smpp.createServer on loopback), at 1,000 readings/s.
 *   node bin/run-ts.js bench/alert-latency.ts [--seconds 10] [--rate 1000]
 * 1,000 stations with one farmer each; every station crosses the danger line
 * once at a random moment (pending = 1), so each crossing yields one SMS.
 */
import { parseArgs } from 'node:util'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import smpp, { type PDU, type Session } from 'smpp'
import type { AddressInfo } from 'node:net'
import { Registry } from '../devices/registry.ts'
import { silentLogger } from '../core/log.ts'
import { createAlerter } from '../alerts/alerter.ts'
import { AlertsConfigSchema } from '../core/alerts-config.ts'
import type { AcceptedReading } from '../core/reading.ts'

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, rate: { type: 'string', default: '1000' } } })
const seconds = Number(values.seconds)
const rate = Number(values.rate)
const STATIONS = 1000

const arrivals = new Map<string, number>()
const server = smpp.createServer((session: Session) => {
  session.on('error', () => {})
  session.on('bind_transceiver', (pdu: PDU) => session.send(pdu.response()))
  session.on('enquire_link', (pdu: PDU) => session.send(pdu.response()))
  session.on('unbind', (pdu: PDU) => session.send(pdu.response()))
  let n = 0
  session.on('submit_sm', (pdu: PDU) => {
    if (!arrivals.has(pdu.destination_addr!)) arrivals.set(pdu.destination_addr!, performance.now())
    session.send(pdu.response({ message_id: `b${++n}` }))
  })
})
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
const port = (server.address() as AddressInfo).port

const dir = mkdtempSync(join(tmpdir(), 'tidewatch-bench-'))
const registry = Registry.open(join(dir, 'registry.db'))
const config = AlertsConfigSchema.parse({ smsChannel: 'smpp', smpp: { enabled: true, port, ratePerSec: 1000, window: 50, deliveryReceipts: false } })
const alerter = await createAlerter({ db: registry.db, registry, config, log: silentLogger })
alerter.rules.set('default', 'salinity', { levels: [{ name: 'danger', severity: 'danger', direction: 'above', threshold: 4, clear: 3.6, pendingReadings: 1 }] }, Date.now())
const phoneOf = (i: number): string => `849${String(i).padStart(8, '0')}`
for (let i = 0; i < STATIONS; i++) alerter.subscribers.create({ phone: `+${phoneOf(i)}`, stations: [`B${i}`] }, Date.now())
await alerter.start()
while (!alerter.channels.get('smpp')!.ready()) await new Promise((r) => setTimeout(r, 20))

const total = seconds * rate
const perStation = Math.max(1, Math.floor(total / STATIONS))
const crossAt = Array.from({ length: STATIONS }, () => Math.floor(Math.random() * perStation))
const accepted = new Map<string, number>()
const tickMs = 10
const perTick = Math.max(1, Math.round((rate * tickMs) / 1000))
let sent = 0
const started = performance.now()
await new Promise<void>((resolve) => {
  const timer = setInterval(() => {
    const due = Math.min(total, Math.round(((performance.now() - started) / 1000) * rate))
    const batch: AcceptedReading[] = []
    while (sent < due && batch.length < perTick * 4) {
      const st = sent % STATIONS
      const round = Math.floor(sent / STATIONS)
      const value = round >= crossAt[st]! ? 5 : 1
      const now = Date.now()
      batch.push({ stationId: `B${st}`, ts: now, receivedAt: now, late: false, values: [{ sensor: 'salinity', value, raw: value, flags: [] }] })
      if (round === crossAt[st]) accepted.set(phoneOf(st), performance.now())
      sent++
    }
    if (batch.length) alerter.onAccepted(batch)
    if (sent >= total) {
      clearInterval(timer)
      resolve()
    }
  }, tickMs)
})
const deadline = performance.now() + 30_000
while (arrivals.size < accepted.size && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50))

const lat = [...accepted].filter(([p]) => arrivals.has(p)).map(([p, t]) => arrivals.get(p)! - t).sort((a, b) => a - b)
const q = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN
console.log(`readings: ${sent} at ${rate}/s over ${seconds}s; SMS: ${lat.length}/${accepted.size}`)
console.log(`accepted reading -> submit_sm: p50 ${q(0.5).toFixed(1)} ms, p99 ${q(0.99).toFixed(1)} ms, max ${(lat.at(-1) ?? NaN).toFixed(1)} ms`)
await alerter.stop()
registry.close()
server.close()
rmSync(dir, { recursive: true, force: true })
