import { SENSOR_KINDS, type SensorKind } from '../../core/sensors.ts'
import type { Station } from '../../devices/registry.ts'
import { sideOf, type SensorRule } from '../../levels/rules.ts'
import { levelLines, type ShownLevel } from '../../levels/status.ts'
import { LOCAL_OFFSET_MS, unitOf, type HourlySeries, type LatestByStation, type LatestValue, type SalinityLevel, type ShownByStation } from './data.ts'
import { esc, href, page } from './html.ts'
import { STRINGS, digitsOf, formatNumber, localClock, localDayLabel, type Lang, type Strings } from './i18n.ts'
import { chart, sparkline, type Threshold } from './svg.ts'

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
      label: [formatNumber(value, lang, Number.isInteger(value) ? 0 : digitsOf(kind)), name.includes(unit) ? '' : unit, name, side].filter(Boolean).join(' '),
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
  return `${formatNumber(v, lang, digitsOf(kind))} ${unitOf(kind)}`
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

export function renderBoard(d: BoardData): string {
  const t = STRINGS[d.lang]
  const win = last24hWindow(d.now)
  const spark = new Map(d.hourly.filter((h) => h.sensor === 'salinity').map((h) => [h.station, h.points]))
  const counts = { ok: 0, warning: 0, danger: 0 }
  const sorted = [...d.stations].sort((a, b) => (a.district ?? '').localeCompare(b.district ?? '', 'vi') || a.name.localeCompare(b.name, 'vi', { numeric: true }) || a.id.localeCompare(b.id))
  const rows = sorted.map((s) => {
    const shown = d.shown.get(s.id)?.salinity
    const lines = thresholdsOf('salinity', d.rules.get(s.id) ?? null, t, d.lang)
    const rated = lines.length > 0
    const level: SalinityLevel | 'none' | 'unrated' = !shown ? 'none' : !rated && shown.status === 'ok' ? 'unrated' : shown.status
    if (level !== 'none' && level !== 'unrated') counts[level]++
    const points = spark.get(s.id) ?? []
    const top = Math.max(...points.map((p) => p[1]))
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
    return `<tr class="row-${level}" data-station="${esc(s.id)}" data-level="${level}" data-zone="${esc(s.zone)}">
<td><a href="${esc(href(`/stations/${encodeURIComponent(s.id)}`, d.lang))}">${esc(s.name)}</a><div class="muted zone">${esc(t.zones[s.zone])}</div><div class="muted hide-sm">${esc(place(s))}</div></td>
<td class="num">${shown ? esc(valueText('salinity', shown.value, d.lang)) : '—'}<br>${badge(shown, t, rated)}${shown ? `<div class="when">${when(shown.ts, d.now, t)}</div>` : ''}</td>
<td>${sp}</td>
</tr>`
  })
  const smsHow = t.smsHomeHow(d.sms?.publicSmsNumber ? `<b>${esc(d.sms.publicSmsNumber)}</b>` : null)
  const body = `<h1>${esc(t.title)}</h1>
<p class="muted">${esc(t.intro)}</p>
${d.unavailable ? `<p class="notice" role="status">${esc(t.unavailable)}</p>` : `<p id="summary">${esc(t.summary(counts.danger, counts.warning, counts.ok))}</p>`}
${
  d.stations.length
    ? `<div class="scroll"><table id="stations">
<thead><tr><th scope="col">${esc(t.station)}</th><th scope="col">${esc(t.salinity)}</th><th scope="col">${esc(t.last24h)}</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table></div>`
    : `<p>${esc(t.noStations)}</p>`
}
<p id="sms" class="sms"><b>${esc(t.smsTitle)}:</b> ${smsHow}</p>`
  const other = t.otherLangCode
  return page({ lang: d.lang, t, title: t.title, otherLangHref: href('/', other), body })
}

export interface StationData {
  lang: Lang
  now: number
  station: Station
  latest: Partial<Record<SensorKind, LatestValue>>
  /** The level shown per sensor (levels/status.ts). */
  shown: Partial<Record<SensorKind, ShownLevel>>
  /** The rule in force per sensor (levels/book.ts). */
  rules: Partial<Record<SensorKind, SensorRule | null>>
  /** Hourly means of the last 7 days, one series per sensor. */
  hourly: readonly HourlySeries[]
  unavailable: boolean
  sms?: SubscribePanel
}

export function last7dWindow(now: number): { from: number; to: number } {
  const to = Math.floor(now / HOUR) * HOUR + HOUR
  return { from: to - 7 * DAY, to }
}

/** Local midnights in [from, to], labelled dd/mm. */
function localMidnights(from: number, to: number): Array<[number, string]> {
  const out: Array<[number, string]> = []
  let t = Math.ceil((from + LOCAL_OFFSET_MS) / DAY) * DAY - LOCAL_OFFSET_MS
  for (; t <= to; t += DAY) out.push([t, localDayLabel(t)])
  return out
}

export function renderStation(d: StationData): string {
  const t = STRINGS[d.lang]
  const s = d.station
  const win = last7dWindow(d.now)
  const kinds = SENSOR_KINDS.filter((k) => s.sensors.some((x) => x.kind === k))
  const byKind = new Map(d.hourly.map((h) => [h.sensor, h.points]))
  const latest = kinds
    .map((k) => {
      const shown = d.shown[k]
      // A badge only where the rule judges the value: a sensor without levels gets one only while a rise/change fires.
      const rated = levelLines(d.rules[k] ?? null).length > 0
      const extra = shown && (rated || shown.rise) ? ` ${badge(shown, t, rated)}` : ''
      return `<div data-sensor="${k}"><dt>${esc(t.sensor(k))}</dt><dd>${shown ? esc(valueText(k, shown.value, d.lang)) : esc(t.noData)}${extra}</dd>${shown ? `<p class="muted" style="margin:0">${when(shown.ts, d.now, t)}</p>` : ''}</div>`
    })
    .join('\n')
  const days = localMidnights(win.from, win.to)
  const charts = kinds
    .map((k) => {
      const points = byKind.get(k) ?? []
      const unit = unitOf(k)
      const svg = points.length
        ? chart({
            points,
            from: win.from,
            to: win.to,
            thresholds: thresholdsOf(k, d.rules[k] ?? null, t, d.lang),
            days,
            unit,
            label: t.chartLabel(t.sensor(k), unit),
            zero: k === 'salinity' || k === 'no2',
            format: (v) => formatNumber(v, d.lang, digitsOf(k)),
          })
        : `<p class="muted">${esc(t.noData)}</p>`
      return `<section class="param" data-sensor="${k}"><h2>${esc(t.sensor(k) === unit ? unit : `${t.sensor(k)} (${unit})`)}</h2>${svg}</section>`
    })
    .join('\n')
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
<p class="muted">${esc(t.last7d)}</p>
${charts}`
  const path = `/stations/${encodeURIComponent(s.id)}`
  return page({ lang: d.lang, t, title: `${s.name} · ${t.title}`, otherLangHref: href(path, t.otherLangCode), body })
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
