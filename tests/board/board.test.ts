/**
 * The public salinity board in a real browser (Debian chromium driven by
 * playwright-core), from data that came through the whole pipeline: MQTT
 * broker, ingest, influxd, API.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestInflux, startTestPlatform, tempDir, type TestInflux, type TestPlatform } from '../helpers/platform.ts'
import { stationWithReadings, type Reading } from './pipeline.ts'

const ARTIFACTS = join(import.meta.dirname, 'artifacts')
const HOUR = 3_600_000
const XSS_NAME = `<script>alert(1)</script> Kênh "A" & 'B'`

let tmp: ReturnType<typeof tempDir>
let influx: TestInflux
let tp: TestPlatform
let browser: Browser

/** Hourly readings over the last `hours`, ending 5 minutes ago with `last`. */
function hourly(hours: number, salinity: (i: number) => number, last: number, extra?: (i: number) => Record<string, number>): Reading[] {
  const end = Date.now() - 5 * 60_000
  const out: Reading[] = []
  for (let i = hours - 1; i >= 1; i--) out.push({ ts: end - i * HOUR, values: { salinity: salinity(i), ...extra?.(i) } })
  out.push({ ts: end, values: { salinity: last, ...extra?.(0) } })
  return out
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true })
  tmp = tempDir()
  influx = await startTestInflux(tmp.dir)
  tp = await startTestPlatform({ dir: tmp.dir, influxUrl: influx.server.url })
  const at = { lat: 9.1, lon: 105.1 }
  await stationWithReadings(tp, { id: 'cm-b-ok', name: 'Rạch Gốc', commune: 'Xã Tân Ân', district: 'Huyện Ngọc Hiển', ...at }, hourly(24, (i) => 0.8 + (i % 5) / 10, 1.1))
  await stationWithReadings(tp, { id: 'cm-b-warn', name: 'Cống Tắc Thủ', commune: 'Xã Hồ Thị Kỷ', district: 'Huyện Thới Bình', ...at }, hourly(24, (i) => 1.5 + (i % 4) / 4, 2.6))
  // Seven days of all four parameters for the station page.
  await stationWithReadings(
    tp,
    { id: 'cm-b-danger', name: 'Cái Đôi Vàm', commune: 'Xã Cái Đôi Vàm', district: 'Huyện Phú Tân', ...at },
    hourly(7 * 24, (i) => 3 + 2 * Math.sin(i / 6), 5.3, (i) => ({ water_level: Math.round(100 * Math.sin(i / 2)), ph: 7.2 + 0.3 * Math.cos(i / 8), no2: 0.3 + (i % 12) / 12 })),
  )
  await stationWithReadings(tp, { id: 'cm-b-xss', name: XSS_NAME, commune: '<b>bold</b>', ...at }, hourly(3, () => 0.5, 0.5))
  for (let n = 1; n <= 16; n++) {
    const id = `cm-b-f${String(n).padStart(2, '0')}`
    await stationWithReadings(tp, { id, name: `Trạm kênh số ${n}`, commune: `Xã ${n}`, district: 'Huyện Đầm Dơi', ...at }, hourly(24, (i) => (n % 7) * 0.8 + (i % 6) / 10, (n % 7) * 0.8))
  }
  await tp.platform.registry.add({ id: 'cm-b-nodata', name: 'Trạm mới lắp', ...at })
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

describe('public salinity board in chromium', () => {
  it('renders every station with its level colour and label, in Vietnamese', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 })
    const dialogs: string[] = []
    page.on('dialog', (d) => void (dialogs.push(d.message()), d.dismiss()))
    const res = await page.goto(`${tp.apiUrl}/`)
    expect(res?.status()).toBe(200)
    expect(await page.getAttribute('html', 'lang')).toBe('vi')
    expect(await page.textContent('h1')).toBe('Độ mặn kênh rạch Cà Mau')
    expect(await page.locator('#stations tbody tr').count()).toBe(21)

    const row = (id: string) => page.locator(`tr[data-station="${id}"]`)
    const cases = [
      { id: 'cm-b-ok', level: 'ok', label: 'Bình thường', value: '1,1 ‰', bg: 'rgb(220, 242, 227)', fg: 'rgb(10, 92, 36)' },
      { id: 'cm-b-warn', level: 'warning', label: 'Cảnh báo', value: '2,6 ‰', bg: 'rgb(255, 241, 194)', fg: 'rgb(107, 69, 0)' },
      { id: 'cm-b-danger', level: 'danger', label: 'Nguy hiểm', value: '5,3 ‰', bg: 'rgb(179, 38, 30)', fg: 'rgb(255, 255, 255)' },
    ]
    for (const c of cases) {
      expect(await row(c.id).getAttribute('data-level')).toBe(c.level)
      const badge = row(c.id).locator('.lv')
      expect(await badge.textContent()).toBe(c.label)
      const colours = await badge.evaluate((el) => {
        const s = getComputedStyle(el)
        return { bg: s.backgroundColor, fg: s.color }
      })
      expect(colours, c.id).toEqual({ bg: c.bg, fg: c.fg })
      expect(await row(c.id).locator('td.num').textContent()).toContain(c.value)
      expect(await row(c.id).locator('time').textContent()).toMatch(/^(\d+ phút trước|vừa xong)$/)
      expect(await row(c.id).locator('svg.spark path').getAttribute('d')).toMatch(/^M[\d.]+ [\d.]+(L[\d.]+ [\d.]+){10,}/)
    }
    expect(await row('cm-b-nodata').locator('.lv').textContent()).toBe('Không có số liệu')
    // Fillers n = 1..16 at (n % 7) * 0.8 ‰: four in danger, four at warning, eight normal.
    expect(await page.textContent('#summary')).toBe('5 trạm nguy hiểm · 5 trạm cảnh báo · 10 trạm bình thường')
    // Staff-typed names are text, never markup.
    expect(await row('cm-b-xss').locator('a').textContent()).toBe(XSS_NAME)
    expect(await row('cm-b-xss').locator('b').count()).toBe(0)
    expect(dialogs).toEqual([])
    // Mobile-friendly: nothing wider than a 390 px phone screen.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    expect(await page.evaluate(() => document.querySelector('.scroll')!.scrollWidth)).toBeLessThanOrEqual(390)
    await page.screenshot({ path: join(ARTIFACTS, 'board-vi.png'), fullPage: true })
    await page.close()
  })

  it('switches to English with the toggle and keeps the language on station links', async () => {
    const page = await browser.newPage({ viewport: { width: 1024, height: 900 } })
    await page.goto(`${tp.apiUrl}/`)
    expect(await page.textContent('#lang-toggle')).toBe('English')
    await page.click('#lang-toggle')
    await page.waitForURL(/\?lang=en$/)
    expect(await page.getAttribute('html', 'lang')).toBe('en')
    expect(await page.textContent('h1')).toBe('Canal salinity in Cà Mau')
    expect(await page.textContent('tr[data-station="cm-b-danger"] .lv')).toBe('Danger')
    expect(await page.textContent('tr[data-station="cm-b-warn"] .lv')).toBe('Warning')
    expect(await page.textContent('tr[data-station="cm-b-ok"] .lv')).toBe('Normal')
    expect(await page.textContent('tr[data-station="cm-b-danger"] td.num')).toContain('5.3 ‰')
    expect(await page.textContent('#lang-toggle')).toBe('Tiếng Việt')
    await page.screenshot({ path: join(ARTIFACTS, 'board-en.png'), fullPage: true })
    await page.click('tr[data-station="cm-b-danger"] a')
    await page.waitForURL(/\/stations\/cm-b-danger\?lang=en$/)
    expect(await page.textContent('h1')).toBe('Cái Đôi Vàm')
    await page.close()
  })

  it('shows a station page with its four parameters over 7 days, threshold lines and latest values', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 })
    await page.goto(`${tp.apiUrl}/`)
    await page.click('tr[data-station="cm-b-danger"] a')
    await page.waitForURL(/\/stations\/cm-b-danger$/)
    expect(await page.textContent('h1')).toBe('Cái Đôi Vàm')
    const sections = page.locator('section.param')
    expect(await sections.evaluateAll((els) => els.map((e) => e.getAttribute('data-sensor')))).toEqual(['salinity', 'water_level', 'ph', 'no2'])
    for (const kind of ['salinity', 'water_level', 'ph', 'no2']) {
      const svg = page.locator(`section[data-sensor="${kind}"] svg.chart`)
      expect(await svg.count(), kind).toBe(1)
      const d = (await svg.locator('path.series').getAttribute('d')) ?? ''
      // 7 x 24 hourly means, drawn as one line.
      expect(d.split('L').length, kind).toBeGreaterThan(150)
      const box = await svg.boundingBox()
      expect(box!.width, kind).toBeGreaterThan(300)
    }
    expect(await page.textContent('section[data-sensor="salinity"] h2')).toBe('Độ mặn (‰)')
    expect(await page.locator('section[data-sensor="salinity"] line.threshold').count()).toBe(2)
    expect(await page.locator('section[data-sensor="salinity"] svg text').allTextContents()).toEqual(expect.arrayContaining(['2 ‰ cảnh báo', '4 ‰ nguy hiểm']))
    expect(await page.locator('section[data-sensor="ph"] line.threshold').count()).toBe(2)
    expect(await page.locator('section[data-sensor="no2"] line.threshold').count()).toBe(1)
    expect(await page.textContent('div[data-sensor="salinity"] dd')).toContain('5,3 ‰')
    expect(await page.textContent('div[data-sensor="salinity"] .lv')).toBe('Nguy hiểm')
    expect(await page.textContent('div[data-sensor="water_level"] dd')).toMatch(/^-?\d+ cm$/)
    await page.screenshot({ path: join(ARTIFACTS, 'station-vi.png'), fullPage: true })
    await page.close()
  })

  it('works with JavaScript disabled', async () => {
    const ctx = await browser.newContext({ javaScriptEnabled: false })
    const page = await ctx.newPage()
    await page.goto(`${tp.apiUrl}/?lang=en`)
    expect(await page.locator('#stations tbody tr').count()).toBe(21)
    expect(await page.textContent('tr[data-station="cm-b-danger"] .lv')).toBe('Danger')
    await page.click('tr[data-station="cm-b-ok"] a')
    await page.waitForURL(/\/stations\/cm-b-ok\?lang=en$/)
    expect(await page.locator('section[data-sensor="salinity"] svg.chart').count()).toBe(1)
    await ctx.close()
  })
})

describe('board over plain HTTP', () => {
  it('is complete HTML without scripts and small enough for a phone on 3G', async () => {
    const res = await fetch(`${tp.apiUrl}/`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(res.headers.get('cache-control')).toBe('public, max-age=30')
    expect(res.headers.get('etag')).toBeTruthy()
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'")
    const html = await res.text()
    expect(html).not.toMatch(/<script/i)
    expect(html).not.toMatch(/<link[^>]+stylesheet|<img /i)
    for (const name of ['Rạch Gốc', 'Cống Tắc Thủ', 'Cái Đôi Vàm', 'Trạm kênh số 16', 'Trạm mới lắp']) expect(html).toContain(name)
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt; Kênh &quot;A&quot; &amp; &#39;B&#39;')
    expect(html).toContain('&lt;b&gt;bold&lt;/b&gt;')
    const bytes = Buffer.byteLength(html)
    expect(bytes).toBeLessThan(60 * 1024)
    const station = await (await fetch(`${tp.apiUrl}/stations/cm-b-danger`)).text()
    expect(Buffer.byteLength(station)).toBeLessThan(60 * 1024)
    const again = await fetch(`${tp.apiUrl}/`, { headers: { 'if-none-match': res.headers.get('etag')! } })
    expect([200, 304]).toContain(again.status) // 200 once "x phút trước" has moved on
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
