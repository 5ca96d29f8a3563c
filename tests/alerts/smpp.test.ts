import { afterEach, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import type { Alerter } from '../../alerts/alerter.ts'
import type { SmppChannel } from '../../alerts/channels/smpp.ts'
import type { Registry } from '../../devices/registry.ts'
import { startSmsc, waitFor, type Smsc } from './smsc.ts'
import { openAlerter, outboxCounts, reading, smppConfig, tempDir } from './helpers.ts'

/** SMPP channel behaviour against a real smpp.createServer peer. Real clock; no timing asserts. */
describe('SMPP channel', () => {
  let smsc: Smsc | undefined
  let registry: Registry | undefined
  let alerter: Alerter | undefined
  const tmp = tempDir()

  afterEach(async () => {
    await alerter?.stop()
    registry?.close()
    await smsc?.close()
    alerter = registry = smsc = undefined
  })

  async function setup(name: string, smscOpts: Parameters<typeof startSmsc>[0], smpp: Record<string, unknown> = {}) {
    smsc = await startSmsc(smscOpts)
    ;({ registry, alerter } = await openAlerter(join(tmp.dir, `${name}.db`), smppConfig(smsc.port, {}, smpp)))
    await registry.add({ id: 'CM01', name: 'Trạm Cái Nước', commune: 'Cái Nước', lat: 9, lon: 105, sensors: ['salinity'] })
    await alerter.start()
    await waitFor(() => alerter!.channels.get('smpp')!.ready(), 'bind')
    return { smsc, alerter }
  }

  function danger(a: Alerter): void {
    const t = Date.now()
    a.onAccepted([reading('CM01', t - 1000, { salinity: 4.5 }), reading('CM01', t, { salinity: 4.6 })])
    a.flush()
  }

  const drained = (a: Alerter) => () => {
    const c = outboxCounts(a)
    return !c.queued && !c.sending && !c.submitted
  }

  it('1,000 subscribers on one station each get exactly one SMS, within the gateway rate', async () => {
    const { smsc, alerter } = await setup('thousand', {}, { ratePerSec: 250 })
    for (let i = 0; i < 1000; i++) alerter.subscribers.create({ phone: `+8491${String(i).padStart(7, '0')}`, stations: ['CM01'] }, Date.now())
    danger(alerter)
    danger(alerter) // re-delivery of newer readings: still one message each
    await waitFor(drained(alerter), '1000 messages delivered', 60_000)
    const per = new Map<string, number>()
    for (const s of smsc.submits) per.set(s.to, (per.get(s.to) ?? 0) + 1)
    expect(per.size).toBe(1000)
    expect([...per.values()].every((n) => n === 1)).toBe(true)
    expect(outboxCounts(alerter).delivered).toBe(1000)
    // Rate: no 1 s window holds more than one second of tokens plus the initial burst.
    const at = smsc.submits.map((s) => s.at).sort((a, b) => a - b)
    let maxInWindow = 0
    for (let i = 0, j = 0; i < at.length; i++) {
      while (at[i]! - at[j]! >= 1000) j++
      maxInWindow = Math.max(maxInWindow, i - j + 1)
    }
    expect(maxInWindow).toBeLessThanOrEqual(2 * 250 + 10)
  })

  it('slows down on ESME_RTHROTTLED (0x58) and delivers everything exactly once', async () => {
    const { smsc, alerter } = await setup('throttle', { throttleFirst: 3 })
    for (let i = 0; i < 5; i++) alerter.subscribers.create({ phone: `+8492000000${i}`, stations: ['CM01'] }, Date.now())
    danger(alerter)
    await waitFor(drained(alerter), 'delivered after throttling')
    expect(smsc.throttled.length).toBe(3)
    expect(new Set(smsc.submits.map((s) => s.to)).size).toBe(5)
    expect(smsc.submits).toHaveLength(5)
    expect(alerter.outbox.counters.throttled).toBeGreaterThanOrEqual(1)
  })

  it('reconnects with backoff after the connection drops, and after an unanswered submit_sm', async () => {
    const { smsc, alerter } = await setup('reconnect', { ignoreFirst: 1 }, { responseTimeoutMs: 300, enquireLinkMs: 100 })
    const ch = alerter.channels.get('smpp') as SmppChannel
    await waitFor(() => smsc.enquireLinks() > 0, 'enquire_link')
    smsc.dropAll()
    await waitFor(() => ch.binds() >= 2 && ch.ready(), 'rebind after drop')
    alerter.subscribers.create({ phone: '+84930000001', stations: ['CM01'] }, Date.now())
    danger(alerter)
    // The first submit_sm gets no answer: timeout, session dropped, rebind, retry.
    await waitFor(drained(alerter), 'delivered after timeout')
    expect(ch.binds()).toBeGreaterThanOrEqual(3)
    expect(smsc.submits).toHaveLength(1)
  })

  it('DK / TT / HUY round trip end to end over SMPP (case- and diacritics-insensitive)', async () => {
    const { smsc, alerter } = await setup('keywords', {})
    alerter.onAccepted([reading('CM01', Date.now(), { salinity: 1.2 })])
    alerter.flush()
    const from = '84941234567'
    const replies = () => smsc.messages().get(from) ?? []
    smsc.mo(from, 'đk cm01')
    await waitFor(() => replies().length === 1, 'DK reply')
    expect(replies()[0]).toBe('Da dang ky nhan canh bao tram Tram Cai Nuoc (CM01). Soan TT CM01 de xem so lieu, HUY CM01 de huy.')
    expect(alerter.subscribers.byPhone('+84941234567')?.stations).toEqual(['CM01'])
    smsc.mo(from, 'Tt Cm01')
    await waitFor(() => replies().length === 2, 'TT reply')
    expect(replies()[1]).toMatch(/^Tram Cai Nuoc \(CM01\) luc \d\d:\d\d \d\d\/\d\d: Do man 1,2g\/l\.$/)
    smsc.mo(from, 'HỦY')
    await waitFor(() => replies().length === 3, 'HUY reply')
    expect(replies()[2]).toMatch(/^Da huy nhan tat ca canh bao/)
    expect(alerter.subscribers.byPhone('+84941234567')?.active).toBe(false)
    smsc.mo(from, 'xin chào')
    await waitFor(() => replies().length === 4, 'help reply')
    expect(replies()[3]).toMatch(/^Cu phap: DK/)
    // Replies are GSM-7 here (no diacritics by default) and every one got a receipt.
    expect(smsc.submits.every((s) => s.dataCoding === 0)).toBe(true)
    await waitFor(drained(alerter), 'receipts')
  })

  it('reassembles a concatenated keyword SMS whose parts arrive out of order, and answers it once', async () => {
    const { smsc, alerter } = await setup('concatenated-mo', {})
    const from = '84941234568'
    smsc.moParts(from, ['ĐK ', 'CM01'], 7, [1, 0])
    await waitFor(() => (smsc.messages().get(from) ?? []).length === 1, 'DK reply')
    expect(alerter.subscribers.byPhone('+84941234568')?.stations).toEqual(['CM01'])
    await waitFor(drained(alerter), 'receipts')
    expect(smsc.messages().get(from)).toHaveLength(1)
  })
})
