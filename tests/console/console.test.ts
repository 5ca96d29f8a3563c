/**
 * The staff console in a real browser (Debian chromium driven by
 * playwright-core) at 1366 px, over the whole platform: embedded broker,
 * ingest, a real influxd, the alerter with its SMPP channel bound to a real
 * SMPP server (tests/alerts/smsc.ts). Each test is one workflow of a staff
 * member's day, in order; the last ones check the read role, CSRF and take a
 * screenshot of every page (tests/console/artifacts, git-ignored).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { StaffAccounts } from '../../api/console/accounts.ts'
import { TokenStore } from '../../api/auth/tokens.ts'
import { eventually, startTestInflux, startTestPlatform, tempDir, type TestInflux, type TestPlatform } from '../helpers/platform.ts'
import { startSmsc, type Smsc } from '../alerts/smsc.ts'
import { stationWithReadings, type Reading } from '../board/pipeline.ts'

const ARTIFACTS = join(import.meta.dirname, 'artifacts')
const DESKTOP = { width: 1366, height: 900 }
const HOUR = 3_600_000
const STAFF = { username: 'nguyen.van.a', password: 'Ca-Mau-2026-kenh' }
const READER = { username: 'tran.thi.b', password: 'chi-xem-thoi-123' }
const FARMER_PHONE = '0912345678'

let tmp: ReturnType<typeof tempDir>
let influx: TestInflux
let tp: TestPlatform
let smsc: Smsc
let browser: Browser
let staffCtx: BrowserContext
let page: Page
const errors: string[] = []
let incidentUrl = ''
/** Destinations the SMSC refuses for now (0x0B ESME_RINVDSTADR: permanent, so the message fails). */
const refused = new Set<string>()

async function shot(p: Page, name: string): Promise<void> {
  await p.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true })
}

async function signIn(p: Page, who: { username: string; password: string }): Promise<void> {
  await p.goto(`${tp.apiUrl}/console`)
  await p.waitForURL(/\/console\/sign-in/)
  await p.fill('#u', who.username)
  await p.fill('#p', who.password)
  await Promise.all([p.waitForURL(/\/console\/stations/), p.click('button[type=submit]')])
}

/** Publishes one reading as a station would (a real MQTT client, QoS 1). */
async function publish(creds: { username: string; password: string }, stationId: string, values: Record<string, number>, ts = Date.now()): Promise<void> {
  const client = await mqtt.connectAsync(tp.mqttUrl, { username: creds.username, password: creds.password, protocolVersion: 4, reconnectPeriod: 0 })
  try {
    await client.publishAsync(`stations/${stationId}/readings`, JSON.stringify({ ts, values }), { qos: 1 })
  } finally {
    await client.endAsync()
  }
}

/** Hourly salinity on the hour for 29 days (one reading per hourly mean): 1 ‰, with three excursions to 5 ‰ and one to 9 ‰. */
function history(): Reading[] {
  const end = Math.floor(Date.now() / HOUR) * HOUR - 2 * HOUR
  const out: Reading[] = []
  const at = (h: number) => (h >= 100 && h <= 102) || (h >= 300 && h <= 301) || h === 500 ? 5 : h >= 600 && h <= 602 ? 9 : 1
  for (let h = 0; h < 29 * 24; h++) out.push({ ts: end - (29 * 24 - h) * HOUR, values: { salinity: at(h) } })
  return out
}

let stationCreds: { username: string; password: string }

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true })
  tmp = tempDir()
  smsc = await startSmsc({ refuse: (to) => ([...refused].some((r) => to.endsWith(r)) ? 0x0b : undefined) })
  influx = await startTestInflux(tmp.dir)
  const configFile = join(tmp.dir, 'config.json')
  writeFileSync(
    configFile,
    JSON.stringify({
      alerts: {
        smsChannel: 'smpp',
        publicSmsNumber: '8088',
        smpp: { enabled: true, host: '127.0.0.1', port: smsc.port, enquireLinkMs: 5_000, responseTimeoutMs: 2_000, reconnectMinMs: 50, reconnectMaxMs: 500 },
        outbox: { retryBaseMs: 20, retryMaxMs: 200 },
      },
    }),
  )
  tp = await startTestPlatform({ dir: tmp.dir, influxUrl: influx.server.url, env: { TIDEWATCH_CONFIG: configFile } })
  const accounts = new StaffAccounts(tp.platform.registry.db)
  await accounts.add(STAFF.username, 'staff', STAFF.password)
  await accounts.add(READER.username, 'read', READER.password)
  // A rice station with 29 days of stored history, for the levels preview.
  await stationWithReadings(tp, { id: 'cm-preview-01', name: 'Kênh Tắc Thủ', lat: 9.2, lon: 105.1, zone: 'rice', commune: 'Hồ Thị Kỷ' }, history())
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
  staffCtx = await browser.newContext({ viewport: DESKTOP })
  page = await staffCtx.newPage()
  page.on('pageerror', (e) => errors.push(String(e)))
  // A station name typed as markup must stay text: any dialog is a script that ran.
  page.on('dialog', (d) => void (errors.push(`dialog: ${d.message()}`), d.dismiss()))
  page.on('console', (m) => {
    // 4xx pages are expected in the error-path steps; only script errors count.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text())
  })
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await tp?.stop()
  await influx?.server.stop()
  await smsc?.close()
  tmp?.cleanup()
})

describe('staff console', () => {
  it('signs in, adds a station with a zone and BĐ levels, and shows its first reading (real MQTT client)', async () => {
    await page.goto(`${tp.apiUrl}/console/stations`)
    await page.waitForURL(/\/console\/sign-in/)
    await shot(page, 'sign-in')
    // A wrong password is refused in Vietnamese, with the code.
    await page.fill('#u', STAFF.username)
    await page.fill('#p', 'sai-mat-khau')
    await page.click('button[type=submit]')
    await expect(page.locator('.msg.err').textContent()).resolves.toContain('Sai tên đăng nhập hoặc mật khẩu')
    await signIn(page, STAFF)
    const cookie = (await staffCtx.cookies()).find((c) => c.name === 'tw_console')!
    expect(cookie.httpOnly).toBe(true)
    expect(cookie.sameSite).toBe('Strict')

    await page.fill('#f-id', 'cm-song-doc-01')
    await page.fill('#f-name', 'Sông Đốc')
    await page.selectOption('#f-zone', 'rice')
    await page.fill('#f-code', 'sd01')
    // Vietnamese decimal commas, as staff type them.
    await page.fill('#f-lat', '9,0425')
    await page.fill('#f-lon', '104,8186')
    await page.fill('#f-commune', 'Sông Đốc')
    // BĐ1–BĐ3 of Sông Đốc, bulletin of 2024-12-16 (docs: FIELD-NOTES): 75/85/95 cm.
    await page.fill('#f-bd1', '75')
    await page.fill('#f-bd2', '85')
    await page.fill('#f-bd3', '95')
    await page.click('fieldset:has(#f-id) button[type=submit]')
    await expect(page.locator('.msg.ok').first().textContent()).resolves.toContain('Đã thêm trạm cm-song-doc-01')
    stationCreds = { username: (await page.locator('[data-credential=username]').textContent())!, password: (await page.locator('[data-credential=password]').textContent())! }
    await shot(page, 'station-created')
    const st = tp.platform.registry.get('cm-song-doc-01')!
    expect(st.zone).toBe('rice')
    expect(st.code).toBe('SD01')
    expect(st.lat).toBeCloseTo(9.0425, 6)

    // The same id again: the API's code, shown in Vietnamese.
    await page.goto(`${tp.apiUrl}/console/stations`)
    await page.fill('#f-id', 'cm-song-doc-01')
    await page.fill('#f-name', 'Trùng')
    await page.fill('#f-lat', '9')
    await page.fill('#f-lon', '105')
    await page.click('fieldset:has(#f-id) button[type=submit]')
    await expect(page.locator('.msg.err').textContent()).resolves.toContain('STATION_EXISTS')
    await expect(page.locator('.msg.err').textContent()).resolves.toContain('Mã trạm này đã có')

    await publish(stationCreds, 'cm-song-doc-01', { salinity: 1.25, water_level: 60 })
    const shown = await eventually(async () => {
      await page.goto(`${tp.apiUrl}/console/stations/cm-song-doc-01`)
      return page.locator('[data-sensor=salinity]').count()
    }, 20_000, 250)
    expect(shown).toBe(1)
    expect(await page.locator('[data-sensor=salinity]').textContent()).toBe('1,25')
    expect(await page.locator('[data-sensor=water_level]').textContent()).toBe('60')
    await shot(page, 'station-detail')
  }, 60_000)

  it("changes a zone's levels, the preview counting the alerts the last 30 days would have raised", async () => {
    await page.goto(`${tp.apiUrl}/console/levels`)
    await shot(page, 'levels')
    await page.click(`a[href="/console/levels/edit?scope=zone%3Arice&sensor=salinity"]`)
    await page.waitForURL(/levels\/edit/)
    const rows = await page.locator('input[name$=".name"]').count()
    const set = async (i: number, v: Record<string, string>) => {
      for (const [k, value] of Object.entries(v)) {
        const sel = `[name="l${i}.${k}"]`
        if ((await page.locator(sel).evaluate((e) => e.tagName)) === 'SELECT') await page.selectOption(sel, value)
        else await page.fill(sel, value)
      }
    }
    await set(0, { name: 'warning', severity: 'warning', direction: 'above', threshold: '4', high: '', clear: '3', clearHigh: '', pendingReadings: '1' })
    await set(1, { name: 'danger', severity: 'danger', direction: 'above', threshold: '8', high: '', clear: '6', clearHigh: '', pendingReadings: '1' })
    for (let i = 2; i < rows; i++) await set(i, { name: '', threshold: '' })
    await page.fill('[name="rise.delta"]', '')

    // Invalid first: a clear value on the wrong side of the threshold is refused by the API's schema.
    await page.fill('[name="l0.clear"]', '5')
    await page.click('button[value=preview]')
    await expect(page.locator('.msg.err').textContent()).resolves.toContain('Ngưỡng chưa hợp lệ')
    await page.fill('[name="l0.clear"]', '3')

    await page.click('button[value=preview]')
    await page.waitForSelector('#preview')
    // 3 excursions to 5 ‰ (warning) and one straight to 9 ‰ (danger) in the stored history.
    expect(await page.locator('[data-preview-station="cm-preview-01"]').textContent()).toBe('4')
    expect(Number(await page.locator('[data-preview-total]').textContent())).toBe(4)
    await shot(page, 'levels-preview')
    await Promise.all([page.waitForURL(/\/console\/levels\?ok=/), page.click('button[value=save]')])
    expect(await page.locator('#zone-rice + table').textContent()).toContain('≥ 8')
    const rule = tp.platform.alerter!.rules.zoneRules('rice').salinity!
    expect(rule.levels.map((l) => [l.name, l.threshold, l.pendingReadings])).toEqual([['warning', 4, 1], ['danger', 8, 1]])
  }, 60_000)

  it('adds a farmer, fires an incident and shows the SMS delivered at the real SMPP server', async () => {
    await page.goto(`${tp.apiUrl}/console/farmers`)
    await page.fill('#f-name', 'Nguyễn Văn Tư')
    await page.fill('#f-phone', FARMER_PHONE)
    await page.fill('#f-stations', 'SD01')
    await page.click('fieldset:has(#f-phone) button[type=submit]')
    await expect(page.locator('.msg.ok').textContent()).resolves.toContain('Đã thêm Nguyễn Văn Tư')
    const sub = tp.platform.alerter!.subscribers.list().find((s) => s.name === 'Nguyễn Văn Tư')!
    expect(sub.stations).toEqual(['cm-song-doc-01'])
    await shot(page, 'farmers')

    await publish(stationCreds, 'cm-song-doc-01', { salinity: 9.4, water_level: 62 })
    await eventually(() => [...smsc.messages().keys()].some((to) => to.endsWith('912345678')), 20_000)
    await page.goto(`${tp.apiUrl}/console/incidents`)
    await page.click('a[href^="/console/incidents/"]')
    incidentUrl = page.url()
    const delivered = await eventually(async () => {
      await page.goto(incidentUrl)
      return page.locator('[data-status=delivered]').count()
    }, 20_000, 250)
    expect(delivered).toBeGreaterThan(0)
    expect(await page.locator('.timeline').textContent()).toContain('Phát cảnh báo')
    await shot(page, 'incident')
    await page.goto(`${tp.apiUrl}/console/outbox`)
    expect(await page.locator('table').first().textContent()).toContain('smpp')
    await shot(page, 'outbox')
  }, 60_000)

  it("shows a farmer's keyword history: TT texted to the real SMSC", async () => {
    smsc.mo('84912345678', 'TT SD01')
    const sub = tp.platform.alerter!.subscribers.list().find((s) => s.name === 'Nguyễn Văn Tư')!
    const seen = await eventually(async () => {
      await page.goto(`${tp.apiUrl}/console/farmers/${sub.id}`)
      return (await page.locator('table').first().textContent())?.includes('TT (hỏi tình hình)')
    }, 20_000, 250)
    expect(seen).toBe(true)
    expect(await page.locator('h1').textContent()).toContain('0912 345 678')
    await shot(page, 'farmer-detail')
  }, 30_000)

  it('retries a failed SMS from the outbox once the gateway accepts the number again', async () => {
    // Someone not subscribed texts TT; the reply is refused by the SMSC as a bad destination: failed.
    refused.add('977654321')
    smsc.mo('84977654321', 'TT SD01')
    const failedId = await eventually(() => (tp.platform.alerter!.messages({ status: 'failed', limit: 10 }) as Array<{ id: number; address: string }>).find((m) => m.address.endsWith('977654321'))?.id, 20_000)
    expect(failedId).toBeGreaterThan(0)
    await page.goto(`${tp.apiUrl}/console/outbox?status=failed`)
    expect(await page.locator('table').last().textContent()).toContain('0x0b')
    await shot(page, 'outbox-failed')
    refused.clear()
    await Promise.all([page.waitForURL(/\/console\/outbox\?ok=/), page.click(`form[action="/console/outbox/${failedId}/retry"] button`)])
    const delivered = await eventually(() => tp.platform.alerter!.messages({ status: 'delivered', limit: 100 }).some((m) => m.id === failedId), 20_000)
    expect(delivered).toBe(true)
    // Retrying a message that is not failed is refused with the code, in Vietnamese.
    const csrf = (await page.locator('input[name=_csrf]').first().getAttribute('value'))!
    const again = await page.request.post(`${tp.apiUrl}/console/outbox/${failedId}/retry`, { form: { _csrf: csrf }, maxRedirects: 0 })
    expect(again.status()).toBe(409)
    expect(await again.text()).toContain('Chỉ gửi lại được tin nhắn đã thất bại')
  }, 60_000)

  it('acknowledges the incident with a note', async () => {
    await page.goto(incidentUrl)
    await page.fill('#note', 'Đã báo UBND xã, đóng cống Sông Đốc')
    await Promise.all([page.waitForURL(/\?ok=/), page.click('fieldset:has(#note) button[type=submit]')])
    const timeline = await page.locator('.timeline').textContent()
    expect(timeline).toContain(`Đã xác nhận bởi ${STAFF.username}`)
    expect(timeline).toContain('đóng cống Sông Đốc')
  }, 30_000)

  it('releases a quarantined reading after fixing the calibration that made it implausible', async () => {
    // A wrong scale (×10) makes pH 7.5 read as 75: refused as VALUE_OUT_OF_RANGE.
    await page.goto(`${tp.apiUrl}/console/stations/cm-song-doc-01`)
    const ph = page.locator('form:has(input[name=kind][value=ph])')
    await ph.locator('[name=scale]').fill('10')
    await Promise.all([page.waitForURL(/\?ok=/), ph.locator('button').click()])
    const ingest = tp.platform.ingest!
    // The ingest caches a station's calibration for about a second: publish until the new scale applies.
    await eventually(async () => {
      await publish(stationCreds, 'cm-song-doc-01', { ph: 7.5 }, Date.now())
      return ingest.quarantine.list({ stationId: 'cm-song-doc-01', reason: 'VALUE_OUT_OF_RANGE' }).length > 0
    }, 20_000, 300)
    const refused = ingest.quarantine.list({ stationId: 'cm-song-doc-01', reason: 'VALUE_OUT_OF_RANGE' })
    const id = refused[refused.length - 1]!.id
    await page.goto(`${tp.apiUrl}/console/quarantine`)
    expect(await page.locator('table').last().textContent()).toContain('Giá trị ngoài khoảng hợp lý')
    await shot(page, 'quarantine')

    // The fix: scale back to 1.
    await page.goto(`${tp.apiUrl}/console/stations/cm-song-doc-01`)
    await page.locator('form:has(input[name=kind][value=ph]) [name=scale]').fill('1')
    await Promise.all([page.waitForURL(/\?ok=/), page.locator('form:has(input[name=kind][value=ph]) button').click()])
    // Released through the ingest; until the cached calibration expires it is refused again and the page says so.
    const released = await eventually(async () => {
      await page.goto(`${tp.apiUrl}/console/quarantine?station=cm-song-doc-01&state=all`)
      const button = page.locator(`form[action="/console/quarantine/${id}/release"] button`)
      if (await button.count()) await button.click()
      return (await page.locator('.msg.ok').count()) > 0
    }, 20_000, 300)
    expect(released).toBe(true)
    expect(await page.locator('.msg.ok').textContent()).toContain(`#${id}`)
    const stored = await eventually(() => influx.values(`"station" = 'cm-song-doc-01'`, ['ph']), 20_000)
    expect(stored).toBeGreaterThanOrEqual(1)
    const [series = []] = await influx.query.query(`SELECT last("ph") FROM "station_reading" WHERE "station" = 'cm-song-doc-01'`)
    expect(series[0]?.values[0]?.[1]).toBe(7.5)

    // Garbage from the station is discarded with a reason, which the page and the audit log keep.
    const client = await mqtt.connectAsync(tp.mqttUrl, { username: stationCreds.username, password: stationCreds.password, protocolVersion: 4, reconnectPeriod: 0 })
    await client.publishAsync('stations/cm-song-doc-01/readings', 'AT+CSQ 17,0 OK', { qos: 1 })
    await client.endAsync()
    const junk = await eventually(() => ingest.quarantine.list({ stationId: 'cm-song-doc-01', reason: 'PAYLOAD_NOT_JSON' })[0]?.id, 20_000)
    await page.goto(`${tp.apiUrl}/console/quarantine`)
    const discard = page.locator(`form[action="/console/quarantine/${junk}/discard"]`)
    await discard.locator('[name=note]').fill('modem in AT mode after a firmware bug; fixed on site')
    await Promise.all([page.waitForURL(/\?ok=/), discard.locator('button').click()])
    await page.goto(`${tp.apiUrl}/console/quarantine?state=handled`)
    expect(await page.locator('[data-handled=discarded]').count()).toBe(1)
  }, 60_000)

  it("lists every change above in the audit log under the person's name", async () => {
    await page.goto(`${tp.apiUrl}/console/audit?actor=${STAFF.username}`)
    const text = (await page.locator('table').textContent())!
    for (const action of ['console.sign_in', 'station.create', 'rule.set', 'subscriber.create', 'outbox.retry', 'incident.ack', 'station.calibrate', 'quarantine.release', 'quarantine.discard']) expect(text, action).toContain(action)
    // The console's form posts add no second, body-only record (the API route they call audits the change).
    expect(text).not.toContain('POST /console')
    const actors = await page.locator('[data-actor]').allTextContents()
    expect(new Set(actors)).toEqual(new Set([STAFF.username]))
    await shot(page, 'audit')
  }, 30_000)

  it('refuses every form action of a read user with 403, and changes nothing', async () => {
    // Every POST form the staff member can see, on every page.
    const actions = new Set<string>()
    for (const path of ['/console/stations', '/console/stations/cm-song-doc-01', '/console/levels', '/console/levels/edit?scope=zone%3Arice&sensor=salinity', '/console/farmers', `/console/farmers/${tp.platform.alerter!.subscribers.list()[0]!.id}`, new URL(incidentUrl).pathname, '/console/outbox', '/console/quarantine?state=all']) {
      await page.goto(`${tp.apiUrl}${path}`)
      for (const a of await page.locator('form[method=post]').evaluateAll((fs) => fs.map((f) => f.getAttribute('action')!))) actions.add(a)
    }
    actions.delete('/console/sign-out')
    expect(actions.size).toBeGreaterThan(10)

    const readerCtx = await browser.newContext({ viewport: DESKTOP })
    const reader = await readerCtx.newPage()
    await signIn(reader, READER)
    expect(await reader.locator('form[method=post]').count()).toBe(1) // sign-out only
    const csrf = (await reader.locator('input[name=_csrf]').first().getAttribute('value'))!
    const auditBefore = tp.platform.registry.db.prepare('SELECT COUNT(*) AS n FROM audit_log').get() as { n: number }
    for (const action of actions) {
      const res = await reader.request.post(`${tp.apiUrl}${action}`, { form: { _csrf: csrf, enabled: 'false', note: 'x', name: 'x', csv: 'id;name\nx;y' }, maxRedirects: 0 })
      expect(res.status(), action).toBe(403)
    }
    const auditAfter = tp.platform.registry.db.prepare('SELECT COUNT(*) AS n FROM audit_log').get() as { n: number }
    expect(auditAfter.n).toBe(auditBefore.n)
    await reader.goto(`${tp.apiUrl}/console/stations`)
    await shot(reader, 'stations-read-only')
    await readerCtx.close()
  }, 60_000)

  it('refuses a change without the CSRF token or with a wrong one', async () => {
    const before = tp.platform.registry.list().length
    const forms: Array<Record<string, string>> = [{ id: 'cm-csrf-01', name: 'x', lat: '9', lon: '105' }, { _csrf: 'forged', id: 'cm-csrf-02', name: 'x', lat: '9', lon: '105' }]
    for (const form of forms) {
      const res = await page.request.post(`${tp.apiUrl}/console/stations`, { form, maxRedirects: 0 })
      expect(res.status()).toBe(403)
      expect(await res.text()).toContain('CONSOLE_CSRF_INVALID')
    }
    expect(tp.platform.registry.list().length).toBe(before)
  }, 30_000)

  it('imports stations from an Excel CSV (";" separators, BOM, decimal commas) and screenshots every page', async () => {
    await page.goto(`${tp.apiUrl}/console/stations`)
    await page.fill('#csv', '\uFEFFid;name;lat;lon;commune;district;zone;code;bd1;bd2;bd3;sensors\r\ncm-nam-can-01;Năm Căn;8,7594;104,9916;Năm Căn;Năm Căn;brackish_aquaculture;NC01;140;150;160;\r\ncm-bad;Thiếu toạ độ;;;;;;;;;;\r\ncm-xss-01;"<script>alert(1)</script> Kênh ""A"" & B";9,1;105,2;<img src=x onerror=alert(2)>;;monitoring;;;;;\r\n')
    await page.click('fieldset:has(#csv) button[type=submit]')
    const result = (await page.locator('h2:has-text("Kết quả nhập CSV") + p + table').textContent())!
    expect(result).toContain('đã thêm')
    expect(result).toContain('BAD_REQUEST')
    expect(tp.platform.registry.get('cm-nam-can-01')?.zone).toBe('brackish_aquaculture')
    expect(tp.platform.registry.get('cm-xss-01')?.name).toBe(`<script>alert(1)</script> Kênh "A" & B`)
    expect(await page.locator('a[href="/console/stations/cm-xss-01"] + .muted').textContent()).toBe(`<script>alert(1)</script> Kênh "A" & B`)
    await shot(page, 'stations-import')

    // Farmers from a commune's list, the same way.
    await page.goto(`${tp.apiUrl}/console/farmers`)
    await page.fill('#fcsv', 'name;phone;communes;stations;lang\r\nLê Thị Năm;0987 111 222;Khánh Hội;NC01;vi\r\nSai số;12345;;;vi\r\n')
    await page.click('fieldset:has(#fcsv) button[type=submit]')
    const imported = (await page.locator('h2:has-text("Kết quả nhập") + table').textContent())!
    expect(imported).toContain('đã thêm')
    expect(imported).toContain('phải là số di động Việt Nam')
    expect(tp.platform.alerter!.subscribers.list().find((s) => s.name === 'Lê Thị Năm')?.stations).toEqual(['cm-nam-can-01'])
    await page.goto(`${tp.apiUrl}/console/farmers?commune=${encodeURIComponent('Khánh Hội')}`)
    expect(await page.locator('table tbody tr').count()).toBe(1)
    await page.goto(`${tp.apiUrl}/console/farmers?q=0987111`)
    expect(await page.locator('table tbody tr').count()).toBe(1)

    for (const [name, path] of [
      ['stations', '/console/stations'],
      ['levels', '/console/levels?station=cm-song-doc-01'],
      ['farmers', '/console/farmers'],
      ['incidents', '/console/incidents'],
      ['outbox', '/console/outbox'],
      ['quarantine', '/console/quarantine?state=all'],
      ['audit', '/console/audit'],
    ] as const) {
      const res = await page.goto(`${tp.apiUrl}${path}`)
      expect(res?.status(), path).toBe(200)
      await shot(page, `page-${name}`)
    }
    expect(errors).toEqual([])
  }, 60_000)

  it('signs in with an API token; revoking the token ends the session at its next request', async () => {
    const tokens = new TokenStore(tp.platform.registry.db)
    const { token, info } = tokens.create('ops-laptop', 'staff')
    const ctx = await browser.newContext({ viewport: DESKTOP })
    const p = await ctx.newPage()
    await p.goto(`${tp.apiUrl}/console/sign-in`)
    await p.fill('#t', token)
    await Promise.all([p.waitForURL(/\/console\/stations/), p.click('button[type=submit]')])
    expect(await p.locator('.who').textContent()).toContain('ops-laptop')
    tokens.revoke(info.id)
    await p.goto(`${tp.apiUrl}/console/farmers?commune=x`)
    expect(p.url()).toContain('/console/sign-in?expired=1')
    // Signing in again returns to the page asked for.
    await p.fill('#u', STAFF.username)
    await p.fill('#p', STAFF.password)
    await Promise.all([p.waitForURL(/\/console\/farmers\?commune=x/), p.click('button[type=submit]')])
    await Promise.all([p.waitForURL(/sign-in/), p.click('.who button')])
    await ctx.close()
  }, 30_000)

  it('marks the session cookie Secure behind a TLS proxy (X-Forwarded-Proto: https)', async () => {
    const form = await fetch(`${tp.apiUrl}/console/sign-in`)
    const pre = /tw_console_pre=([^;]+)/.exec(form.headers.get('set-cookie') ?? '')![1]!
    const res = await fetch(`${tp.apiUrl}/console/sign-in`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `tw_console_pre=${pre}`, 'x-forwarded-proto': 'https' },
      body: new URLSearchParams({ _pre: pre, username: READER.username, password: READER.password }).toString(),
    })
    expect(res.status).toBe(303)
    const session = res.headers.getSetCookie().find((c) => c.startsWith('tw_console='))!
    expect(session).toMatch(/; HttpOnly/)
    expect(session).toMatch(/; SameSite=Strict/)
    expect(session).toMatch(/; Secure/)
    // Without the pre-session token the sign-in form is refused (login CSRF).
    const forged = await fetch(`${tp.apiUrl}/console/sign-in`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=a&password=b' })
    expect(forged.status).toBe(403)
  }, 30_000)

  it('signs out: the session cookie no longer opens a page, and the token minted for it is revoked', async () => {
    await Promise.all([page.waitForURL(/sign-in/), page.click('.who button')])
    await page.goto(`${tp.apiUrl}/console/stations`)
    expect(page.url()).toContain('/console/sign-in')
    const minted = new TokenStore(tp.platform.registry.db).list().filter((t) => t.name === STAFF.username)
    expect(minted.length).toBeGreaterThan(0)
    expect(minted.every((t) => t.revokedAt !== null)).toBe(true)
  }, 30_000)
})
