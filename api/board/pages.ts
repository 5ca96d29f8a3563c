import { SENSOR_KINDS, SENSORS, type SensorKind } from '../../core/sensors.ts'
import type { Station } from '../../devices/registry.ts'
import { LOCAL_OFFSET_MS, SALINITY_THRESHOLDS, levelsOf, salinityLevel, type HourlySeries, type LatestByStation, type LatestValue, type SalinityLevel } from './data.ts'
import { esc, href, page } from './html.ts'
import { STRINGS, digitsOf, formatNumber, localClock, localDayLabel, type Lang, type Strings } from './i18n.ts'
import { chart, sparkline, type Threshold } from './svg.ts'

/** The board's pages, rendered on the server from plain data; no I/O here. */
const HOUR = 3_600_000
const DAY = 86_400_000
const THRESHOLD_COLORS: Record<string, string> = { danger: '#b3261e' }
const WARNING_COLOR = '#9a6700'

function thresholdsOf(kind: SensorKind, t: Strings, lang: Lang): Threshold[] {
  return levelsOf(kind).map((l) => ({
    value: l.threshold,
    color: THRESHOLD_COLORS[l.name] ?? WARNING_COLOR,
    // "8,5 pH cao", not "8,5 pH pH cao": the unit is left out when the level's name carries it.
    label: [lang === 'vi' ? String(l.threshold).replace('.', ',') : String(l.threshold), (t.thresholdNames[l.name] ?? l.name).includes(SENSORS[kind].unit) ? '' : SENSORS[kind].unit, t.thresholdNames[l.name] ?? l.name].filter(Boolean).join(' '),
  }))
}

function badge(level: SalinityLevel | 'none', t: Strings): string {
  return `<span class="lv lv-${level}" data-level="${level}">${esc(t.levels[level])}</span>`
}

function valueText(kind: SensorKind, v: number, lang: Lang): string {
  return `${formatNumber(v, lang, digitsOf(kind))} ${SENSORS[kind].unit}`
}

function when(ts: number, now: number, t: Strings): string {
  return `<time datetime="${esc(new Date(ts).toISOString())}">${esc(t.ago(Math.max(0, now - ts)))}</time> <span class="muted clock">${esc(localClock(ts))}</span>`
}

function place(s: Station): string {
  return [s.commune, s.district].filter(Boolean).join(', ')
}

export interface BoardData {
  lang: Lang
  now: number
  stations: readonly Station[]
  latest: LatestByStation
  /** Hourly salinity means of the last 24 h. */
  hourly: readonly HourlySeries[]
  /** InfluxDB could not be read: stations are listed without values. */
  unavailable: boolean
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
    const sal = d.latest.get(s.id)?.salinity
    const level: SalinityLevel | 'none' = sal ? salinityLevel(sal.value) : 'none'
    if (level !== 'none') counts[level]++
    const points = spark.get(s.id) ?? []
    const sp = points.length
      ? sparkline({
          points,
          from: win.from,
          to: win.to,
          floor: SALINITY_THRESHOLDS.danger + 1,
          thresholds: thresholdsOf('salinity', t, d.lang),
          label: t.sparkLabel(formatNumber(Math.min(...points.map((p) => p[1])), d.lang), formatNumber(Math.max(...points.map((p) => p[1])), d.lang), SENSORS.salinity.unit),
        })
      : '<span class="muted">—</span>'
    return `<tr class="row-${level}" data-station="${esc(s.id)}" data-level="${level}">
<td><a href="${esc(href(`/stations/${encodeURIComponent(s.id)}`, d.lang))}">${esc(s.name)}</a><div class="muted hide-sm">${esc(place(s))}</div></td>
<td class="num">${sal ? esc(valueText('salinity', sal.value, d.lang)) : '—'}<br>${badge(level, t)}${sal ? `<div class="when">${when(sal.ts, d.now, t)}</div>` : ''}</td>
<td>${sp}</td>
</tr>`
  })
  const w = `${formatNumber(SALINITY_THRESHOLDS.warning, d.lang, 0)} ${SENSORS.salinity.unit}`
  const dg = `${formatNumber(SALINITY_THRESHOLDS.danger, d.lang, 0)} ${SENSORS.salinity.unit}`
  const body = `<h1>${esc(t.title)}</h1>
<p class="muted">${esc(t.intro(w, dg))}</p>
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
}`
  const other = t.otherLangCode
  return page({ lang: d.lang, t, title: t.title, otherLangHref: href('/', other), body })
}

export interface StationData {
  lang: Lang
  now: number
  station: Station
  latest: Partial<Record<SensorKind, LatestValue>>
  /** Hourly means of the last 7 days, one series per sensor. */
  hourly: readonly HourlySeries[]
  unavailable: boolean
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
      const v = d.latest[k]
      const extra = k === 'salinity' ? ` ${badge(v ? salinityLevel(v.value) : 'none', t)}` : ''
      return `<div data-sensor="${k}"><dt>${esc(t.sensor(k))}</dt><dd>${v ? esc(valueText(k, v.value, d.lang)) : esc(t.noData)}${extra}</dd>${v ? `<p class="muted" style="margin:0">${when(v.ts, d.now, t)}</p>` : ''}</div>`
    })
    .join('\n')
  const days = localMidnights(win.from, win.to)
  const charts = kinds
    .map((k) => {
      const points = byKind.get(k) ?? []
      const unit = SENSORS[k].unit
      const svg = points.length
        ? chart({
            points,
            from: win.from,
            to: win.to,
            thresholds: thresholdsOf(k, t, d.lang),
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
${d.unavailable ? `<p class="notice" role="status">${esc(t.unavailable)}</p>` : ''}
<h2>${esc(t.latest)}</h2>
<dl class="latest">
${latest}
</dl>
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
