import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import type { Alerter } from '../../alerts/alerter.ts'
import { render } from '../../alerts/templates.ts'
import type { OutboxRow } from '../../alerts/store.ts'
import { segmentInfo } from '../../alerts/sms/segments.ts'
import type { Registry } from '../../devices/registry.ts'
import { alarmLevelsRule } from '../../levels/zones.ts'
import { limitFor, sideOf } from '../../levels/rules.ts'
import { startSmsc, waitFor, type Smsc } from './smsc.ts'
import { openAlerter, outboxCounts, reading, smppConfig, tempDir } from './helpers.ts'

/**
 * The farmer's way in (issue 11, part 8): DK takes the station's SMS code,
 * a farmer who subscribes during an incident is told its status at once, TT
 * answers with values and levels of the farmer's stations within two SMS,
 * and a monitoring station is staff only. Real SMPP server (smpp.createServer)
 * and real SQLite; real clock, no timing asserts.
 */
describe('SMS keywords over SMPP', () => {
  const tmp = tempDir()
  let smsc: Smsc | undefined
  let registry: Registry | undefined
  let alerter: Alerter | undefined
  afterEach(async () => {
    await alerter?.stop()
    registry?.close()
    await smsc?.close()
    alerter = registry = smsc = undefined
  })
  afterAll(() => tmp.cleanup())

  async function setup(name: string, extra: Record<string, unknown> = {}) {
    smsc = await startSmsc()
    ;({ registry, alerter } = await openAlerter(join(tmp.dir, `${name}.db`), smppConfig(smsc.port, extra)))
    // Sông Đốc's published alarm levels, BĐ1–BĐ3 75/85/95 cm (bulletin of 2024-12-16, docs/ALERTS.md).
    await registry.add({ id: 'CM04', name: 'Trạm Sông Đốc', commune: 'Sông Đốc', lat: 9.04, lon: 104.83, zone: 'rice', code: 'SD01' })
    await registry.add({ id: 'CM05', name: 'Trạm Tân Thuận', commune: 'Tân Thuận', lat: 8.9, lon: 105.2, zone: 'brackish_aquaculture', code: 'TT02' })
    await registry.add({ id: 'CM09', name: 'Trạm quan trắc Cửa Lớn', lat: 8.8, lon: 105, zone: 'monitoring', code: 'QT01' })
    alerter.rules.set('CM04', 'water_level', alarmLevelsRule({ bd1: 75, bd2: 85, bd3: 95 }), Date.now())
    await alerter.start()
    await waitFor(() => alerter!.channels.get('smpp')!.ready(), 'bind')
    return { smsc, registry, alerter }
  }

  function feed(a: Alerter, station: string, values: Parameters<typeof reading>[2]): void {
    const t = Date.now()
    // Two readings: a level fires after pendingReadings (2 by default) readings past it.
    a.onAccepted([reading(station, t - 1000, values), reading(station, t, values)])
    a.flush()
  }

  const drained = (a: Alerter) => () => {
    const c = outboxCounts(a)
    return !c.queued && !c.sending && !c.submitted
  }
  const to = (phone: string) => (a: Alerter): OutboxRow[] => a.messages({ limit: 10_000 }).filter((m) => m.address === phone).reverse()

  it('DK <code> subscribes to the station with that code, case- and diacritics-insensitive, with or without a space', async () => {
    const { smsc, alerter } = await setup('code')
    const replies = (n: string) => smsc.messages().get(n) ?? []
    smsc.mo('84941000001', 'đk sđ01')
    await waitFor(() => replies('84941000001').length === 1, 'DK reply')
    expect(replies('84941000001')[0]).toBe('Da dang ky nhan canh bao tram Tram Song Doc (SD01). Soan TT SD01 de xem so lieu, HUY SD01 de huy.')
    expect(alerter.subscribers.byPhone('+84941000001')?.stations).toEqual(['CM04'])
    smsc.mo('84941000002', 'Đăng ký Tt 02')
    await waitFor(() => replies('84941000002').length === 1, 'DK reply with a space in the code')
    expect(alerter.subscribers.byPhone('+84941000002')?.stations).toEqual(['CM05'])
    // The id still works, and HUY takes the code too.
    smsc.mo('84941000001', 'DK cm05')
    await waitFor(() => replies('84941000001').length === 2, 'DK by id')
    expect(alerter.subscribers.byPhone('+84941000001')?.stations).toEqual(['CM04', 'CM05'])
    smsc.mo('84941000001', 'huy sd01')
    await waitFor(() => replies('84941000001').length === 3, 'HUY by code')
    expect(replies('84941000001')[2]).toBe('Da huy nhan canh bao tram SD01.')
    expect(alerter.subscribers.byPhone('+84941000001')?.stations).toEqual(['CM05'])
    smsc.mo('84941000003', 'DK XX99')
    await waitFor(() => replies('84941000003').length === 1, 'unknown code')
    expect(replies('84941000003')[0]).toMatch(/^Khong tim thay tram XX99/)
    await waitFor(drained(alerter), 'receipts')
  })

  it('DK during an active incident sends the current status at once, as the alert, and the farmer later gets the all-clear', async () => {
    const { smsc, alerter } = await setup('incident')
    // Rice salinity danger at 4 ‰ (Decision 18/2021/QĐ-TTg) and Sông Đốc over BĐ2.
    feed(alerter, 'CM04', { salinity: 4.6, water_level: 88 })
    expect(alerter.incidents({ open: true })).toHaveLength(2)
    // A staff-only level firing at the same station is not told to farmers.
    alerter.rules.set('CM04', 'ph', { levels: [{ name: 'ph_low', severity: 'warning', direction: 'below', threshold: 6, notifyFarmers: false }] }, Date.now())
    feed(alerter, 'CM04', { ph: 5.5 })
    expect(alerter.incidents({ open: true })).toHaveLength(3)

    const phone = '+84941000010'
    alerter.subscribers.create({ phone, stations: [], diacritics: true }, Date.now())
    smsc.mo('84941000010', 'DK SD01')
    await waitFor(() => to(phone)(alerter).length === 3 && drained(alerter)(), 'DK reply and two status alerts')
    const rows = to(phone)(alerter)
    expect(rows[0]).toMatchObject({ kind: 'reply', status: 'delivered' })
    expect(rows[0]!.text).toBe('Đã đăng ký nhận cảnh báo trạm Trạm Sông Đốc (SD01). Soạn TT SD01 để xem số liệu, HUY SD01 để hủy.')
    const status = rows.slice(1)
    expect(status.map((r) => `${r.sensor}/${r.level}/${r.kind}/${r.status}`).sort()).toEqual(['salinity/danger/alert/delivered', 'water_level/bd2/alert/delivered'])
    // The text is the alert's own template (templates.ts render()), for the state in force.
    const station = { id: 'CM04', name: 'Trạm Sông Đốc', zone: 'rice' as const, code: 'SD01' }
    for (const r of status) {
      const rule = alerter.rules.get('CM04', r.sensor!)!
      const level = rule.levels.find((l) => l.name === r.level)!
      const state = alerter.engine.state('CM04', r.sensor!, 'level')!
      const expected = render(
        { kind: 'alert', station, sensor: r.sensor!, level, side: sideOf(level, state.value), value: state.value, threshold: limitFor(level, state.value), ts: state.reading_ts!, trend: null },
        { lang: 'vi', diacritics: true },
      )
      expect(r.text).toBe(expected.text)
      expect(r.incident).toBe(state.incident)
    }
    expect(smsc.messages().get('84941000010')).toHaveLength(3)

    // DK again: the reply, but not the same status twice.
    smsc.mo('84941000010', 'dk sd01')
    await waitFor(() => to(phone)(alerter).length === 4 && drained(alerter)(), 'second DK reply')
    expect(to(phone)(alerter)[3]!.kind).toBe('reply')

    // The incident resolves: the farmer told about it hears that it is over.
    feed(alerter, 'CM04', { salinity: 1.0 })
    await waitFor(() => to(phone)(alerter).some((r) => r.kind === 'resolved') && drained(alerter)(), 'resolved')
    expect(to(phone)(alerter).filter((r) => r.kind === 'resolved').map((r) => r.sensor)).toEqual(['salinity'])
  })

  it('TT answers with the latest values and levels of all the farmer\'s stations (or one), within two SMS', async () => {
    const { smsc, alerter } = await setup('tt')
    // Brackish aquaculture: salinity outside 5–35 ‰ warns (QCVN 02-19:2014/BNNPTNT); nitrite 1 mg/L NO2⁻ warns there.
    feed(alerter, 'CM05', { salinity: 3.5, no2: 1.2, ph: 7.8 })
    feed(alerter, 'CM04', { salinity: 1.2, water_level: 88 })
    const phone = '+84941000020'
    alerter.subscribers.create({ phone, stations: ['CM04'], communes: ['tan thuan'] }, Date.now())
    const replies = () => smsc.messages().get('84941000020') ?? []

    smsc.mo('84941000020', 'TT')
    await waitFor(() => replies().length === 1, 'TT reply')
    const all = replies()[0]!
    expect(all).toMatch(/^Tram Song Doc \(SD01\) luc \d\d:\d\d \d\d\/\d\d: Do man 1,2g\/l, Muc nuoc 88cm \(tren BD2\)\. /)
    expect(all).toMatch(/Tram Tan Thuan \(TT02\) luc \d\d:\d\d \d\d\/\d\d: Do man 3,5g\/l \(CANH BAO, qua thap\), pH 7,8, Nitrit 1,2mg\/L NO2- \(CANH BAO\)\.$/)
    expect(segmentInfo(all).segments).toBeLessThanOrEqual(2)

    smsc.mo('84941000020', 'tt sd01')
    await waitFor(() => replies().length === 2, 'TT <code> reply')
    expect(replies()[1]).toMatch(/^Tram Song Doc \(SD01\) luc \d\d:\d\d \d\d\/\d\d: Do man 1,2g\/l, Muc nuoc 88cm \(tren BD2\)\.$/)

    // With diacritics: the same in Vietnamese, nitrite on its NO2⁻ basis; two UCS-2 segments hold 134 characters,
    // so both stations go in the short form (code, hour, short labels).
    alerter.subscribers.update(alerter.subscribers.byPhone(phone)!.id, { diacritics: true }, Date.now())
    smsc.mo('84941000020', 'TT')
    await waitFor(() => replies().length === 3, 'TT reply with diacritics')
    expect(replies()[2]).toMatch(/^SD01 \d\d:\d\d: Mặn 1,2‰, Nước 88cm \(trên BĐ2\)\. TT02 \d\d:\d\d: Mặn 3,5‰ \(CẢNH BÁO, quá thấp\), pH 7,8, NO2⁻ 1,2mg\/L \(CẢNH BÁO\)\.$/)
    await waitFor(drained(alerter), 'receipts')
    const rows = to(phone)(alerter)
    expect(rows.map((r) => r.segments).every((n) => n <= 2)).toBe(true)
    expect(rows.map((r) => r.encoding)).toEqual(['gsm7', 'gsm7', 'ucs2'])

    // A farmer with no station and a stranger get told how to subscribe.
    smsc.mo('84941000021', 'tt')
    await waitFor(() => (smsc.messages().get('84941000021') ?? []).length === 1, 'TT from a stranger')
    expect(smsc.messages().get('84941000021')![0]).toMatch(/^So nay chua dang ky tram nao/)
  })

  it('TT for more stations than two SMS hold lists what fits and says how many are left', async () => {
    const { smsc, alerter, registry } = await setup('many')
    const ids: string[] = []
    for (let i = 10; i < 22; i++) {
      const id = `CM${i}`
      ids.push(id)
      await registry.add({ id, name: `Trạm Ấp ${i}`, commune: 'Tân Thuận', lat: 8.9, lon: 105.2, zone: 'rice', code: `TA${i}` })
      feed(alerter, id, { salinity: 2.5, ph: 7.1, no2: 0.05 })
    }
    alerter.subscribers.create({ phone: '+84941000030', communes: ['Tân Thuận'] }, Date.now())
    smsc.mo('84941000030', 'TT')
    await waitFor(() => (smsc.messages().get('84941000030') ?? []).length === 1, 'TT reply')
    const text = smsc.messages().get('84941000030')![0]!
    expect(segmentInfo(text).segments).toBe(2)
    const m = /Con (\d+) tram, soan TT <ma tram>\.$/.exec(text)
    expect(m).not.toBeNull()
    const listed = [...text.matchAll(/\b(?:TA\d\d|TT02)\b/g)].length
    expect(listed + Number(m![1])).toBe(ids.length + 1) // + CM05 (TT02) in the same commune
    expect(text).toMatch(/^TT02: chua co so lieu\. TA10 \d\d:\d\d: Man 2,5g\/l \(CANH BAO\), pH 7,1, NO2- 0,05mg\/L\. /)
  })

  it('a monitoring station is staff only: DK is refused with a pointer to TT, and TT shows values without staff levels', async () => {
    const { smsc, alerter } = await setup('monitoring')
    // A monitoring station watching the front carries the 4 ‰ intrusion line as a staff-only override (docs/ALERTS.md).
    alerter.rules.set('CM09', 'salinity', { levels: [{ name: 'intrusion', severity: 'warning', direction: 'above', threshold: 4, notifyFarmers: false }] }, alerter.clock())
    feed(alerter, 'CM09', { salinity: 6.1 })
    expect(alerter.incidents({ open: true })).toHaveLength(1)
    const replies = () => smsc.messages().get('84941000040') ?? []
    smsc.mo('84941000040', 'DK QT01')
    await waitFor(() => replies().length === 1, 'DK reply')
    expect(replies()[0]).toBe('Tram quan trac Cua Lon (QT01) la tram quan trac cua can bo, khong gui canh bao cho ba con. Soan TT QT01 de xem so lieu.')
    expect(alerter.subscribers.byPhone('+84941000040')).toBeUndefined()
    smsc.mo('84941000040', 'TT QT01')
    await waitFor(() => replies().length === 2, 'TT reply')
    expect(replies()[1]).toMatch(/^Tram quan trac Cua Lon \(QT01\) luc \d\d:\d\d \d\d\/\d\d: Do man 6,1g\/l\.$/)
    await waitFor(drained(alerter), 'receipts')
    expect(to('+84941000040')(alerter).every((r) => r.kind === 'reply')).toBe(true)
  })

  it('over the reply cap, a DK during an incident gets neither the reply nor the status', async () => {
    const { smsc, alerter } = await setup('cap', { replyCap: 1 })
    feed(alerter, 'CM04', { salinity: 4.6 })
    smsc.mo('84941000050', 'xin chao')
    await waitFor(() => (smsc.messages().get('84941000050') ?? []).length === 1, 'help reply')
    smsc.mo('84941000050', 'DK SD01')
    await waitFor(() => to('+84941000050')(alerter).length === 3, 'DK rows')
    await waitFor(drained(alerter), 'outbox')
    expect(to('+84941000050')(alerter).slice(1).map((r) => `${r.kind}/${r.status}/${r.reason}`)).toEqual(['reply/suppressed/reply_cap', 'alert/suppressed/reply_cap'])
    expect(smsc.messages().get('84941000050')).toHaveLength(1)
    // The DK itself still counts: the farmer is subscribed and gets the next alerts.
    expect(alerter.subscribers.byPhone('+84941000050')?.stations).toEqual(['CM04'])
  })
})
