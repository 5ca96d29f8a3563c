/**
 * The public board in a real browser (Debian chromium driven by
 * playwright-core) at 390 px (a phone) and 1366 px (an office screen), from
 * data that came through the whole pipeline: MQTT broker, ingest, influxd,
 * API. OpenStreetMap's tile servers cannot be reached from here: tile
 * requests are answered with a blank local PNG ("tiles faked") or refused
 * ("tiles blocked", the fallback the board must survive).
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Credentials } from '../../devices/registry.ts'
import { startTestInflux, startTestPlatform, tempDir, type TestInflux, type TestPlatform } from '../helpers/platform.ts'
import { stationWithReadings, type Reading } from './pipeline.ts'

const ARTIFACTS = join(import.meta.dirname, 'artifacts')
const HOUR = 3_600_000
const XSS_NAME = `<script>alert(1)</script> Kênh "A" & 'B'`
const TILE_HOST = 'tile.openstreetmap.org'
/** A 1×1 light grey PNG: stands in for every OSM tile (no internet here). */
const BLANK_TILE = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4//8/AAX+Av4N70a4AAAAAElFTkSuQmCC', 'base64')
const PHONE = { width: 390, height: 844 }
const DESKTOP = { width: 1366, height: 900 }
/** Marker fills by level (static/board-map.js COLORS). */
const MARKER = { danger: '#b3261e', warning: '#d4a72c', ok: '#1a7f37', none: '#8c959f' }

let tmp: ReturnType<typeof tempDir>
let influx: TestInflux
let tp: TestPlatform
let browser: Browser
let okCreds: Credentials

/** Hourly readings over the last `hours`, ending 5 minutes ago with `last`. */
function hourly(hours: number, salinity: (i: number) => number, last: number, extra?: (i: number) => Record<string, number>): Reading[] {
  const end = Date.now() - 5 * 60_000
  const out: Reading[] = []
  for (let i = hours - 1; i >= 1; i--) out.push({ ts: end - i * HOUR, values: { salinity: salinity(i), ...extra?.(i) } })
  out.push({ ts: end, values: { salinity: last, ...extra?.(0) } })
  return out
}

/** A browser context whose tile requests are faked (blank PNG) or refused; console errors and page errors collected. */
async function open(viewport: { width: number; height: number }, opts: { tiles?: 'fake' | 'blocked'; js?: boolean } = {}): Promise<{ ctx: BrowserContext; page: Page; errors: string[]; tileRequests: () => number }> {
  const ctx = await browser.newContext({ viewport, deviceScaleFactor: viewport.width < 500 ? 2 : 1, javaScriptEnabled: opts.js ?? true, hasTouch: viewport.width < 500 })
  let tiles = 0
  await ctx.route(`**://${TILE_HOST}/**`, (route) => {
    tiles++
    return opts.tiles === 'blocked' ? route.abort('blockedbyclient') : route.fulfill({ status: 200, contentType: 'image/png', body: BLANK_TILE })
  })
  const page = await ctx.newPage()
  const errors: string[] = []
  page.on('console', (m) => {
    // A refused tile is logged by Chromium itself ("Failed to load resource"): that is the case under test, not a page error.
    if (m.type() === 'error' && !(opts.tiles === 'blocked' && m.location().url.includes(TILE_HOST))) errors.push(m.text())
  })
  page.on('pageerror', (e) => errors.push(String(e)))
  page.on('dialog', (d) => void (errors.push(`dialog: ${d.message()}`), d.dismiss()))
  return { ctx, page, errors, tileRequests: () => tiles }
}

/** WCAG 2.x contrast ratio of two CSS rgb() colours. */
function contrast(a: string, b: string): number {
  const lum = (c: string) => {
    const [r, g, bl] = c.match(/\d+(\.\d+)?/g)!.slice(0, 3).map((x) => Number(x) / 255).map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4))
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * bl!
  }
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x)
  return (hi! + 0.05) / (lo! + 0.05)
}

const markerFill = (page: Page, id: string) => page.locator(`#map path[data-station="${id}"]`).getAttribute('fill')

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true })
  tmp = tempDir()
  influx = await startTestInflux(tmp.dir)
  tp = await startTestPlatform({ dir: tmp.dir, influxUrl: influx.server.url })
  // Real places of the province, so the screenshots read like the board.
  okCreds = await stationWithReadings(tp, { id: 'cm-b-ok', name: 'Rạch Gốc', commune: 'Xã Tân Ân', district: 'Huyện Ngọc Hiển', lat: 8.64, lon: 105.03 }, hourly(24, (i) => 0.8 + (i % 5) / 10, 1.1))
  await stationWithReadings(tp, { id: 'cm-b-warn', name: 'Cống Tắc Thủ', commune: 'Xã Hồ Thị Kỷ', district: 'Huyện Thới Bình', lat: 9.25, lon: 105.13 }, hourly(24, (i) => 1.5 + (i % 4) / 4, 2.6))
  // Seven days of all four parameters for the station page; a water level that moves 10 cm only (the 10/10/11 axis).
  await stationWithReadings(
    tp,
    { id: 'cm-b-danger', name: 'Cái Đôi Vàm', commune: 'Xã Cái Đôi Vàm', district: 'Huyện Phú Tân', lat: 8.86, lon: 104.83 },
    hourly(31 * 24, (i) => 3 + 2 * Math.sin(i / 6), 5.3, (i) => ({ water_level: Math.round(100 + 5 * Math.sin(i / 2)), ph: 7.2 + 0.3 * Math.cos(i / 8), no2: 0.3 + (i % 12) / 12 })),
  )
  await stationWithReadings(tp, { id: 'cm-b-xss', name: XSS_NAME, commune: '<b>bold</b>', lat: 9.18, lon: 105.15 }, hourly(3, () => 0.5, 0.5))
  for (let n = 1; n <= 16; n++) {
    const id = `cm-b-f${String(n).padStart(2, '0')}`
    const at = { lat: 9.0 + (n % 4) * 0.12, lon: 104.95 + Math.floor(n / 4) * 0.1 }
    await stationWithReadings(tp, { id, name: `Trạm kênh số ${n}`, commune: `Xã ${n}`, district: 'Huyện Đầm Dơi', ...at }, hourly(24, (i) => (n % 7) * 0.8 + (i % 6) / 10, (n % 7) * 0.8))
  }
  await tp.platform.registry.add({ id: 'cm-b-nodata', name: 'Trạm mới lắp', lat: 9.45, lon: 105.5 })
  // A conductivity probe only: the ingest derives salinity with PSS-78. 10 mS/cm at 28 °C is about 5.4 ‰.
  const cond: Reading[] = []
  for (let i = 47; i >= 0; i--) cond.push({ ts: Date.now() - 5 * 60_000 - i * HOUR, values: { conductivity: 10 + (i % 6) / 5, temperature: 28 } })
  await stationWithReadings(tp, { id: 'cm-b-cond', name: 'Vàm Gành Hào', district: 'Huyện Đầm Dơi', lat: 9.03, lon: 105.4, sensors: ['conductivity', 'temperature'] }, cond)
  expect(await tp.platform.ingest!.drained()).toBe(true)
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

describe('board in chromium', () => {
  it('at 390 px: Vietnamese, dangerous first and no-data last, badge colours with ≥ 4.5:1 contrast, the map above the list (tiles faked)', async () => {
    const { ctx, page, errors, tileRequests } = await open(PHONE, { tiles: 'fake' })
    const res = await page.goto(`${tp.apiUrl}/`)
    expect(res?.status()).toBe(200)
    expect(await page.getAttribute('html', 'lang')).toBe('vi')
    expect(await page.textContent('h1')).toBe('Độ mặn kênh rạch Cà Mau')
    const rows = page.locator('#stations tbody tr')
    expect(await rows.count()).toBe(22)
    const levels = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-level')))
    const rank = { danger: 0, warning: 1, ok: 2, unrated: 3, none: 4 } as Record<string, number>
    expect(levels.map((l) => rank[l!])).toEqual([...levels.map((l) => rank[l!])].sort((a, b) => a - b))
    expect(levels[0]).toBe('danger')
    expect(levels.at(-1)).toBe('none')
    expect(await rows.last().getAttribute('data-station')).toBe('cm-b-nodata')

    const row = (id: string) => page.locator(`tr[data-station="${id}"]`)
    const cases = [
      { id: 'cm-b-ok', level: 'ok', label: 'Bình thường', value: '1,1 ‰' },
      { id: 'cm-b-warn', level: 'warning', label: 'Cảnh báo', value: '2,6 ‰' },
      { id: 'cm-b-danger', level: 'danger', label: 'Nguy hiểm', value: '5,3 ‰' },
    ] as const
    for (const c of cases) {
      expect(await row(c.id).getAttribute('data-level')).toBe(c.level)
      const badge = row(c.id).locator('.lv')
      expect(await badge.textContent()).toBe(c.label)
      expect(await row(c.id).locator('td.num').textContent()).toContain(c.value)
      // The age of every value.
      expect(await row(c.id).locator('time').textContent()).toMatch(/^(\d+ phút trước|vừa xong)$/)
      expect(await row(c.id).locator('svg.spark path').getAttribute('d')).toMatch(/^M[\d.]+ [\d.]+(L[\d.]+ [\d.]+){10,}/)
    }
    // Contrast of every badge, computed from the colours the browser paints (WCAG AA: 4.5:1 for normal text).
    for (const level of ['ok', 'warning', 'danger', 'none']) {
      const c = await page.locator(`.lv[data-level="${level}"]`).first().evaluate((el) => ({ bg: getComputedStyle(el).backgroundColor, fg: getComputedStyle(el).color }))
      expect(contrast(c.fg, c.bg), level).toBeGreaterThanOrEqual(4.5)
    }
    expect(await row('cm-b-nodata').locator('.lv').textContent()).toBe('Không có số liệu')
    // Fillers n = 1..16 at (n % 7) * 0.8 ‰: four in danger, four at warning, eight normal; the derived 5.4 ‰ is in danger too.
    expect(await page.textContent('#summary')).toBe('6 trạm nguy hiểm · 5 trạm cảnh báo · 10 trạm bình thường')
    // Staff-typed names are text, never markup.
    expect(await row('cm-b-xss').locator('a').textContent()).toBe(XSS_NAME)
    expect(await row('cm-b-xss').locator('b').count()).toBe(0)

    // The map: above the list on a phone, one marker per station in its level's colour.
    await page.locator('#map path[data-station]').first().waitFor()
    expect(await page.locator('#map path[data-station]').count()).toBe(22)
    for (const c of cases) expect(await markerFill(page, c.id), c.id).toBe(MARKER[c.level])
    expect(await markerFill(page, 'cm-b-nodata')).toBe(MARKER.none)
    const map = (await page.locator('#map').boundingBox())!
    const list = (await page.locator('#stations').boundingBox())!
    expect(map.y + map.height).toBeLessThanOrEqual(list.y)
    expect(tileRequests()).toBeGreaterThan(0)
    expect(await page.textContent('.leaflet-control-attribution')).toContain('OpenStreetMap')
    // Nothing wider than a 390 px phone screen.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    await page.screenshot({ path: join(ARTIFACTS, 'board-390-vi.png'), fullPage: true })
    expect(errors).toEqual([])
    await ctx.close()
  })

  it('at 1366 px: English, the map beside the list, the language kept on station links', async () => {
    const { ctx, page, errors } = await open(DESKTOP, { tiles: 'fake' })
    await page.goto(`${tp.apiUrl}/`)
    expect(await page.textContent('#lang-toggle')).toBe('English')
    await page.click('#lang-toggle')
    await page.waitForURL(/\?lang=en$/)
    expect(await page.getAttribute('html', 'lang')).toBe('en')
    expect(await page.textContent('h1')).toBe('Canal salinity in Cà Mau')
    expect(await page.textContent('tr[data-station="cm-b-danger"] .lv')).toBe('Danger')
    expect(await page.textContent('tr[data-station="cm-b-ok"] .lv')).toBe('Normal')
    expect(await page.textContent('tr[data-station="cm-b-danger"] td.num')).toContain('5.3 ‰')
    await page.locator('#map path[data-station]').first().waitFor()
    const map = (await page.locator('#map').boundingBox())!
    const list = (await page.locator('#stations').boundingBox())!
    expect(map.x + map.width).toBeLessThanOrEqual(list.x)
    expect(map.height).toBeGreaterThan(400)
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1366)
    await page.screenshot({ path: join(ARTIFACTS, 'board-1366-en.png') })
    await page.click('tr[data-station="cm-b-danger"] a')
    await page.waitForURL(/\/stations\/cm-b-danger\?lang=en$/)
    expect(await page.textContent('h1')).toBe('Cái Đôi Vàm')
    expect(errors).toEqual([])
    await ctx.close()
  })

  it('with map tiles blocked: every station is still drawn in its colour on the province outline', async () => {
    for (const viewport of [PHONE, DESKTOP]) {
      const { ctx, page, errors, tileRequests } = await open(viewport, { tiles: 'blocked' })
      await page.goto(`${tp.apiUrl}/`)
      await page.locator('#map path[data-station]').first().waitFor()
      await page.locator('#map.no-tiles').waitFor()
      await page.locator('#map .leaflet-outline-pane path').waitFor()
      expect(tileRequests()).toBeGreaterThan(0)
      expect(await page.locator('#map img.leaflet-tile-loaded').count()).toBe(0)
      expect(await page.locator('#map path[data-station]').count()).toBe(22)
      expect(await markerFill(page, 'cm-b-danger')).toBe(MARKER.danger)
      expect(await markerFill(page, 'cm-b-warn')).toBe(MARKER.warning)
      expect(await markerFill(page, 'cm-b-ok')).toBe(MARKER.ok)
      expect(await markerFill(page, 'cm-b-nodata')).toBe(MARKER.none)
      // Placed inside the outline: each marker's centre is within the province polygon's box on screen.
      const outline = (await page.locator('#map .leaflet-outline-pane path').boundingBox())!
      for (const id of ['cm-b-danger', 'cm-b-ok', 'cm-b-nodata', 'cm-b-cond']) {
        const m = (await page.locator(`#map path[data-station="${id}"]`).boundingBox())!
        const [cx, cy] = [m.x + m.width / 2, m.y + m.height / 2]
        expect(cx, id).toBeGreaterThan(outline.x)
        expect(cx, id).toBeLessThan(outline.x + outline.width)
        expect(cy, id).toBeGreaterThan(outline.y)
        expect(cy, id).toBeLessThan(outline.y + outline.height)
      }
      await page.locator('#map').screenshot({ path: join(ARTIFACTS, `map-tiles-blocked-${viewport.width}.png`) })
      expect(errors).toEqual([])
      await ctx.close()
    }
  })

  it('refreshes itself with one small JSON request, without reloading: a station that turns dangerous moves to the top', async () => {
    const { ctx, page, errors } = await open(PHONE, { tiles: 'fake' })
    await page.goto(`${tp.apiUrl}/`)
    await page.locator('#map path[data-station]').first().waitFor()
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42))
    expect(await page.getAttribute('tr[data-station="cm-b-ok"]', 'data-level')).toBe('ok')
    const requests: string[] = []
    page.on('request', (r) => requests.push(new URL(r.url()).pathname))
    // A new, dangerous reading for Rạch Gốc, through the broker.
    const station = await mqtt.connectAsync(tp.mqttUrl, { username: okCreds.username, password: okCreds.password, protocolVersion: 4, reconnectPeriod: 0 })
    await station.publishAsync('stations/cm-b-ok/readings', JSON.stringify({ ts: Date.now() - 60_000, seq: 99, values: { salinity: 6.2 } }), { qos: 1 })
    await station.endAsync()
    expect(await tp.platform.ingest!.drained()).toBe(true)
    // The refresh runs every minute; the test calls the same function rather than wait.
    await page.evaluate(() => (window as unknown as { tidewatchRefresh: () => void }).tidewatchRefresh())
    await page.locator('tr[data-station="cm-b-ok"][data-level="danger"]').waitFor()
    expect(await page.textContent('tr[data-station="cm-b-ok"] td.num')).toContain('6,2 ‰')
    const firstOk = await page.locator('#stations tbody tr[data-level="ok"]').first().evaluate((el) => (el as HTMLTableRowElement).rowIndex)
    expect(await page.locator('tr[data-station="cm-b-ok"]').evaluate((el) => (el as HTMLTableRowElement).rowIndex)).toBeLessThan(firstOk)
    await expect.poll(() => markerFill(page, 'cm-b-ok')).toBe(MARKER.danger)
    expect(requests.filter((p) => p !== '/board.json')).toEqual([])
    expect(requests).toContain('/board.json')
    expect(await page.evaluate(() => (window as unknown as { marker: number }).marker)).toBe(42) // no reload
    expect(errors).toEqual([])
    await ctx.close()
  })

  for (const viewport of [PHONE, DESKTOP]) {
    it(`station page at ${viewport.width} px: a card and a chart per sensor, 24 h / 7 d / 30 d, readable text, nice ticks, values on tap`, async () => {
      const { ctx, page, errors } = await open(viewport)
      await page.goto(`${tp.apiUrl}/stations/cm-b-danger`)
      expect(await page.textContent('h1')).toBe('Cái Đôi Vàm')
      const kinds = ['salinity', 'water_level', 'ph', 'no2']
      expect(await page.locator('section.param').evaluateAll((els) => els.map((e) => e.getAttribute('data-sensor')))).toEqual(kinds)
      expect(await page.locator('dl.latest > div').evaluateAll((els) => els.map((e) => e.getAttribute('data-sensor')))).toEqual(kinds)
      const bodyPx = await page.evaluate(() => parseFloat(getComputedStyle(document.body).fontSize))
      for (const [range, points] of [['7d', 84], ['24h', 24], ['30d', 120]] as const) {
        if (range !== '7d') {
          await page.click(`nav.tabs a:text-is("${range === '24h' ? '24 giờ' : '30 ngày'}")`)
          await page.waitForURL(new RegExp(`range=${range}$`))
        }
        expect(await page.getAttribute('nav.tabs a[aria-current="page"]', 'href')).toBe(range === '7d' ? '/stations/cm-b-danger' : `/stations/cm-b-danger?range=${range}`)
        for (const kind of kinds) {
          const svg = page.locator(`section[data-sensor="${kind}"] svg.chart`)
          expect(await svg.count(), kind).toBe(1)
          // One hover target per bucket mean, with its time and value; the newest bucket may be partly filled.
          const hits = await svg.locator('.hit rect').count()
          expect(hits, `${kind} ${range}`).toBeGreaterThanOrEqual(points - 1)
          expect(hits, `${kind} ${range}`).toBeLessThanOrEqual(points + 1)
          expect(await svg.locator('.hit rect title').first().textContent()).toMatch(/^\d\d:\d\d \d\d\/\d\d: -?[\d,]+ /)
          // Chart text near the body size, never twice it.
          const textPx = await svg.locator('text').first().evaluate((el) => el.getBoundingClientRect().height)
          expect(textPx, kind).toBeLessThan(bodyPx * 1.4)
          expect(textPx, kind).toBeGreaterThan(bodyPx * 0.6)
          // The unit label crosses no threshold line.
          const unit = (await svg.locator('text.unit').boundingBox())!
          for (const line of await svg.locator('line.threshold').all()) {
            const b = (await line.boundingBox())!
            expect(unit.y + unit.height <= b.y || b.y + b.height <= unit.y || unit.x + unit.width <= b.x, kind).toBe(true)
          }
        }
      }
      // Y ticks at nice, distinct steps (the water level moves 95–105 cm: not 10/10/11).
      const ticks = await page.locator('section[data-sensor="water_level"] svg text[text-anchor="end"][dominant-baseline="middle"]').allTextContents()
      const values = ticks.map((x) => Number(x.replace(',', '.')))
      expect(new Set(values).size, ticks.join('/')).toBe(values.length)
      const steps = values.slice(1).map((v, i) => Math.abs(v - values[i]!))
      expect(new Set(steps.map((x) => x.toFixed(6))).size, ticks.join('/')).toBe(1)
      expect([1, 2, 5, 10, 20, 50]).toContain(steps[0])
      // The station's levels and BĐ lines.
      expect(await page.locator('section[data-sensor="salinity"] svg text').allTextContents()).toEqual(expect.arrayContaining(['2 ‰ cảnh báo', '4 ‰ nguy hiểm']))
      expect(await page.locator('section[data-sensor="ph"] line.threshold').count()).toBe(2)
      // A tap on the chart shows the value of that point.
      const rect = page.locator('section[data-sensor="salinity"] .hit rect').last()
      await rect.click({ force: true })
      expect(await page.textContent('section[data-sensor="salinity"] .tip')).toBe(await rect.locator('title').textContent())
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(viewport.width)
      await page.screenshot({ path: join(ARTIFACTS, `station-${viewport.width}-vi.png`), fullPage: true })
      expect(errors).toEqual([])
      await ctx.close()
    })
  }

  it('a station whose salinity is derived from conductivity has a salinity card and chart', async () => {
    const { ctx, page, errors } = await open(PHONE)
    await page.goto(`${tp.apiUrl}/stations/cm-b-cond?range=24h`)
    expect(await page.locator('section.param').evaluateAll((els) => els.map((e) => e.getAttribute('data-sensor')))).toEqual(['salinity', 'temperature', 'conductivity'])
    expect(await page.textContent('div[data-sensor="salinity"] dd')).toMatch(/^[5-7],\d ‰/)
    expect(await page.textContent('div[data-sensor="salinity"] .lv')).toBe('Nguy hiểm')
    expect(await page.textContent('div[data-sensor="salinity"] .derived')).toContain('độ dẫn điện')
    expect(await page.locator('section[data-sensor="salinity"] .hit rect').count()).toBeGreaterThan(20)
    expect(errors).toEqual([])
    await ctx.close()
  })

  it('keyboard and labels: Tab reaches the list links and the range tabs; every link, button and map control is named', async () => {
    const { ctx, page } = await open(DESKTOP, { tiles: 'fake' })
    await page.goto(`${tp.apiUrl}/`)
    await page.locator('#map path[data-station]').first().waitFor()
    const reached = new Set<string>()
    for (let i = 0; i < 60; i++) {
      await page.keyboard.press('Tab')
      const id = await page.evaluate(() => document.activeElement?.closest('tr')?.getAttribute('data-station') ?? null)
      if (id) reached.add(id)
    }
    expect(reached.has('cm-b-danger')).toBe(true)
    expect(reached.has('cm-b-warn')).toBe(true)
    const unnamed = await page.locator('a, button, [role="button"], input').evaluateAll((els) =>
      els.filter((e) => !(e.getAttribute('aria-label') || e.getAttribute('title') || (e.textContent ?? '').trim())).map((e) => e.outerHTML.slice(0, 80)),
    )
    expect(unnamed).toEqual([])
    expect(await page.getAttribute('#map', 'aria-label')).toBeTruthy()
    // The map's zoom buttons are named in the page's language.
    expect(await page.getAttribute('.leaflet-control-zoom-in', 'aria-label')).toBe('Phóng to')

    await page.goto(`${tp.apiUrl}/stations/cm-b-danger`)
    const tabs: string[] = []
    for (let i = 0; i < 20 && tabs.length < 3; i++) {
      await page.keyboard.press('Tab')
      const t = await page.evaluate(() => (document.activeElement?.closest('nav.tabs') ? document.activeElement.textContent : null))
      if (t) tabs.push(t)
    }
    expect(tabs).toEqual(['24 giờ', '7 ngày', '30 ngày'])
    await page.keyboard.press('Shift+Tab')
    await page.keyboard.press('Shift+Tab')
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('24 giờ')
    await page.keyboard.press('Enter')
    await page.waitForURL(/range=24h$/)
    expect(await page.getAttribute('nav.tabs', 'aria-label')).toBe('Khoảng thời gian của biểu đồ')
    await ctx.close()
  })

  it('works with JavaScript disabled: the list, station links and range tabs', async () => {
    const { ctx, page } = await open(PHONE, { js: false })
    await page.goto(`${tp.apiUrl}/?lang=en`)
    expect(await page.locator('#stations tbody tr').count()).toBe(22)
    expect(await page.locator('#map').isVisible()).toBe(false)
    expect(await page.textContent('tr[data-station="cm-b-danger"] .lv')).toBe('Danger')
    await page.click('tr[data-station="cm-b-ok"] a')
    await page.waitForURL(/\/stations\/cm-b-ok\?lang=en$/)
    expect(await page.locator('section[data-sensor="salinity"] svg.chart').count()).toBe(1)
    await page.click('nav.tabs a:text-is("30 days")')
    await page.waitForURL(/\/stations\/cm-b-ok\?lang=en&range=30d$/)
    expect(await page.locator('section[data-sensor="salinity"] svg.chart').count()).toBe(1)
    await ctx.close()
  })

  it('the open data page is a page for people, with the licence and links', async () => {
    const { ctx, page, errors } = await open(PHONE)
    await page.goto(`${tp.apiUrl}/`)
    await page.click('footer a')
    await page.waitForURL(/\/open-data$/)
    expect(await page.textContent('h1')).toBe('Dữ liệu mở')
    expect(await page.locator('a[href="/open/v1/stations.geojson"]').count()).toBe(1)
    expect(await page.locator('a[href="/sta/v1.1"]').count()).toBe(1)
    expect(await page.textContent('main')).toContain('CC BY 4.0')
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    await page.screenshot({ path: join(ARTIFACTS, 'open-data-390-vi.png'), fullPage: true })
    expect(errors).toEqual([])
    await ctx.close()
  })
})

describe('board over plain HTTP', () => {
  it('the board HTML without the map stays under 30 KB; its scripts are same-origin, deferred and optional', async () => {
    const res = await fetch(`${tp.apiUrl}/`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(res.headers.get('cache-control')).toBe('public, max-age=30')
    expect(res.headers.get('etag')).toBeTruthy()
    const csp = res.headers.get('content-security-policy')!
    expect(csp).toContain("default-src 'none'")
    expect(csp).toContain("script-src 'self';")
    const html = await res.text()
    expect(html.match(/<script[^>]*>/g)).toEqual(['<script src="/static/board.js" defer>', '<script src="/static/leaflet.js" defer>', '<script src="/static/board-map.js" defer>'])
    expect(html).not.toMatch(/<link[^>]+stylesheet|<img |https?:\/\/(?!tile\.openstreetmap|www\.openstreetmap)/i)
    for (const name of ['Rạch Gốc', 'Cống Tắc Thủ', 'Cái Đôi Vàm', 'Trạm kênh số 16', 'Trạm mới lắp']) expect(html).toContain(name)
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt; Kênh &quot;A&quot; &amp; &#39;B&#39;')
    expect(html).toContain('&lt;b&gt;bold&lt;/b&gt;')
    // 22 stations with their sparklines; the map's scripts (Leaflet ~42 KB gzip) are separate files.
    expect(Buffer.byteLength(html)).toBeLessThan(30 * 1024)
    for (const path of ['/static/leaflet.js', '/static/board-map.js', '/static/board.js', '/static/leaflet.css', '/static/ca-mau.geojson']) {
      const r = await fetch(`${tp.apiUrl}${path}`)
      expect(r.status, path).toBe(200)
      expect(r.headers.get('cache-control'), path).toBe('public, max-age=86400')
    }
    expect((await fetch(`${tp.apiUrl}/static/nope.js`)).status).toBe(404)
    const station = await (await fetch(`${tp.apiUrl}/stations/cm-b-danger?range=30d`)).text()
    expect(Buffer.byteLength(station)).toBeLessThan(60 * 1024)
    const again = await fetch(`${tp.apiUrl}/`, { headers: { 'if-none-match': res.headers.get('etag')! } })
    expect([200, 304]).toContain(again.status) // 200 once "x phút trước" has moved on
  })

  it('/board.json: the rows in order with their level and value cell, small, with an ETag', async () => {
    const res = await fetch(`${tp.apiUrl}/board.json`)
    expect(res.status).toBe(200)
    const text = await res.text()
    const body = JSON.parse(text)
    expect(body.stations).toHaveLength(22)
    expect(body.stations[0].level).toBe('danger')
    expect(body.stations.at(-1)).toMatchObject({ id: 'cm-b-nodata', level: 'none' })
    expect(Buffer.byteLength(text)).toBeLessThan(15 * 1024)
    const etag = res.headers.get('etag')!
    const again = await fetch(`${tp.apiUrl}/board.json`, { headers: { 'if-none-match': etag } })
    expect([200, 304]).toContain(again.status)
  })

  it('station page: CSV download links and ?range= tabs; an unknown range falls back to 7 days', async () => {
    const html = await (await fetch(`${tp.apiUrl}/stations/cm-b-danger?range=1y`)).text()
    expect(html).toContain('aria-current="page">7 ngày<')
    const link = /href="(\/open\/v1\/stations\/cm-b-danger\/readings\.csv\?every=1h&amp;from=\d+)"/.exec(html)
    expect(link).toBeTruthy()
    const csv = await fetch(`${tp.apiUrl}${link![1]!.replace('&amp;', '&')}`)
    expect(csv.status).toBe(200)
    const bytes = Buffer.from(await csv.arrayBuffer())
    // UTF-8 BOM, so Excel on a Vietnamese Windows reads ‰ and the station's name.
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf])
    const lines = bytes.subarray(3).toString('utf8').trimEnd().split('\r\n')
    expect(lines[0]).toBe('station,station_name,sensor,unit,time,mean,min,max,count')
    expect(lines[1]).toMatch(/^cm-b-danger,Cái Đôi Vàm,(salinity|water_level|ph|no2),/)
    expect(html).toContain('/open/v1/stations/cm-b-danger/daily.csv')
  })

  it('ignores unknown parameters such as tracking ids from shared links', async () => {
    const res = await fetch(`${tp.apiUrl}/?fbclid=abc&lang=xx`)
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('<html lang="vi">')
  })

  it('answers an unknown station with a 404 HTML page', async () => {
    for (const [path, text] of [
      ['/stations/cm-nope', 'Không tìm thấy trạm'],
      ['/stations/cm-nope?lang=en', 'Station not found'],
      ['/stations/%3Cscript%3E', 'Không tìm thấy trạm'],
    ]) {
      const res = await fetch(`${tp.apiUrl}${path}`)
      expect(res.status, path).toBe(404)
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
      expect(res.headers.get('cache-control')).toBe('no-store')
      const html = await res.text()
      expect(html).toContain(text)
      expect(html).not.toContain('<script>')
    }
  })
})
