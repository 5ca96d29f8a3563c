import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import type { Alerter } from '../../alerts/alerter.ts'
import type { Registry } from '../../devices/registry.ts'
import { startSmsc, waitFor, type Smsc } from './smsc.ts'
import { openAlerter, outboxCounts, reading, smppConfig, tempDir } from './helpers.ts'

/**
 * Salinity intrusion reaches 3 of 10 stations (CM01–CM03). Farmers following
 * them (directly or by commune) get exactly one warning, one danger and one
 * resolved each, over a real SMPP server; the process restarts mid-incident;
 * staff get no-data for a silenced station (CM10); nobody else gets anything.
 */
const T0 = Date.parse('2026-03-12T07:00:00Z') // 14:00 in Cà Mau
const STEP = 15 * 60_000
const INTRUDED = ['CM01', 'CM02', 'CM03']
// Salinity per reading at the intruded stations (pending = 2 readings): warning fires at the
// 4th, danger at the 7th, back to the warning band at the 9th (suppressed by the window), resolved at the 10th.
const PROFILE = [0.5, 1.0, 2.2, 2.5, 3.0, 4.2, 4.5, 3.9, 3.0, 1.5, 1.2]

describe('salinity intrusion scenario over SMPP', () => {
  const tmp = tempDir()
  const file = join(tmp.dir, 'registry.db')
  let smsc: Smsc
  let registry: Registry
  let alerter: Alerter
  let now = T0
  const clock = (): number => now
  let step = 0

  const farmers = {
    f1: '+84901000001', // CM01, no diacritics (GSM-7)
    f2: '+84901000002', // CM02, diacritics (UCS-2, concatenated)
    f3: '+84901000003', // commune "Tân Thuận" (CM03), written without diacritics
    f4: '+84901000004', // CM05: never intruded
    f5: '+84901000005', // CM01 and CM02: one of each per station
    f6: '+84901000006', // English, CM03
    f10: '+84901000010', // CM10: silenced station, farmers get no no-data SMS
  }
  const staff = '+84909000001'

  async function advance(silent: string[] = []): Promise<void> {
    now += STEP
    const v = PROFILE[Math.min(step, PROFILE.length - 1)]!
    step++
    const readings = []
    for (let i = 1; i <= 10; i++) {
      const id = `CM${String(i).padStart(2, '0')}`
      if (silent.includes(id)) continue
      readings.push(reading(id, now, { salinity: INTRUDED.includes(id) ? v : 0.4, ph: 7.2 }))
    }
    alerter.onAccepted(readings)
    alerter.flush()
    await settle()
  }

  async function settle(): Promise<void> {
    await waitFor(() => {
      const c = outboxCounts(alerter)
      return !c.queued && !c.sending && !c.submitted
    }, 'outbox to drain and receipts to arrive').catch((err) => {
      console.error(alerter.messages({ limit: 20 }).map((m) => [m.id, m.channel, m.address, m.status, m.reason, m.segments]))
      throw err
    })
  }

  beforeAll(async () => {
    smsc = await startSmsc()
    ;({ registry, alerter } = await openAlerter(file, smppConfig(smsc.port), clock))
    for (let i = 1; i <= 10; i++) {
      const id = `CM${String(i).padStart(2, '0')}`
      await registry.add({ id, name: i === 3 ? 'Cống Tân Thuận' : `Trạm số ${i}`, commune: i === 3 ? 'Tân Thuận' : `Xã ${i}`, lat: 9 + i / 100, lon: 105, intervalSec: 900, sensors: ['salinity', 'ph'] }, T0)
    }
    // The scenario is about thresholds; rate-of-rise is covered in engine.test.ts.
    alerter.rules.set('zone:rice', 'salinity', { levels: [
      { name: 'warning', severity: 'warning', direction: 'above', threshold: 2, clear: 1.8 },
      { name: 'danger', severity: 'danger', direction: 'above', threshold: 4, clear: 3.6 },
    ] }, T0)
    const s = alerter.subscribers
    s.create({ phone: farmers.f1, stations: ['CM01'] }, T0)
    s.create({ phone: farmers.f2, stations: ['CM02'], diacritics: true }, T0)
    s.create({ phone: farmers.f3, communes: ['tan thuan'] }, T0)
    s.create({ phone: farmers.f4, stations: ['CM05'] }, T0)
    s.create({ phone: farmers.f5, stations: ['CM01', 'CM02'] }, T0)
    s.create({ phone: farmers.f6, stations: ['CM03'], lang: 'en' }, T0)
    s.create({ phone: farmers.f10, stations: ['CM10'] }, T0)
    s.create({ kind: 'staff', name: 'Trực ban', phone: staff }, T0)
    await alerter.start()
    await waitFor(() => alerter.channels.get('smpp')!.ready(), 'smpp bind')
  })

  afterAll(async () => {
    await alerter?.stop()
    registry?.close()
    await smsc?.close()
    tmp.cleanup()
  })

  const inbox = (phone: string): string[] => smsc.messages().get(phone.slice(1)) ?? []

  it('warns, escalates to danger, survives a restart, resolves, and reports no-data to staff', async () => {
    for (let i = 0; i < 4; i++) await advance()
    // Warning fired at the 4th reading (the second one >= 2 ‰).
    expect(inbox(farmers.f1)).toHaveLength(1)
    expect(inbox(farmers.f1)[0]).toMatch(/^CANH BAO: Do man 2,5g\/l \(nguong 2g\/l\) tai Tram so 1 \(CM01\) luc 15:00 12\/03/)
    for (let i = 0; i < 3; i++) await advance() // danger at the 7th reading (second >= 4 ‰)

    // Restart mid-incident: stop, close, reopen the same database.
    await alerter.stop()
    registry.close()
    ;({ registry, alerter } = await openAlerter(file, smppConfig(smsc.port), clock))
    await alerter.start()
    await waitFor(() => alerter.channels.get('smpp')!.ready(), 'smpp re-bind')
    expect(alerter.engine.state('CM01', 'salinity', 'level')?.level).toBe('danger')

    await advance() // 3.9: still danger (hysteresis, clear at 3.6)
    await advance() // 3.0: back to warning, suppressed by the 6 h window
    await advance() // 1.5: resolved
    await advance() // 1.2: nothing

    for (const phone of [farmers.f1, farmers.f2, farmers.f3, farmers.f6]) {
      const texts = inbox(phone)
      expect(texts, phone).toHaveLength(3)
    }
    const [w, d, r] = inbox(farmers.f1)
    expect(w).toMatch(/^CANH BAO/)
    expect(d).toMatch(/^NGUY HIEM: Do man 4,5g\/l \(nguong 4g\/l\)/)
    expect(r).toMatch(/^HET CANH BAO|^HET NGUY HIEM/)
    expect(inbox(farmers.f2)[0]).toMatch(/^CẢNH BÁO: Độ mặn 2,5‰ \(ngưỡng 2‰\) tại Trạm số 2 \(CM02\)/)
    expect(inbox(farmers.f6)[1]).toMatch(/^DANGER: Salinity 4.5‰ \(limit 4‰\) at Cống Tân Thuận|^DANGER: Salinity 4.5g\/l/)
    // Two stations for f5: one of each per station.
    expect(inbox(farmers.f5)).toHaveLength(6)
    expect(inbox(farmers.f4)).toHaveLength(0)
    // Staff: warning + danger + resolved for each of the 3 stations.
    expect(inbox(staff)).toHaveLength(9)

    // PDUs: GSM-7 single part for the no-diacritics farmer, UCS-2 concatenated for f2.
    const f1Pdus = smsc.submits.filter((s) => s.to === farmers.f1.slice(1))
    expect(f1Pdus.every((p) => p.dataCoding === 0 && p.udh === null && p.from === 'TIDEWATCH')).toBe(true)
    const f2Pdus = smsc.submits.filter((s) => s.to === farmers.f2.slice(1))
    expect(f2Pdus.every((p) => p.dataCoding === 8)).toBe(true)
    const parts = f2Pdus.filter((p) => p.udh)
    expect(parts.length).toBeGreaterThan(3)
    for (const p of parts) {
      expect(p.esmClass & 0x40).toBe(0x40)
      expect(p.udh![0]).toBe(0x00) // IEI concatenation, 8-bit ref
      expect(p.text.length).toBeLessThanOrEqual(67)
    }
    // Exact round trip: what the SMSC reassembled is what the outbox holds.
    const sent = alerter.messages({ limit: 1000 }).filter((m) => m.address === farmers.f2 && m.status === 'delivered').map((m) => m.text).reverse()
    expect(inbox(farmers.f2)).toEqual(sent)

    // Every message delivered (receipts tracked to each message), nothing failed or unknown.
    const c = outboxCounts(alerter)
    expect(c.failed ?? 0).toBe(0)
    expect(c.unknown ?? 0).toBe(0)

    // Silence CM10 for more than 3 intervals: staff get no-data, its farmer gets nothing.
    for (let i = 0; i < 4; i++) await advance(['CM10'])
    const nd = alerter.checkNoData()
    expect(nd.map((t) => t.station)).toEqual(['CM10'])
    expect(alerter.checkNoData()).toHaveLength(0) // once per incident
    await settle()
    expect(inbox(staff).filter((t) => t.startsWith('MAT TIN HIEU'))).toHaveLength(1)
    expect(inbox(farmers.f10)).toHaveLength(0)

    // History: every state change recorded with its reading.
    const events = alerter.events({ station: 'CM01', limit: 100 }).reverse()
    expect(events.map((e) => `${e.to_status}:${e.level}`)).toEqual(['pending:warning', 'firing:warning', 'firing:danger', 'firing:warning', 'resolved:warning'])
    expect(events[1]!.value).toBe(2.5)
  })
})
