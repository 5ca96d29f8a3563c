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

/** 24 h sparkline of hourly means; the scale is shared by all stations (0 to at least `floor`). */
export function sparkline(opts: { points: ReadonlyArray<readonly [number, number]>; from: number; to: number; floor: number; thresholds: readonly Threshold[]; label: string }): string {
  const max = Math.max(opts.floor, ...opts.points.map(([, v]) => v))
  const fr: Frame = { x0: 1, x1: 95, from: opts.from, to: opts.to, y0: 2, y1: 26, lo: 0, hi: max * 1.05 }
  const lines = opts.thresholds
    .filter((t) => t.value <= fr.hi)
    .map((t) => `<line x1="0" x2="96" y1="${f(yOf(fr, t.value))}" y2="${f(yOf(fr, t.value))}" stroke="${esc(t.color)}" stroke-width="1" stroke-dasharray="2 2"/>`)
    .join('')
  return `<svg class="spark" viewBox="0 0 96 28" role="img" aria-label="${esc(opts.label)}"><title>${esc(opts.label)}</title>${lines}<path d="${pathOf(fr, opts.points, 3_600_000)}" fill="none" stroke="#24292f" stroke-width="1.5" stroke-linejoin="round"/><g fill="#24292f">${dotsOf(fr, opts.points, 3_600_000, 1.5)}</g></svg>`
}

/** Tick values: the ends of the range and one in the middle. */
function ticks(lo: number, hi: number): number[] {
  return [lo, (lo + hi) / 2, hi]
}

/**
 * A 7-day chart with day grid lines (local midnight), y ticks, threshold lines
 * labelled with their level, and the hourly means.
 */
export function chart(opts: {
  points: ReadonlyArray<readonly [number, number]>
  from: number
  to: number
  thresholds: readonly Threshold[]
  /** Local midnights inside [from, to], with their labels. */
  days: ReadonlyArray<readonly [number, string]>
  unit: string
  label: string
  /** Lower bound of the y axis, when the quantity has a natural zero (salinity, NO2). */
  zero?: boolean
  format: (v: number) => string
}): string {
  const W = 480
  const H = 190
  const values = [...opts.points.map(([, v]) => v), ...opts.thresholds.map((t) => t.value)]
  let lo = values.length ? Math.min(...values) : 0
  let hi = values.length ? Math.max(...values) : 1
  if (opts.zero) lo = Math.min(0, lo)
  const pad = (hi - lo || Math.abs(hi) || 1) * 0.08
  hi += pad
  if (!opts.zero) lo -= pad
  const fr: Frame = { x0: 50, x1: W - 8, from: opts.from, to: opts.to, y0: 10, y1: H - 24, lo, hi }
  const parts: string[] = []
  for (const [t, label] of opts.days) {
    const x = f(xOf(fr, t))
    parts.push(`<line x1="${x}" x2="${x}" y1="${fr.y0}" y2="${fr.y1}" stroke="#d0d7de"/><text x="${x}" y="${H - 8}" text-anchor="middle">${esc(label)}</text>`)
  }
  for (const v of ticks(lo, hi)) {
    const y = f(yOf(fr, v))
    parts.push(`<text x="${fr.x0 - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${esc(opts.format(v))}</text>`)
  }
  // Labels of lines closer than a text line (BĐ1–BĐ3 are 10 cm apart) move left of the one above instead of overprinting it.
  const LINE_PX = 15
  const CHAR_PX = 7.5
  const placed: Array<{ y: number; right: number; width: number }> = []
  for (const t of [...opts.thresholds].sort((a, b) => b.value - a.value)) {
    const y = yOf(fr, t.value)
    const width = t.label.length * CHAR_PX
    let right = fr.x1 - 4
    for (const p of placed) if (Math.abs(p.y - y) < LINE_PX && right > p.right - p.width - 8) right = p.right - p.width - 8
    placed.push({ y, right, width })
    parts.push(
      `<line class="threshold" x1="${fr.x0}" x2="${fr.x1}" y1="${f(y)}" y2="${f(y)}" stroke="${esc(t.color)}" stroke-width="1.5" stroke-dasharray="6 4"/>` +
        `<text x="${f(right)}" y="${f(y - 4)}" text-anchor="end" fill="${esc(t.color)}">${esc(t.label)}</text>`,
    )
  }
  parts.push(`<path class="series" d="${pathOf(fr, opts.points, 3_600_000)}" fill="none" stroke="#0b57a8" stroke-width="2" stroke-linejoin="round"/>`)
  parts.push(`<g fill="#0b57a8">${dotsOf(fr, opts.points, 3_600_000, 2.5)}</g>`)
  parts.push(`<text x="${fr.x0 + 4}" y="${fr.y0 + 2}" dominant-baseline="hanging" class="unit">${esc(opts.unit)}</text>`)
  return `<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(opts.label)}" font-size="14" fill="#57606a"><title>${esc(opts.label)}</title><line x1="${fr.x0}" x2="${fr.x0}" y1="${fr.y0}" y2="${fr.y1}" stroke="#8c959f"/><line x1="${fr.x0}" x2="${fr.x1}" y1="${fr.y1}" y2="${fr.y1}" stroke="#8c959f"/>${parts.join('')}</svg>`
}
