/**
 * One source of truth for levels (issue 11, part 4), against real servers:
 * influxd, the embedded broker, ingest, alerter, API, Debian chromium. The
 * board, the station pages, the daily summaries, the open data and the
 * Grafana level lines all follow the rule in force for each station (station
 * override, zone, built-in: levels/book.ts) and the alerter's state.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { renderDashboards } from '../../dashboards/build.ts'
import { alarmLevelsRule } from '../../levels/zones.ts'
import { expandQuery } from '../dashboards/grafana-macros.ts'
import { startTestInflux, startTestPlatform, tempDir, type TestInflux, type TestPlatform } from '../helpers/platform.ts'
import { localDateOf, localTime, stationWithReadings, type Reading } from './pipeline.ts'

const ARTIFACTS = join(import.meta.dirname, 'artifacts')
const HOUR = 3_600_000
const DAY = 86_400_000
const SMS_NUMBER = '0912345678'
/** A complete local day three days ago (inside the ingest's max age). */
const D = localDateOf(Date.now() - 3 * DAY)

let tmp: ReturnType<typeof tempDir>
let influx: TestInflux
let tp: TestPlatform
let browser: Browser

/** Hourly values over the last `hours`, the newest 5 minutes ago (older than the alerter's 30 min are not evaluated). */
function hourly(hours: number, values: (i: number) => Record<string, number>): Reading[] {
  const end = Date.now() - 5 * 60_000
  const out: Reading[] = []
  for (let i = hours - 1; i >= 0; i--) out.push({ ts: end - i * HOUR, values: values(i) })
  return out
}

/** Day D at a constant salinity, every hour. */
function dayAt(salinity: number): Reading[] {
  return Array.from({ length: 24 }, (_, h) => ({ ts: localTime(D, h, 30), values: { salinity } }))
}

const at = { lat: 9.1, lon: 105.1 }

async function boardRow(page: Page, id: string) {
  const row = page.locator(`tr[data-station="${id}"]`)
  const badge = row.locator('.lv')
  return {
    level: await row.getAttribute('data-level'),
    text: await badge.textContent(),
    bg: await badge.evaluate((el) => getComputedStyle(el).backgroundColor),
  }
}

async function json(path: string, token?: string): Promise<any> {
  const res = await fetch(`${tp.apiUrl}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} })
  expect(res.status, path).toBe(200)
  return res.json()
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true })
  tmp = tempDir()
  influx = await startTestInflux(tmp.dir)
  const configFile = join(tmp.dir, 'config.json')
  writeFileSync(configFile, JSON.stringify({ alerts: { publicSmsNumber: SMS_NUMBER } }))
  tp = await startTestPlatform({ dir: tmp.dir, influxUrl: influx.server.url, env: { TIDEWATCH_CONFIG: configFile } })
  // (c) The same canal water judged by what it is used for.
  await stationWithReadings(tp, { id: 'cm-l-shrimp', name: 'Ao tôm Tân Ân', zone: 'brackish_aquaculture', code: 'TOM01', ...at }, hourly(24, (i) => ({ salinity: 18 + (i % 3) / 10 })))
  await stationWithReadings(tp, { id: 'cm-l-rice', name: 'Ruộng lúa Thới Bình', zone: 'rice', code: 'LUA01', ...at }, hourly(24, (i) => ({ salinity: i === 0 ? 4.2 : 1 + (i % 4) / 4 })))
  // A coastal monitoring station has no salinity level by default (levels/zones.ts): a value, no judgment, no farmer SMS.
  await stationWithReadings(tp, { id: 'cm-l-mon', name: 'Trạm ven biển Gành Hào', zone: 'monitoring', ...at }, hourly(3, () => ({ salinity: 25 })))
  // (a) A brackish pond at 12 ‰: normal for shrimp until staff set a stricter override.
  await stationWithReadings(tp, { id: 'cm-l-ovr', name: 'Ao nuôi Đầm Dơi', zone: 'brackish_aquaculture', ...at }, [...dayAt(12), ...hourly(24, () => ({ salinity: 12 }))])
  // BĐ1–3 of the Cà Mau city gauge (65/75/85 cm, bulletin of 2024-12-16), set as the station's water-level rule.
  await stationWithReadings(
    tp,
    { id: 'cm-l-gauge', name: 'Trạm TP Cà Mau', zone: 'rice', code: 'CM01', ...at },
    hourly(7 * 24, (i) => ({ salinity: 0.6, water_level: i === 0 ? 80 : Math.round(60 * Math.sin(i / 2)), no2: 0.1 })),
  )
  tp.platform.alerter!.rules.set('cm-l-gauge', 'water_level', alarmLevelsRule({ bd1: 65, bd2: 75, bd3: 85 }), Date.now())
  expect(await tp.platform.ingest!.drained()).toBe(true)
  tp.platform.alerter!.flush()
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
})

afterAll(async () => {
  await browser?.close()
  await tp?.stop()
  await influx?.server.stop()
  tmp?.cleanup()
})

describe('levels by zone on the board', () => {
  it('(c) shows a brackish shrimp pond at 18 ‰ as normal and a rice field at 4.2 ‰ in danger, with their zones in words', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 })
    await page.goto(`${tp.apiUrl}/`)
    expect(await boardRow(page, 'cm-l-shrimp')).toEqual({ level: 'ok', text: 'Bình thường', bg: 'rgb(220, 242, 227)' })
    expect(await boardRow(page, 'cm-l-rice')).toEqual({ level: 'danger', text: 'Nguy hiểm', bg: 'rgb(179, 38, 30)' })
    expect(await page.textContent('tr[data-station="cm-l-shrimp"] .zone')).toBe('Vùng nuôi tôm nước lợ')
    expect(await page.textContent('tr[data-station="cm-l-rice"] .zone')).toBe('Vùng trồng lúa')
    expect((await boardRow(page, 'cm-l-mon')).level).toBe('unrated')
    expect(await page.textContent('tr[data-station="cm-l-mon"] .lv')).toBe('Chỉ quan trắc')
    // Monitoring only is counted nowhere: 1 danger (rice), 3 normal (shrimp, override pond, gauge).
    expect(await page.textContent('#summary')).toBe('1 trạm nguy hiểm · 0 trạm cảnh báo · 3 trạm bình thường')
    // The home page says how to subscribe, with the number staff configured.
    expect(await page.textContent('#sms')).toContain(SMS_NUMBER)
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    await page.screenshot({ path: join(ARTIFACTS, 'levels-board-vi.png'), fullPage: true })
    await page.goto(`${tp.apiUrl}/?lang=en`)
    expect(await page.textContent('tr[data-station="cm-l-shrimp"] .zone')).toBe('Brackish-water shrimp farming')
    expect(await page.textContent('tr[data-station="cm-l-rice"] .lv')).toBe('Danger')
    await page.goto(`${tp.apiUrl}/stations/cm-l-mon?lang=en`)
    expect(await page.textContent('#sms')).toContain('staff only')
    expect(await page.locator('div[data-sensor="salinity"] .lv').count()).toBe(0)
    await page.close()
  })

  it('(c) open data agrees: level by each station’s rule, the rule published with the station', async () => {
    const doc = await json('/open/v1/stations')
    const byId = new Map(doc.stations.map((s: { id: string }) => [s.id, s]))
    const shrimp: any = byId.get('cm-l-shrimp')
    const rice: any = byId.get('cm-l-rice')
    expect(shrimp.zone).toBe('brackish_aquaculture')
    expect(shrimp.code).toBe('TOM01')
    expect(shrimp.latest.salinity.level).toBe('ok')
    expect(rice.latest.salinity).toMatchObject({ value: 4.2, level: 'danger', levelName: 'danger' })
    expect(shrimp.levels.salinity.levels.map((l: { name: string; threshold: number; high?: number }) => [l.name, l.threshold, l.high])).toEqual([
      ['warning', 5, 35],
      ['danger', 2, 40],
    ])
    const geo = await json('/api/v1/open/stations.geojson')
    const feature = geo.features.find((f: { id: string }) => f.id === 'cm-l-rice')
    expect(feature.properties.zone).toBe('rice')
    expect(feature.properties.latest.salinity).toMatchObject({ value: 4.2, level: 'danger' })
  })

  it('names the official alarm level reached (BĐ2) and draws BĐ1–BĐ3 on the water-level chart; the API carries zone, code and alarm levels', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 })
    await page.goto(`${tp.apiUrl}/stations/cm-l-gauge`)
    expect(await page.textContent('div[data-sensor="water_level"] .lv')).toBe('Cảnh báo · BĐ2')
    expect(await page.locator('section[data-sensor="water_level"] line.threshold').count()).toBe(3)
    expect(await page.locator('section[data-sensor="water_level"] svg text').allTextContents()).toEqual(expect.arrayContaining(['65 cm BĐ1', '75 cm BĐ2', '85 cm BĐ3']))
    // Nitrite's basis is stated: the ion NO2⁻, not N.
    expect(await page.textContent('section[data-sensor="no2"] h2')).toBe('Nitrit (mg/L NO2⁻)')
    // How to subscribe: the code to type, the number, a sample worded by the alerter's templates.
    expect(await page.textContent('#sms .code')).toBe('DK CM01')
    expect(await page.textContent('#sms')).toContain(SMS_NUMBER)
    expect(await page.textContent('#sms blockquote')).toMatch(/Tram TP Ca Mau/)
    expect(await page.textContent('#zone')).toBe('Vùng: Vùng trồng lúa')
    await page.screenshot({ path: join(ARTIFACTS, 'levels-station-gauge-vi.png'), fullPage: true })
    await page.close()
    const api = await json('/api/v1/stations/cm-l-gauge', tp.adminToken)
    expect(api).toMatchObject({ zone: 'rice', code: 'CM01', alarmLevels: { bd1: 65, bd2: 75, bd3: 85 } })
    expect((await json('/api/v1/stations/cm-l-rice', tp.adminToken)).alarmLevels).toBeNull()
  })
})

describe('(a) a station override moves everything at once', () => {
  it('board colour, chart lines, open data, daily summary hours and the levels measurement with its dashboard query', async () => {
    let page = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 })
    await page.goto(`${tp.apiUrl}/`)
    expect((await boardRow(page, 'cm-l-ovr')).level).toBe('ok')
    const before = await json(`/open/v1/stations/cm-l-ovr/daily.json?from=${D}&to=${D}`)
    expect(before.days[0].sensors.salinity).toMatchObject({ hoursWithData: 24, hoursWarning: 0, hoursDanger: 0 })

    // The writer's minute check, run now: the brackish band is in InfluxDB before the override.
    expect(await tp.platform.levels!.tick()).toBeGreaterThan(0)
    const overrideAt = Date.now() + 1
    await new Promise((r) => setTimeout(r, 2))
    tp.platform.alerter!.rules.set('cm-l-ovr', 'salinity', { levels: [{ name: 'warning', severity: 'warning', direction: 'above', threshold: 10 }] }, overrideAt)

    // A fresh browser: the board may be cached for 30 s (BOARD_CACHE_CONTROL), a reload revalidates.
    await page.close()
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 })
    page = await ctx.newPage()
    await page.goto(`${tp.apiUrl}/`)
    expect(await boardRow(page, 'cm-l-ovr')).toEqual({ level: 'warning', text: 'Cảnh báo', bg: 'rgb(255, 241, 194)' })
    await page.goto(`${tp.apiUrl}/stations/cm-l-ovr`)
    expect(await page.locator('section[data-sensor="salinity"] line.threshold').count()).toBe(1)
    expect(await page.locator('section[data-sensor="salinity"] svg text').allTextContents()).toContain('10 ‰ cảnh báo')
    await page.screenshot({ path: join(ARTIFACTS, 'levels-station-override-vi.png'), fullPage: true })
    await ctx.close()

    const after = await json(`/open/v1/stations/cm-l-ovr/daily.json?from=${D}&to=${D}`)
    expect(after.days[0].sensors.salinity).toMatchObject({ hoursWithData: 24, hoursWarning: 24, hoursDanger: 0 })
    expect(after.levels.salinity.levels).toEqual([{ name: 'warning', severity: 'warning', direction: 'above', threshold: 10 }])
    const csv = await (await fetch(`${tp.apiUrl}/open/v1/stations/cm-l-ovr/daily.csv?from=${D}&to=${D}`)).text()
    expect(csv).toContain(`cm-l-ovr,Ao nuôi Đầm Dơi,${D},salinity,‰,12,12,12,24,24,24,0`)
    const open = await json('/open/v1/stations')
    expect(open.stations.find((s: { id: string }) => s.id === 'cm-l-ovr').latest.salinity.level).toBe('warning')

    // (d) The platform's writer puts the new set into InfluxDB (it checks every minute; tick() runs that check now).
    expect(await tp.platform.levels!.tick()).toBeGreaterThan(0)
    const [series = []] = await influx.query.query(
      `SELECT last("value") FROM "levels" WHERE "station" = 'cm-l-ovr' AND "sensor" = 'salinity' AND time >= ${overrideAt}ms GROUP BY "level", "edge", "severity"`,
    )
    expect(series.map((s) => [s.tags, s.values[0]![1]])).toEqual([[{ edge: 'limit', level: 'warning', severity: 'warning' }, 10]])

    // The station dashboard's salinity panel query, with Grafana's macros expanded, returns the override's line.
    const station = renderDashboards().find((d) => d.uid === 'tidewatch-station')!
    const panel = (station.model.panels as Array<{ title: string; interval?: string; targets: Array<{ refId: string; query: string }> }>).find((p) => p.title === 'Độ mặn')!
    const q = expandQuery(panel.targets.find((t) => t.refId === 'L')!.query, {
      range: { from: Date.now() - DAY, to: Date.now() + 60_000 },
      vars: { station: { value: 'cm-l-ovr', multi: false, includeAll: false } },
      resolution: 960,
      minInterval: panel.interval,
    })
    const [lines = []] = await influx.query.query(q)
    const latestOf = (tags: Record<string, string>) => {
      const s = lines.find((x) => Object.entries(tags).every(([k, v]) => x.tags?.[k] === v))
      const rows = (s?.values ?? []).filter((r) => r[1] !== null)
      return rows.at(-1)
    }
    expect(latestOf({ level: 'warning', edge: 'limit' })?.[1]).toBe(10)
    expect(latestOf({ level: 'warning', edge: 'high' })?.[1]).toBe(35)
    // The brackish band it replaced gets no point after the override: its dashed line ends there (fill(none), spanNulls).
    const [band = []] = await influx.query.query(`SELECT last("value") FROM "levels" WHERE "station" = 'cm-l-ovr' AND "sensor" = 'salinity' AND "edge" = 'high'`)
    expect(band[0]!.values[0]![0] as number).toBeLessThan(overrideAt)
  })
})

describe('(b) the board follows the alert state', () => {
  let station: MqttClient
  // Live readings: within the ingest's late limit (15 min), so the alerter evaluates them.
  let t = Date.now() - 4 * 60_000
  const send = async (salinity: number) => {
    t += 30_000
    await station.publishAsync('stations/cm-l-inc/readings', JSON.stringify({ ts: t, values: { salinity } }), { qos: 1 })
    // The alerter evaluates what the ingest accepted; flush() runs the queue now instead of on its timer.
    tp.platform.alerter!.flush()
  }
  const openIncidents = () =>
    tp.platform.registry.db.prepare(`SELECT count(*) FROM alert_incidents WHERE station = 'cm-l-inc' AND closed_at IS NULL`).pluck().get() as number
  const boardLevel = async () => {
    const html = await (await fetch(`${tp.apiUrl}/`)).text()
    return /<tr class="row-\w+" data-station="cm-l-inc" data-level="(\w+)"/.exec(html)?.[1]
  }

  beforeAll(async () => {
    const creds = await tp.platform.registry.add({ id: 'cm-l-inc', name: 'Cống Cái Tàu', zone: 'rice', ...at })
    station = await mqtt.connectAsync(tp.mqttUrl, { username: creds.username, password: creds.password, protocolVersion: 4, reconnectPeriod: 0 })
  })
  afterAll(async () => {
    await station?.endAsync()
  })

  it('holds danger while the incident is open (hysteresis, as the SMS) and stops showing it the moment it resolves', async () => {
    await send(5)
    await send(5.2)
    expect(openIncidents()).toBe(1)
    expect(await boardLevel()).toBe('danger')
    // 3.8 ‰ alone would be a warning, but the danger incident clears only below 3.6 ‰ (levels/zones.ts).
    await send(3.8)
    expect(openIncidents()).toBe(1)
    expect(await boardLevel()).toBe('danger')
    // Back to 1 ‰: the incident resolves, and the very next page is normal, whether or not InfluxDB has the value yet.
    await send(1)
    expect(openIncidents()).toBe(0)
    expect(await boardLevel()).toBe('ok')
    expect(await tp.platform.ingest!.drained()).toBe(true)
    expect(await boardLevel()).toBe('ok')
    const page = await browser.newPage({ viewport: { width: 1024, height: 900 } })
    await page.goto(`${tp.apiUrl}/stations/cm-l-inc?lang=en`)
    expect(await page.textContent('div[data-sensor="salinity"] .lv')).toBe('Normal')
    await page.close()
  })
})

describe('board size', () => {
  it('stays small for a phone on 3G', async () => {
    const home = await (await fetch(`${tp.apiUrl}/`)).text()
    const station = await (await fetch(`${tp.apiUrl}/stations/cm-l-gauge`)).text()
    // Only the map and refresh scripts, same-origin files outside the page's bytes (board.test.ts checks them).
    expect(home.match(/<script[^>]*>/g)?.every((t) => /^<script src="\/static\/[a-z-]+\.js" defer>$/.test(t))).toBe(true)
    expect(Buffer.byteLength(home)).toBeLessThan(30 * 1024)
    // Every chart point carries its hover title now (tests/board/board.test.ts).
    expect(Buffer.byteLength(station)).toBeLessThan(60 * 1024)
  })
})
