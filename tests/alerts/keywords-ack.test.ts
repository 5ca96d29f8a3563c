import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { createAlerter, type Alerter } from '../../alerts/alerter.ts'
import { localSubscriberWriter, type SubscriberWriter } from '../../alerts/subscribers.ts'
import { TidewatchError } from '../../core/errors.ts'
import { silentLogger } from '../../core/log.ts'
import { Registry } from '../../devices/registry.ts'
import { startSmsc, waitFor, type Smsc } from './smsc.ts'
import { smppConfig, tempDir } from './helpers.ts'

/** SMPP 3.4 §5.1.3 ESME_RX_T_APPN: the ESME could not take the message now; the SMSC delivers it again. */
const ESME_RX_T_APPN = 0x64

/**
 * A keyword SMS is acknowledged (deliver_sm_resp 0) only once the change it
 * asks for and its reply are committed; until then the ESME answers with a
 * temporary error and the SMSC delivers it again. Real SMPP server
 * (smpp.createServer) redelivering as an SMSC does, real SQLite; the
 * subscriber store that is unreachable at first is a stand-in for
 * PostgreSQL (the cluster test, tests/cluster/keyword-sms-cluster.test.ts,
 * runs the real one).
 */
describe('keyword SMS are acknowledged only once committed', () => {
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

  it('with the subscriber store unreachable (stand-in writer) the DK is refused with ESME_RX_T_APPN, delivered again, then subscribes and is answered once in Vietnamese (UCS-2, NFC)', async () => {
    smsc = await startSmsc()
    registry = Registry.open(join(tmp.dir, 'ack.db'))
    await registry.add({ id: 'CM04', name: 'Trạm Sông Đốc', commune: 'Sông Đốc', lat: 9.04, lon: 104.83, zone: 'rice', code: 'SD01' })
    let unreachable = 2
    let writes = 0
    const holder: { local?: SubscriberWriter } = {}
    const flaky: SubscriberWriter = {
      create: async (input, now) => {
        if (unreachable-- > 0) throw new TidewatchError('POSTGRES_UNAVAILABLE', {}, 'stand-in: PostgreSQL out of reach')
        writes++
        return holder.local!.create(input, now)
      },
      update: async (id, patch, now) => holder.local!.update(id, patch, now),
      remove: async (id) => holder.local!.remove(id),
    }
    alerter = await createAlerter({ db: registry.db, registry, config: smppConfig(smsc.port, { defaultDiacritics: true }, { useUnicode: true }), log: silentLogger, subscriberWriter: flaky })
    holder.local = localSubscriberWriter(alerter.subscribers)
    await alerter.start()
    await waitFor(() => alerter!.channels.get('smpp')!.ready(), 'bind')

    const outcomes = await smsc.moUntilAcked('84941000011', 'DK SD01', { retryMs: 50 })
    expect(outcomes).toEqual([ESME_RX_T_APPN, ESME_RX_T_APPN, 0])
    expect(writes).toBe(1)
    expect(alerter.subscribers.byPhone('+84941000011')?.stations).toEqual(['CM04'])

    // The same SMS delivered again (the ack lost on the way): nothing written, answered again.
    expect(await smsc.moUntilAcked('84941000011', 'DK SD01')).toEqual([0])
    expect(writes).toBe(1)
    const replies = () => smsc!.messages().get('84941000011') ?? []
    await waitFor(() => replies().length === 2, 'two replies')
    const expected = 'Đã đăng ký nhận cảnh báo trạm Trạm Sông Đốc (SD01). Soạn TT SD01 để xem số liệu, HUY SD01 để hủy.'
    expect(replies()).toEqual([expected.normalize('NFC'), expected.normalize('NFC')])
    expect(smsc.submits.filter((s) => s.to === '84941000011').every((s) => s.dataCoding === 8)).toBe(true)
    // One reply per acknowledged SMS: the refused deliveries left nothing behind.
    expect(registry.db.prepare("SELECT COUNT(*) AS n FROM alert_outbox WHERE kind = 'reply'").get()).toEqual({ n: 2 })
    expect(registry.db.prepare('SELECT COUNT(*) AS n FROM alert_inbound').get()).toEqual({ n: 2 })
  }, 60_000)
})
