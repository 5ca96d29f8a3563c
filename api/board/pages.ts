import { SENSOR_KINDS, type SensorKind } from '../../core/sensors.ts'
import type { Station } from '../../devices/registry.ts'
import { sideOf, type SensorRule } from '../../levels/rules.ts'
import { levelLines, type ShownLevel } from '../../levels/status.ts'
import { LOCAL_OFFSET_MS, shownKinds, unitOf, type HourlySeries, type LatestByStation, type LatestValue, type SalinityLevel, type ShownByStation } from './data.ts'
import { esc, href, page } from './html.ts'
import { STRINGS, digitsOf, formatNumber, localClock, localDayLabel, localHour, type Lang, type Strings } from './i18n.ts'
import { chart, sparkline, type Threshold } from './svg.ts'
import { OSM_ATTRIBUTION, OSM_TILES } from './static.ts'

/** The board's pages, rendered on the server from plain data; no I/O here. */
const HOUR = 3_600_000
const DAY = 86_400_000
const DANGER_COLOR = '#b3261e'
const WARNING_COLOR = '#9a6700'

function levelName(name: string, t: Strings): string {
  return t.thresholdNames[name] ?? name
}

/** The lines of the rule in force: "4 ‰ nguy hiểm", "85 cm BĐ3", both edges of an outside band ("35 ‰ cảnh báo (cao)"). */
export function thresholdsOf(kind: SensorKind, rule: SensorRule | null, t: Strings, lang: Lang): Threshold[] {
  const unit = unitOf(kind)
  return levelLines(rule).map(({ level, value, edge }) => {
    const name = levelName(level.name, t)
    const side = edge === 'limit' ? '' : `(${edge === 'high' ? t.sides.above : t.sides.below})`
    return {
      value,
      color: level.severity === 'danger' ? DANGER_COLOR : WARNING_COLOR,
      // "8,5 pH cao", not "8,5 pH pH cao": the unit is left out when the level's name carries it.
      label: [formatNumber(value, lang, Number.isInteger(value) ? 0 : digitsOf(kind, value)), name.includes(unit) ? '' : unit, name, side].filter(Boolean).join(' '),
    }
  })
}

/** The badge: the colour is the severity, the text names the level when it says more (BĐ2, low side of a band, fast change). */
function badge(shown: ShownLevel | null | undefined, t: Strings, rated = true): string {
  // No levels and nothing firing: the value is shown without a judgment ("normal" would mislead a farmer at a coastal monitoring station).
  const status: SalinityLevel | 'none' | 'unrated' = !shown ? 'none' : !rated && shown.status === 'ok' ? 'unrated' : shown.status
  const detail: string[] = []
  const l = shown?.level
  if (l && l.name !== 'warning' && l.name !== 'danger') detail.push(levelName(l.name, t))
  if (l && l.direction === 'outside') detail.push(t.sides[sideOf(l, shown!.value)])
  if (shown?.rise) detail.push(levelName(shown.rise.name, t))
  const name = shown?.level?.name ?? shown?.rise?.name
  return `<span class="lv lv-${status}" data-level="${status}"${name ? ` data-name="${esc(name)}"` : ''}>${esc([t.levels[status], ...detail].join(' · '))}</span>`
}

function valueText(kind: SensorKind, v: number, lang: Lang): string {
  return `${formatNumber(v, lang, digitsOf(kind, v))} ${unitOf(kind)}`
}

function when(ts: number, now: number, t: Strings): string {
  return `<time datetime="${esc(new Date(ts).toISOString())}">${esc(t.ago(Math.max(0, now - ts)))}</time> <span class="muted clock">${esc(localClock(ts))}</span>`
}

function place(s: Station): string {
  return [s.commune, s.district].filter(Boolean).join(', ')
}

/** What the "Nhận tin nhắn SMS" panel needs (api/server.ts ApiDeps.board). */
export interface SubscribePanel {
  /** The number farmers text (alerts config publicSmsNumber); null: not published yet. */
  publicSmsNumber: string | null
  /** A sample alert for the station, as the alerter would word it; null when none can be made. */
  sampleMessage?: (station: Station) => string | null
}

/** The code a farmer types: the station's short code, else its id. */
export function subscribeCode(s: Pick<Station, 'id' | 'code'>): string {
  return `DK ${s.code ?? s.id}`
}

function smsPanel(s: Station, sms: SubscribePanel | undefined, t: Strings): string {
  if (s.zone === 'monitoring') return `<section id="sms" class="sms"><h2>${esc(t.smsTitle)}</h2><p>${esc(t.smsNone)}</p></section>`
  const number = sms?.publicSmsNumber ?? null
  const code = subscribeCode(s)
  // The texts take ready HTML pieces: the code and the number stand out in bold.
  const how = t.smsHow(`<b class="code">${esc(code)}</b>`, number ? `<b>${esc(number)}</b>` : null)
  const sample = sms?.sampleMessage?.(s)
  return `<section id="sms" class="sms"><h2>${esc(t.smsTitle)}</h2><p>${how}</p>${sample ? `<p class="muted" style="margin:.25rem 0">${esc(t.smsExample)}</p><blockquote class="smsg">${esc(sample)}</blockquote>` : ''}</section>`
}

export interface BoardData {
  lang: Lang
  now: number
  stations: readonly Station[]
  latest: LatestByStation
  /** The level shown per station and sensor (levels/status.ts). */
  shown: ShownByStation
  /** The salinity rule in force per station, for the sparkline's lines. */
  rules: ReadonlyMap<string, SensorRule | null>
  /** Hourly salinity means of the last 24 h. */
  hourly: readonly HourlySeries[]
  /** InfluxDB could not be read: stations are listed without values. */
  unavailable: boolean
  sms?: SubscribePanel
}

/** The 24 hourly slots ending with the current hour. */
export function last24hWindow(now: number): { from: number; to: number } {
  const to = Math.floor(now / HOUR) * HOUR + HOUR
  return { from: to - 24 * HOUR, to }
}

type BoardLevel = SalinityLevel | 'none' | 'unrated'

/** Dangerous first, then warning, normal, monitoring-only; stations without data last. */
const SEVERITY_RANK: Record<BoardLevel, number> = { danger: 0, warning: 1, ok: 2, unrated: 3, none: 4 }

export interface BoardRow {
  station: Station
  level: BoardLevel
  shown: ShownLevel | undefined
  rated: boolean
  lines: Threshold[]
}

/** The board's rows in the order shown: by severity, the saltiest first within a level, then district and name (Vietnamese collation). */
export function boardRows(d: Pick<BoardData, 'lang' | 'stations' | 'shown' | 'rules'>): BoardRow[] {
  const t = STRINGS[d.lang]
  const rows = d.stations.map((s) => {
    const shown = d.shown.get(s.id)?.salinity
    const lines = thresholdsOf('salinity', d.rules.get(s.id) ?? null, t, d.lang)
    const rated = lines.length > 0
    const level: BoardLevel = !shown ? 'none' : !rated && shown.status === 'ok' ? 'unrated' : shown.status
    return { station: s, level, shown, rated, lines }
  })
  return rows.sort(
    (a, b) =>
      SEVERITY_RANK[a.level] - SEVERITY_RANK[b.level] ||
      (b.shown?.value ?? 0) - (a.shown?.value ?? 0) ||
      (a.station.district ?? '').localeCompare(b.station.district ?? '', 'vi') ||
      a.station.name.localeCompare(b.station.name, 'vi', { numeric: true }) ||
      a.station.id.localeCompare(b.station.id),
  )
}

/** The value cell of a board row: value, badge and the age of the value. The refresh (board.json) sends the same HTML. */
export function boardValueCell(r: BoardRow, now: number, lang: Lang): string {
  const t = STRINGS[lang]
  return `${r.shown ? esc(valueText('salinity', r.shown.value, lang)) : '—'}<br>${badge(r.shown, t, r.rated)}${r.shown ? `<div class="when">${when(r.shown.ts, now, t)}</div>` : ''}`
}

export function boardSummary(rows: readonly BoardRow[], lang: Lang): string {
  const counts = { ok: 0, warning: 0, danger: 0, none: 0, unrated: 0 }
  for (const r of rows) counts[r.level]++
  return STRINGS[lang].summary(counts.danger, counts.warning, counts.ok)
}

/** The scripts of the board: each optional, loaded after the HTML (defer), served from this server (api/board/static). */
export const BOARD_SCRIPTS = ['/static/board.js', '/static/leaflet.js', '/static/board-map.js'] as const

export function renderBoard(d: BoardData): string {
  const t = STRINGS[d.lang]
  const win = last24hWindow(d.now)
  const spark = new Map(d.hourly.filter((h) => h.sensor === 'salinity').map((h) => [h.station, h.points]))
  const sorted = boardRows(d)
  const rows = sorted.map((r) => {
    const s = r.station
    const points = spark.get(s.id) ?? []
    const top = Math.max(...points.map((p) => p[1]))
    const lines = r.lines
    const sp = points.length
      ? sparkline({
          points,
          from: win.from,
          to: win.to,
          // Each station on its own scale, up to the first line above its values: 18 ‰ in a shrimp pond and 1 ‰ in a rice canal both read.
          floor: Math.min(...lines.map((l) => l.value).filter((v) => v >= top), Math.max(...lines.map((l) => l.value), top)),
          thresholds: lines,
          label: t.sparkLabel(formatNumber(Math.min(...points.map((p) => p[1])), d.lang), formatNumber(top, d.lang), unitOf('salinity')),
        })
      : '<span class="muted">—</span>'
    // data-lat/lon/name: the map (board-map.js) draws its markers from the list, so the page carries each station once.
    return `<tr class="row-${r.level}" data-station="${esc(s.id)}" data-level="${r.level}" data-zone="${esc(s.zone)}" data-lat="${s.lat}" data-lon="${s.lon}">
<td><a href="${esc(href(`/stations/${encodeURIComponent(s.id)}`, d.lang))}">${esc(s.name)}</a><div class="muted zone">${esc(t.zones[s.zone])}</div><div class="muted hide-sm">${esc(place(s))}</div></td>
<td class="num">${boardValueCell(r, d.now, d.lang)}</td>
<td>${sp}</td>
</tr>`
  })
  const smsHow = t.smsHomeHow(d.sms?.publicSmsNumber ? `<b>${esc(d.sms.publicSmsNumber)}</b>` : null)
  const jsonHref = href('/board.json', d.lang)
  const body = `<h1>${esc(t.title)}</h1>
<p class="muted">${esc(t.intro)}</p>
${d.unavailable ? `<p class="notice" role="status">${esc(t.unavailable)}</p>` : `<p id="summary" aria-live="polite">${esc(boardSummary(sorted, d.lang))}</p>`}
${
  d.stations.length
    ? `<div class="board" id="board" data-json="${esc(jsonHref)}">
<div id="map" class="map" role="region" aria-label="${esc(t.mapLabel)}" data-note="${esc(t.mapNote)}" data-zoom="${esc(t.mapZoom)}" data-tiles="${esc(OSM_TILES)}" data-attribution="${esc(OSM_ATTRIBUTION)}" data-legend="${esc(JSON.stringify({ danger: t.levels.danger, warning: t.levels.warning, ok: t.levels.ok, none: t.levels.none }))}" hidden></div>
<div class="scroll list"><table id="stations">
<thead><tr><th scope="col">${esc(t.station)}</th><th scope="col">${esc(t.salinity)}</th><th scope="col">${esc(t.last24h)}</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table></div>
</div>`
    : `<p>${esc(t.noStations)}</p>`
}
<p id="sms" class="sms"><b>${esc(t.smsTitle)}:</b> ${smsHow}</p>`
  const other = t.otherLangCode
  return page({ lang: d.lang, t, title: t.title, otherLangHref: href('/', other), body, wide: true, scripts: d.stations.length ? BOARD_SCRIPTS : [] })
}

/** What the board's refresh asks for (GET /board.json): the rows in order, their level and value cell, and the summary. */
export function boardJson(d: BoardData): { now: string; summary: string | null; stations: Array<{ id: string; level: BoardLevel; cell: string }> } {
  const rows = boardRows(d)
  return {
    now: new Date(d.now).toISOString(),
    summary: d.unavailable ? null : boardSummary(rows, d.lang),
    stations: rows.map((r) => ({ id: r.station.id, level: r.level, cell: boardValueCell(r, d.now, d.lang) })),
  }
}

export type ChartRange = '24h' | '7d' | '30d'
export const CHART_RANGES: readonly ChartRange[] = ['24h', '7d', '30d']

/**
 * Each range's window and bucket: about 24–120 points per chart, so a
 * station with six sensors stays a light page with a hover title on every
 * point. 2 h buckets still draw the East Sea coast's semi-diurnal tide (two highs
 * a day; shared FIELD-NOTES, Tides in Cà Mau); 6 h over 30 days shows the spring–neap cycle.
 */
export const RANGE_PLAN: Readonly<Record<ChartRange, { ms: number; every: { text: string; ms: number } }>> = Object.freeze({
  '24h': { ms: DAY, every: { text: '1h', ms: HOUR } },
  '7d': { ms: 7 * DAY, every: { text: '2h', ms: 2 * HOUR } },
  '30d': { ms: 30 * DAY, every: { text: '6h', ms: 6 * HOUR } },
})

export function chartRangeOf(raw: unknown): ChartRange {
  return CHART_RANGES.includes(raw as ChartRange) ? (raw as ChartRange) : '7d'
}

export interface StationData {
  lang: Lang
  now: number
  station: Station
  range: ChartRange
  latest: Partial<Record<SensorKind, LatestValue>>
  /** The level shown per sensor (levels/status.ts). */
  shown: Partial<Record<SensorKind, ShownLevel>>
  /** The rule in force per sensor (levels/book.ts). */
  rules: Partial<Record<SensorKind, SensorRule | null>>
  /** Bucket means over the range, one series per sensor. */
  hourly: readonly HourlySeries[]
  unavailable: boolean
  sms?: SubscribePanel
}

/** The chart window of a range: whole buckets, ending with the current one. */
export function rangeWindow(now: number, range: ChartRange): { from: number; to: number; stepMs: number } {
  const plan = RANGE_PLAN[range]
  const step = plan.every.ms
  // Buckets start on local boundaries (core/local-time.ts); 1h and 2h and 6h all divide the 7 h offset's day evenly.
  const to = Math.floor((now + LOCAL_OFFSET_MS) / step) * step - LOCAL_OFFSET_MS + step
  return { from: to - plan.ms, to, stepMs: step }
}

export function last7dWindow(now: number): { from: number; to: number } {
  const w = rangeWindow(now, '7d')
  return { from: w.from, to: w.to }
}

/** x labels of a range: every 6 local hours over 24 h, local midnights over 7 days, every 5th over 30. */
function xLabels(from: number, to: number, range: ChartRange): Array<[number, string]> {
  const out: Array<[number, string]> = []
  const step = range === '24h' ? 6 * HOUR : range === '7d' ? DAY : 5 * DAY
  let t = Math.ceil((from + LOCAL_OFFSET_MS) / step) * step - LOCAL_OFFSET_MS
  for (; t <= to; t += step) out.push([t, range === '24h' ? localHour(t) : localDayLabel(t)])
  return out
}

export function renderStation(d: StationData): string {
  const t = STRINGS[d.lang]
  const s = d.station
  const win = rangeWindow(d.now, d.range)
  const kinds = shownKinds(s, d.latest)
  const carries = new Set(s.sensors.map((x) => x.kind))
  const byKind = new Map(d.hourly.map((h) => [h.sensor, h.points]))
  const path = `/stations/${encodeURIComponent(s.id)}`
  const latest = kinds
    .map((k) => {
      const shown = d.shown[k]
      // A badge only where the rule judges the value: a sensor without levels gets one only while a rise/change fires.
      const rated = levelLines(d.rules[k] ?? null).length > 0
      const extra = shown && (rated || shown.rise) ? ` ${badge(shown, t, rated)}` : ''
      const derived = k === 'salinity' && !carries.has('salinity') ? `<p class="muted derived">${esc(t.derived)}</p>` : ''
      return `<div data-sensor="${k}"><dt>${esc(t.sensor(k))}</dt><dd>${shown ? esc(valueText(k, shown.value, d.lang)) : esc(t.noData)}${extra}</dd>${shown ? `<p class="muted" style="margin:0">${when(shown.ts, d.now, t)}</p>` : ''}${derived}</div>`
    })
    .join('\n')
  const labels = xLabels(win.from, win.to, d.range)
  const rangeText = t.ranges[d.range]
  const charts = kinds
    .map((k) => {
      const points = byKind.get(k) ?? []
      const unit = unitOf(k)
      const svg = points.length
        ? chart({
            points,
            from: win.from,
            to: win.to,
            stepMs: win.stepMs,
            thresholds: thresholdsOf(k, d.rules[k] ?? null, t, d.lang),
            xLabels: labels,
            unit,
            label: t.chartLabel(t.sensor(k), unit, rangeText),
            zero: k === 'salinity' || k === 'no2',
            format: (v, dec) => formatNumber(v, d.lang, dec ?? digitsOf(k, v)),
            timeOf: (ts) => localClock(ts),
          })
        : `<p class="muted">${esc(t.noData)}</p>`
      return `<section class="param" data-sensor="${k}"><h2>${esc(t.sensor(k) === unit ? unit : `${t.sensor(k)} (${unit})`)}</h2>${svg}</section>`
    })
    .join('\n')
  const rangeHref = (r: ChartRange) => {
    const q = [d.lang === 'vi' ? '' : `lang=${d.lang}`, r === '7d' ? '' : `range=${r}`].filter(Boolean).join('&')
    return `${path}${q ? `?${q}` : ''}`
  }
  const tabs = CHART_RANGES.map((r) => `<a href="${esc(rangeHref(r))}"${r === d.range ? ' aria-current="page"' : ''}>${esc(t.ranges[r])}</a>`).join('')
  const id = encodeURIComponent(s.id)
  // 30 days of hourly means: about 720 rows a sensor, well inside /open/v1's limits.
  const csvFrom = Math.floor((d.now - 30 * DAY) / HOUR) * HOUR
  const downloads = `<section id="downloads"><h2>${esc(t.downloads)}</h2><ul>
<li><a href="/open/v1/stations/${esc(id)}/readings.csv?every=1h&amp;from=${csvFrom}" download>${esc(t.csvHourly)}</a></li>
<li><a href="/open/v1/stations/${esc(id)}/daily.csv" download>${esc(t.csvDaily)}</a></li>
</ul></section>`
  const body = `<p><a href="${esc(href('/', d.lang))}">${esc(t.back)}</a></p>
<h1>${esc(s.name)}</h1>
<p class="muted">${esc([place(s), `${s.lat.toFixed(4)}, ${s.lon.toFixed(4)}`].filter(Boolean).join(' · '))}</p>
<p id="zone" data-zone="${esc(s.zone)}">${esc(t.zoneLabel)}: ${esc(t.zones[s.zone])}</p>
${d.unavailable ? `<p class="notice" role="status">${esc(t.unavailable)}</p>` : ''}
<h2>${esc(t.latest)}</h2>
<dl class="latest">
${latest}
</dl>
${smsPanel(s, d.sms, t)}
<nav class="tabs" aria-label="${esc(t.rangeNav)}">${tabs}</nav>
<p class="muted" id="range-note">${esc(t.rangeNote(rangeText, t.buckets[d.range]))}</p>
<div class="charts">
${charts}
</div>
${downloads}`
  const otherQ = d.range === '7d' ? '' : `range=${d.range}`
  const other = t.otherLangCode === 'vi' ? `${path}${otherQ ? `?${otherQ}` : ''}` : `${path}?lang=${t.otherLangCode}${otherQ ? `&${otherQ}` : ''}`
  return page({ lang: d.lang, t, title: `${s.name} · ${t.title}`, otherLangHref: other, body, scripts: ['/static/board.js'] })
}

/** The human page about open data (footer link "Dữ liệu mở"): what there is, the licence, the links. */
export function renderOpenData(lang: Lang): string {
  const t = STRINGS[lang]
  const o = t.openPage
  const items = o.items
    .map(([title, url, text]) => {
      const link = url.includes('{id}') ? `<code>${esc(url)}</code>` : `<a href="${esc(url)}"><code>${esc(url)}</code></a>`
      return `<li><b>${esc(title)}</b><br>${link}<br><span class="muted">${esc(text)}</span></li>`
    })
    .join('\n')
  const body = `<h1>${esc(o.title)}</h1>
<p>${esc(o.intro)}</p>
<h2>${esc(o.whatTitle)}</h2>
<ul class="open">
${items}
</ul>
<h2>${esc(o.licenceTitle)}</h2>
<p>${esc(o.licence)} <a href="https://creativecommons.org/licenses/by/4.0/deed.${lang === 'vi' ? 'vi' : 'en'}">CC BY 4.0</a></p>
<h2>${esc(o.csvTitle)}</h2>
<p>${esc(o.csv)}</p>
<h2>${esc(o.limitsTitle)}</h2>
<p>${esc(o.limits)}</p>
<p><a href="/docs">${esc(o.apiDocs)}</a></p>`
  return page({ lang, t, title: `${o.title} · ${t.title}`, otherLangHref: href('/open-data', t.otherLangCode), body })
}

export function renderNotFound(lang: Lang): string {
  const t = STRINGS[lang]
  return page({
    lang,
    t,
    title: t.notFoundTitle,
    otherLangHref: href('/', t.otherLangCode),
    body: `<h1>${esc(t.notFoundTitle)}</h1><p>${esc(t.notFoundText)}</p><p><a href="${esc(href('/', lang))}">${esc(t.back)}</a></p>`,
  })
}
