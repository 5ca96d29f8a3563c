import { esc } from './html.ts'

/**
 * Inline SVG charts: no script, no external request, a few hundred bytes per
 * sparkline. Gaps longer than one slot break the line instead of drawing a
 * straight line across an outage.
 */
export interface Threshold {
  value: number
  label: string
  /** CSS colour of the line. */
  color: string
}

const f = (n: number): string => (Math.round(n * 10) / 10).toString()

interface Frame {
  x0: number
  x1: number
  from: number
  to: number
  y0: number
  y1: number
  lo: number
  hi: number
}

const xOf = (fr: Frame, t: number) => fr.x0 + ((t - fr.from) / (fr.to - fr.from)) * (fr.x1 - fr.x0)
const yOf = (fr: Frame, v: number) => fr.y1 - ((v - fr.lo) / (fr.hi - fr.lo || 1)) * (fr.y1 - fr.y0)

/** An SVG path through the points, broken where consecutive points are more than maxGap apart. */
function pathOf(fr: Frame, points: ReadonlyArray<readonly [number, number]>, maxGap: number): string {
  let d = ''
  let prev: number | undefined
  for (const [t, v] of points) {
    const cmd = prev === undefined || t - prev > maxGap ? 'M' : 'L'
    d += `${cmd}${f(xOf(fr, t))} ${f(yOf(fr, v))}`
    prev = t
  }
  return d
}

/** Isolated points (no neighbour within maxGap) get a dot, or they would be invisible. */
function dotsOf(fr: Frame, points: ReadonlyArray<readonly [number, number]>, maxGap: number, r: number): string {
  return points
    .filter(([t], i) => !(i > 0 && t - points[i - 1]![0] <= maxGap) && !(i < points.length - 1 && points[i + 1]![0] - t <= maxGap))
    .map(([t, v]) => `<circle cx="${f(xOf(fr, t))}" cy="${f(yOf(fr, v))}" r="${r}"/>`)
    .join('')
}

/**
 * 24 h sparkline of hourly means; the scale is shared by all stations (0 to
 * at least `floor`). The board carries one per station, so every repeated
 * attribute lives in the page's CSS (.spark in html.ts) and the <title> alone
 * names it (title is an SVG image's accessible name and its tooltip).
 */
export function sparkline(opts: { points: ReadonlyArray<readonly [number, number]>; from: number; to: number; floor: number; thresholds: readonly Threshold[]; label: string }): string {
  const max = Math.max(opts.floor, ...opts.points.map(([, v]) => v))
  const fr: Frame = { x0: 1, x1: 95, from: opts.from, to: opts.to, y0: 2, y1: 26, lo: 0, hi: max * 1.05 }
  const lines = opts.thresholds
    .filter((t) => t.value <= fr.hi)
    .map((t) => `<line x2="96" y1="${f(yOf(fr, t.value))}" y2="${f(yOf(fr, t.value))}" stroke="${esc(t.color)}"/>`)
    .join('')
  const dots = dotsOf(fr, opts.points, 3_600_000, 1.5)
  return `<svg class="spark" viewBox="0 0 96 28" role="img"><title>${esc(opts.label)}</title>${lines}<path d="${pathOf(fr, opts.points, 3_600_000)}"/>${dots ? `<g>${dots}</g>` : ''}</svg>`
}

/**
 * Axis ticks at "nice" steps (1, 2 or 5 × 10^k), about `count` of them,
 * covering [lo, hi]: 10/10/11 on a water-level axis came from rounding the
 * ends and middle of a narrow range to whole centimetres.
 */
export function niceTicks(lo: number, hi: number, count = 4): { ticks: number[]; step: number; lo: number; hi: number } {
  const span = hi - lo || Math.abs(hi) || 1
  const raw = span / Math.max(1, count)
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw * 0.999) ?? 10 * mag
  const first = Math.floor(lo / step + 1e-9) * step
  const last = Math.ceil(hi / step - 1e-9) * step
  const ticks: number[] = []
  for (let v = first; v <= last + step / 2; v += step) ticks.push(Math.round(v / step) * step)
  return { ticks, step, lo: first, hi: last === first ? first + step : last }
}

/** Decimals a tick step needs: 0.5 → 1, 0.25 → 2, 10 → 0. */
export function stepDecimals(step: number): number {
  for (let d = 0; d < 6; d++) if (Math.abs(Math.round(step * 10 ** d) - step * 10 ** d) < 1e-6) return d
  return 6
}

/** The plot's top and bottom in chart units; html.ts sizes the hit columns from it. */
export const CHART_PLOT = Object.freeze({ y0: 32, y1: 178 })

/**
 * A chart of bucket means over a window: x labels (days or hours), y ticks at
 * nice steps, threshold lines labelled with their level, the series, and one
 * invisible column per point whose <title> names its time and value, so a
 * hover (or a tap, with board.js) reads the value without any script.
 * Drawn at 420 units wide and shown at most ~36rem: chart text stays near the
 * body size on a phone (≈12 px at 390 px) and on a desktop (≈15 px, two charts a row).
 */
export function chart(opts: {
  points: ReadonlyArray<readonly [number, number]>
  from: number
  to: number
  /** Bucket length: points further apart than this are not joined. */
  stepMs: number
  thresholds: readonly Threshold[]
  /** x labels inside [from, to] with their grid line. */
  xLabels: ReadonlyArray<readonly [number, string]>
  unit: string
  label: string
  /** Lower bound of the y axis, when the quantity has a natural zero (salinity, NO2). */
  zero?: boolean
  /** Value text for a tick with the given decimals, and for a point (sensor precision). */
  format: (v: number, decimals?: number) => string
  /** Hover text of a point: its local time. */
  timeOf: (t: number) => string
}): string {
  const W = 420
  const H = 200
  const values = [...opts.points.map(([, v]) => v), ...opts.thresholds.map((t) => t.value)]
  let lo = values.length ? Math.min(...values) : 0
  let hi = values.length ? Math.max(...values) : 1
  if (opts.zero) lo = Math.min(0, lo)
  const nice = niceTicks(lo, hi, 4)
  lo = opts.zero ? Math.min(0, nice.lo) : nice.lo
  hi = nice.hi
  const dec = stepDecimals(nice.step)
  const tickText = nice.ticks.map((v) => opts.format(v, dec))
  const CHAR_PX = 7.8
  // The gutter fits the longest tick label; the unit sits above it, outside the plot, so no threshold line runs through it.
  const x0 = Math.max(28, Math.ceil(Math.max(...tickText.map((s) => s.length)) * CHAR_PX) + 10)
  const fr: Frame = { x0, x1: W - 6, from: opts.from, to: opts.to, y0: CHART_PLOT.y0, y1: CHART_PLOT.y1, lo, hi }
  const parts: string[] = []
  for (const [t, label] of opts.xLabels) {
    const x = xOf(fr, t)
    // A label that would run past the right edge ends at its line instead.
    const anchor = x + label.length * CHAR_PX * 0.5 > W ? 'end' : 'middle'
    parts.push(`<line x1="${f(x)}" x2="${f(x)}" y1="${fr.y0}" y2="${fr.y1}" stroke="#eaeef2"/><text x="${f(x)}" y="${H - 6}" text-anchor="${anchor}">${esc(label)}</text>`)
  }
  nice.ticks.forEach((v, i) => {
    const y = f(yOf(fr, v))
    parts.push(`<line x1="${fr.x0}" x2="${fr.x1}" y1="${y}" y2="${y}" stroke="#eaeef2"/><text x="${fr.x0 - 5}" y="${y}" text-anchor="end" dominant-baseline="middle">${esc(tickText[i])}</text>`)
  })
  // Labels of lines closer than a text line (BĐ1–BĐ3 are 10 cm apart) move left of the one above instead of overprinting it.
  const LINE_PX = 14
  const placed: Array<{ y: number; right: number; width: number }> = []
  // Labels go on top of the series, their white halo keeping them legible where the line crosses them.
  const labels: string[] = []
  for (const t of [...opts.thresholds].sort((a, b) => b.value - a.value)) {
    const y = yOf(fr, t.value)
    const width = t.label.length * CHAR_PX
    let right = fr.x1 - 4
    for (const p of placed) if (Math.abs(p.y - y) < LINE_PX && right > p.right - p.width - 8) right = p.right - p.width - 8
    placed.push({ y, right, width })
    parts.push(`<line class="threshold" x1="${fr.x0}" x2="${fr.x1}" y1="${f(y)}" y2="${f(y)}" stroke="${esc(t.color)}" stroke-width="1.5" stroke-dasharray="6 4"/>`)
    labels.push(`<text x="${f(right)}" y="${f(y - 4)}" text-anchor="end" fill="${esc(t.color)}" stroke="#fff" stroke-width="3" paint-order="stroke">${esc(t.label)}</text>`)
  }
  parts.push(`<path class="series" d="${pathOf(fr, opts.points, opts.stepMs)}" fill="none" stroke="#0b57a8" stroke-width="2" stroke-linejoin="round"/>`)
  parts.push(`<g fill="#0b57a8">${dotsOf(fr, opts.points, opts.stepMs, 2.5)}</g>`)
  parts.push(...labels)
  // One hit column per point, as wide as its bucket: the <title> is the tooltip. Its y and height come from
  // the page's CSS (.hit rect in html.ts, from CHART_PLOT) and its width from the group's --w, which keeps ~30 bytes off each of hundreds of points.
  const colW = Math.max(1, ((fr.x1 - fr.x0) * opts.stepMs) / (opts.to - opts.from))
  const hits = opts.points
    .map(([t, v]) => `<rect x="${f(xOf(fr, t) - colW / 2)}"><title>${esc(`${opts.timeOf(t)}: ${opts.format(v)} ${opts.unit}`)}</title></rect>`)
    .join('')
  parts.push(`<g class="hit" style="--w:${f(colW)}px">${hits}</g>`)
  parts.push(`<text x="4" y="13" dominant-baseline="middle" class="unit" font-weight="600">${esc(opts.unit)}</text>`)
  return `<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(opts.label)}" font-size="14" fill="#57606a"><title>${esc(opts.label)}</title><line x1="${fr.x0}" x2="${fr.x0}" y1="${fr.y0}" y2="${fr.y1}" stroke="#8c959f"/><line x1="${fr.x0}" x2="${fr.x1}" y1="${fr.y1}" y2="${fr.y1}" stroke="#8c959f"/>${parts.join('')}</svg>`
}
