/**
 * Issue 16, keyword SMS in cluster mode, with nothing faked: a real
 * PostgreSQL 15, a real 3-node NATS JetStream cluster, two `tidewatch
 * alerter` CHILD PROCESSES following PostgreSQL, and a real SMSC
 * (smpp.createServer) that delivers MO as an SMSC does: to a bound ESME,
 * again and again until a deliver_sm_resp with status 0 (tests/alerts/smsc.ts
 * moUntilAcked).
 *
 * A farmer's DK to the cluster is answered by the leading alerter, lands in
 * PostgreSQL before the SMSC gets its acknowledgement, and the next alert
 * reaches the farmer; HUY stops them; the replies are Vietnamese in UCS-2,
 * NFC, once each. A DK sent while the leader is killed waits at the SMSC and
 * is answered by the next leader.
 *
 * The outbox: every message the SMSC got is recorded in PostgreSQL by the
 * leader (after KV, which fences sending), and an API node composed as
 * `tidewatch api` composes it (runPlatform) shows it on GET /alerts/messages
 * and the console's outbox page, where retry is refused in cluster mode.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { jetstream } from '@nats-io/jetstream'
import { Kvm } from '@nats-io/kv'
import { ensureReadingsLog, LogPublisher } from '../../cluster/log/readings-stream.ts'
import { loadConfig } from '../../core/config.ts'
import { silentLogger } from '../../core/log.ts'
import type { AcceptedReading } from '../../core/reading.ts'
import { readingLines } from '../../ingest/points.ts'
import { eventually } from '../helpers/platform.ts'
import { smppConfig } from '../alerts/helpers.ts'
import { alerterWorldPerFile, type AlerterProcess } from './cluster-nodes.ts'

const STATION = 'CM-KW1'
const CODE = 'KW01'
const STREAM = 'TW_KEYWORDS'
const PREFIX = 'tw_keywords'
/** Three farmers, as the SMSC writes their numbers (no '+'). */
const LAN = '84910000301'
const MINH = '84910000302'
const HOA = '84910000303'
const STAFF_TOKEN = 'keyword-sms-cluster-test-token'

describe('keyword SMS in cluster mode: the leading alerter answers, PostgreSQL holds the subscription (issue 16)', () => {
  const world = alerterWorldPerFile('tidewatch-keywords-cluster-')

  it('DK subscribes in PostgreSQL and the next alert reaches the farmer; HUY stops them; one UCS-2 reply each; a DK during a failover waits for the next leader', async () => {
    const { tmp, nats, nc, smsc, repo } = world
    const configFile = join(tmp.dir, 'config.json')
    // Diacritics on and Unicode allowed: the replies go as UCS-2 (docs/ALERTS.md, "Keywords").
    writeFileSync(configFile, JSON.stringify({ alerts: smppConfig(smsc.port, { defaultDiacritics: true }, { useUnicode: true }), cluster: { nats: { stream: STREAM, subjectPrefix: PREFIX, replicas: 3, publishTimeoutMs: 2000 } } }))
    const config = loadConfig({ env: { TIDEWATCH_CONFIG: configFile, TIDEWATCH_DATA_DIR: join(tmp.dir, 'test'), TIDEWATCH_NATS_SERVERS: nats.servers.join(','), TIDEWATCH_NODE_ID: 'test' } })
    await ensureReadingsLog(nc, config, { log: silentLogger, targets: [] })
    await repo.addStation({ id: STATION, name: 'Trạm ruộng lúa Khánh Bình', commune: 'Khánh Bình', lat: 9.07, lon: 104.98, sensors: ['salinity'], code: CODE })

    const spawnOne = (node: string): AlerterProcess => world.alerter(node, configFile)
    const leader = spawnOne('alerter-a')
    expect(await eventually(() => !!leader.logged('took over the alerter lease'), 60_000, 100), 'alerter-a leads').toBe(true)
    const standby = spawnOne('alerter-b')
    expect(await eventually(() => !!standby.logged('alerter node started; waiting for the lease'), 60_000, 100), 'alerter-b stands by').toBe(true)
    // Only the leader binds (channels run during a term): the SMSC has one ESME to deliver MO to.
    expect(await eventually(() => smsc.binds() >= 1, 30_000, 50), 'the leader bound').toBe(true)

    const inPostgres = async (phone: string) => (await repo.listSubscribers()).find((s) => s.phone === `+${phone}`)
    const to = (phone: string): string[] => smsc.messages().get(phone) ?? []
    const subscribed = 'Đã đăng ký nhận cảnh báo trạm Trạm ruộng lúa Khánh Bình (KW01). Soạn TT KW01 để xem số liệu, HUY KW01 để hủy.'

    // DK: acknowledged only once PostgreSQL has the subscription.
    const sentAt = performance.now()
    expect(await smsc.moUntilAcked(LAN, 'đk kw01')).toEqual([0])
    const ackMs = performance.now() - sentAt
    expect((await inPostgres(LAN))?.stations, 'in PostgreSQL when the SMSC got the ack').toEqual([STATION])
    expect(await smsc.moUntilAcked(MINH, 'DK KW01')).toEqual([0])
    expect(await eventually(() => to(LAN).length === 1 && to(MINH).length === 1, 30_000, 50), 'the replies').toBe(true)
    expect(to(LAN)).toEqual([subscribed.normalize('NFC')])
    expect(smsc.submits.filter((s) => s.to === LAN).every((s) => s.dataCoding === 8), 'UCS-2').toBe(true)

    // The incident: the leader sends the warning to both farmers who subscribed by SMS.
    const publisher = new LogPublisher(jetstream(nc), { subjectPrefix: PREFIX, nodeId: 'test-edge', timeoutMs: 5000, maxPayloadBytes: nc.info!.max_payload })
    const publish = async (values: readonly number[], base: number): Promise<void> => {
      for (const [i, v] of values.entries()) {
        const ts = base + i * 60_000
        const r: AcceptedReading = { stationId: STATION, ts, receivedAt: ts + 1000, late: false, values: [{ sensor: 'salinity', value: v, raw: v, flags: [] }] }
        await publisher.publishLines('live', readingLines(r), r.receivedAt)
      }
    }
    // levels/zones.ts RICE_SALINITY: warning at 2 ‰ after two readings past it, danger at 4 ‰.
    await publish([1.0, 1.1, 2.5, 2.6], Date.now() - 6 * 60_000)
    expect(await eventually(() => to(LAN).length > 1 && to(MINH).length > 1, 30_000, 100), 'the warning reached both farmers').toBe(true)
    console.log(`keyword SMS in cluster mode: DK acknowledged ${ackMs.toFixed(1)} ms after delivery; then SMS to the farmer: ${JSON.stringify(to(LAN))}`)

    // HUY: inactive in PostgreSQL before the ack, answered, and no alert after it.
    expect(await smsc.moUntilAcked(LAN, 'Hủy')).toEqual([0])
    expect((await inPostgres(LAN))?.active).toBe(false)
    expect(await eventually(() => to(LAN).at(-1) === 'Đã hủy nhận tất cả cảnh báo. Soạn DK <mã trạm> để đăng ký lại.', 30_000, 50), 'the HUY reply').toBe(true)
    const lanBefore = to(LAN).length
    const minhBefore = to(MINH).length
    await publish([4.5, 4.6], Date.now() - 2 * 60_000)
    expect(await eventually(() => to(MINH).slice(minhBefore).some((t) => /NGUY HIỂM|nguy hiểm/i.test(t)), 30_000, 100), 'the danger reached the farmer still subscribed').toBe(true)
    expect(to(LAN).length, 'nothing after HUY').toBe(lanBefore)

    // Failover: the leader is killed; a DK sent now waits at the SMSC (no ESME bound) and the next leader answers it.
    leader.kill()
    // As if it had died before it ever saved its cursor: the next leader re-reads the whole log
    // (its states in KV are newer than every reading, so it decides nothing again) and answers
    // keyword SMS only once it has reached the log's head (cluster/alerter/node.ts, `caughtUp`).
    const alerterState = await new Kvm(nc).open(`${STREAM.toLowerCase()}-alerter-state`)
    await alerterState.put('cursor.main', '0')
    const outcomes = await smsc.moUntilAcked(HOA, 'DK KW01', { retryMs: 250 })
    expect(outcomes.at(-1)).toBe(0)
    expect(await eventually(() => !!standby.logged('took over the alerter lease'), 30_000, 100), 'alerter-b took over').toBe(true)
    expect(standby.logged('loaded the shared alerter state')?.cursor, 'from the rewound cursor').toBe(0)
    expect(standby.logged('caught up with the readings log at takeover; answering keyword SMS')?.fromCursor, 'caught up before the DK was answered').toBe(0)
    expect((await inPostgres(HOA))?.stations).toEqual([STATION])
    // Hoa subscribed during the danger: the reply and the danger itself, with the value the dead leader saw
    // (alerts/inbound.ts queueCurrentStatus), and the rise warning still open. The outbox sends a few at once,
    // so they reach the SMSC in any order.
    const hoaDanger = (): string | undefined => to(HOA).find((t) => t.startsWith('NGUY HIỂM'))
    expect(await eventually(() => to(HOA).includes(subscribed.normalize('NFC')) && !!hoaDanger(), 30_000, 50), `the reply and the current danger: ${JSON.stringify(to(HOA))}`).toBe(true)
    expect(hoaDanger()).toMatch(/Độ mặn 4,6‰/)
    console.log(`DK during the failover: ${outcomes.length} deliveries (${JSON.stringify(outcomes.slice(0, -1).reduce<Record<string, number>>((n, o) => ({ ...n, [String(o)]: (n[String(o)] ?? 0) + 1 }), {}))} before the ack)`)
    expect(to(HOA).filter((t) => t === subscribed.normalize('NFC')), 'one reply').toHaveLength(1)

    // The outbox in PostgreSQL: every SMS the SMSC took, recorded by the leader that sent it (or the next one).
    const recorded = async (phone: string) => (await repo.outbox.changesSince(0, 0, 10_000)).filter((r) => r.address === `+${phone}`)
    const sentTo = async (phone: string) => (await recorded(phone)).filter((r) => r.status === 'submitted' || r.status === 'delivered')
    for (const phone of [LAN, MINH, HOA]) {
      const matches = await eventually(async () => (await sentTo(phone)).length === to(phone).length, 15_000, 100)
      // Failed once in CI (2026-12-04, Hoa: 3 at the SMSC): say what each side holds.
      const rows = (await recorded(phone)).map((r) => ({ kind: r.kind, status: r.status, text: r.text }))
      expect(matches, `PostgreSQL records the ${to(phone).length} SMS to ${phone}; the SMSC got ${JSON.stringify(to(phone))}; PostgreSQL holds ${JSON.stringify(rows)}`).toBe(true)
    }
    expect((await recorded(LAN)).filter((r) => r.kind === 'reply')).toHaveLength(2)
    // The new leader answers her DK only once it has re-read what its predecessor had not saved
    // (cluster/alerter/node.ts, `caughtUp`): her status comes from no half-way state, and the
    // re-read readings, which arrived before her DK, send her nothing (their keys start `a:`).
    const hoaAlerts = (await recorded(HOA)).filter((r) => r.kind === 'alert')
    expect(hoaAlerts.map((r) => r.dedupe_key.slice(0, 2)), JSON.stringify(hoaAlerts.map((r) => [r.dedupe_key, r.text]))).toEqual(hoaAlerts.map(() => 's:'))

    // An API node shows it: GET /alerts/messages and the console's outbox page.
    const api = await world.api('api-a', STAFF_TOKEN)
    const headers = { authorization: `Bearer ${STAFF_TOKEN}` }
    const listed = async () => ((await (await fetch(`${api}/api/v1/alerts/messages?limit=1000`, { headers })).json()) as { messages: Array<{ id: number; address: string; status: string; kind: string }> }).messages
    expect(await eventually(async () => (await listed()).filter((m) => m.address === `+${HOA}`).length === (await recorded(HOA)).length, 15_000, 100), "the API node lists the cluster's outbox").toBe(true)
    const ids = new Map((await recorded(MINH)).map((r) => [r.id, r.status]))
    expect((await listed()).filter((m) => m.address === `+${MINH}`).map((m) => [m.id, m.status]).sort(), "under PostgreSQL's ids").toEqual([...ids].sort())

    const signIn = await fetch(`${api}/console/sign-in`)
    const pre = /tw_console_pre=([^;]+)/.exec(signIn.headers.getSetCookie().join('\n'))![1]!
    const signedIn = await fetch(`${api}/console/sign-in`, {
      method: 'POST', redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `tw_console_pre=${pre}` },
      body: new URLSearchParams({ _pre: pre, next: '/console/outbox', token: STAFF_TOKEN }).toString(),
    })
    expect(signedIn.status).toBe(303)
    const cookie = `tw_console=${/tw_console=([^;]+)/.exec(signedIn.headers.getSetCookie().join('\n'))![1]}`
    const page = await fetch(`${api}/console/outbox`, { headers: { cookie } })
    const html = await page.text()
    expect(page.status).toBe(200)
    expect(html).toContain('Tin nhắn của cả cụm')
    for (const phone of ['0910 000 301', '0910 000 302', '0910 000 303']) expect(html, `the console lists ${phone}`).toContain(phone)
    // Retry: refused with a stable code; only the leader may send again, under its claim in KV.
    const csrf = /name="_csrf" value="([^"]+)"/.exec(html)![1]!
    const [firstId] = [...ids.keys()]
    const retry = await fetch(`${api}/console/outbox/${firstId}/retry`, { method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: csrf }).toString() })
    expect(retry.status).toBe(501)
    expect(await retry.text()).toMatch(/CLUSTER_MODE_UNSUPPORTED|cụm/)
  }, 240_000)
})
