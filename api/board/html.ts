import type { Lang, Strings } from './i18n.ts'
import { CHART_PLOT } from './svg.ts'

/**
 * HTML building blocks for the board. Every string that reaches the page
 * goes through esc(): station names and communes are typed by staff and must
 * never become markup.
 */
const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ENTITIES[c]!)
}

/** A URL on this site with the language kept (Vietnamese is the default and needs no parameter). */
export function href(path: string, lang: Lang): string {
  return lang === 'vi' ? path : `${path}?lang=${lang}`
}

/**
 * Colours meet WCAG AA against their backgrounds (≥ 4.5:1), and every level
 * also has a text label, so nothing depends on seeing colour.
 */
const CSS = `
*{box-sizing:border-box}
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1f24;background:#f6f8fa}
header,main,footer{max-width:60rem;margin:0 auto;padding:.75rem 1rem}
.wide>header,.wide>main,.wide>footer{max-width:84rem}
header{display:flex;justify-content:space-between;align-items:baseline;gap:1rem;flex-wrap:wrap}
h1{font-size:1.35rem;margin:.25rem 0}
h2{font-size:1.1rem;margin:1.25rem 0 .25rem}
a{color:#0b57a8}
.muted{color:#57606a;font-size:.9rem}
.lang{font-weight:600}
table{width:100%;border-collapse:collapse;background:#fff}
th,td{padding:.5rem .4rem;border-bottom:1px solid #d0d7de;text-align:left;vertical-align:middle}
th{font-size:.8rem;text-transform:uppercase;letter-spacing:.02em;color:#57606a}
td.num{font-variant-numeric:tabular-nums;white-space:nowrap;font-weight:700;font-size:1.1rem}
.when{font-weight:400;font-size:.85rem;margin-top:.15rem}
.lv{display:inline-block;padding:.1rem .45rem;border-radius:.3rem;font-weight:700;font-size:.85rem;white-space:nowrap}
.lv-ok{background:#dcf2e3;color:#0a5c24}
.lv-warning{background:#fff1c2;color:#6b4500;border:1px solid #d4a72c}
.lv-danger{background:#b3261e;color:#fff}
.lv-none,.lv-unrated{background:#eaeef2;color:#57606a}
tr.row-danger td:first-child{box-shadow:inset 4px 0 #b3261e}
tr.row-warning td:first-child{box-shadow:inset 4px 0 #d4a72c}
.spark{display:block;width:96px;height:28px}
.spark line{stroke-width:1;stroke-dasharray:2 2}
.spark path{fill:none;stroke:#24292f;stroke-width:1.5;stroke-linejoin:round}
.spark g{fill:#24292f}
.chart{display:block;width:100%;height:auto;background:#fff;border:1px solid #d0d7de;border-radius:.3rem}
dl.latest{display:grid;grid-template-columns:repeat(auto-fit,minmax(9rem,1fr));gap:.5rem;margin:.5rem 0}
dl.latest>div{background:#fff;border:1px solid #d0d7de;border-radius:.3rem;padding:.5rem}
dl.latest dt{font-size:.85rem;color:#57606a}
dl.latest dd{margin:0;font-weight:700;font-size:1.2rem}
.notice{background:#fff1c2;border:1px solid #d4a72c;padding:.5rem .75rem;border-radius:.3rem}
time{white-space:nowrap}
@media (max-width:36rem){.hide-sm,#stations .clock{display:none}th,td{padding:.4rem .2rem;font-size:.9rem}td.num{font-size:1rem}.spark{width:56px}}
.scroll{overflow-x:auto}
.map{height:20rem;margin:.5rem 0 1rem;border:1px solid #d0d7de;border-radius:.3rem;background:#e8eef4;z-index:0}
@media (min-width:62rem){.board.has-map{display:grid;grid-template-columns:minmax(0,5fr) minmax(0,6fr);gap:1.25rem;align-items:start}.has-map .map{position:sticky;top:.75rem;height:calc(100vh - 1.5rem);max-height:44rem;margin:0}}
.legend{background:rgba(255,255,255,.92);padding:.2rem .45rem;border-radius:.3rem;font-size:.78rem;line-height:1.5;color:#1b1f24;max-width:15rem;display:flex;flex-wrap:wrap;gap:0 .6rem}
.legend .dot{display:inline-block;width:.7rem;height:.7rem;border-radius:50%;box-shadow:0 0 0 1px #fff,0 0 0 2px #8c959f;vertical-align:-.05rem}
.tabs{display:flex;gap:.25rem;margin:1.25rem 0 .25rem;flex-wrap:wrap}
.tabs a{padding:.45rem .9rem;border:1px solid #d0d7de;border-radius:1.2rem;background:#fff;text-decoration:none;font-weight:600}
.tabs a[aria-current]{background:#0b57a8;border-color:#0b57a8;color:#fff}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,26rem),1fr));gap:0 1.25rem}
.chart{max-width:40rem}
.hit rect{y:${CHART_PLOT.y0}px;height:${CHART_PLOT.y1 - CHART_PLOT.y0}px;width:var(--w);fill:transparent}
.hit rect:hover,.hit rect.on{fill:rgba(11,87,168,.15)}
.param{position:relative}
.tip{position:absolute;z-index:2;pointer-events:none;background:#1b1f24;color:#fff;padding:.2rem .45rem;border-radius:.25rem;font-size:.9rem;white-space:nowrap}
.derived{margin:0;font-size:.8rem}
ul.open{padding-left:1.2rem}
ul.open li{margin:.5rem 0}
ul.open code{overflow-wrap:anywhere}
a:focus-visible{outline:3px solid #0b57a8;outline-offset:2px}
.zone{font-size:.8rem}
.sms{background:#fff;border:1px solid #d0d7de;border-radius:.3rem;padding:.5rem .75rem;margin:1rem 0}
.sms h2{margin-top:0}
.code{font-size:1.15rem;letter-spacing:.05em;white-space:nowrap}
.smsg{margin:0;padding:.5rem .75rem;background:#eef6ff;border-left:3px solid #0b57a8;font-size:.9rem;white-space:pre-wrap}
`.replace(/\n/g, '')

export interface PageOptions {
  lang: Lang
  t: Strings
  title: string
  /** The same page in the other language. */
  otherLangHref: string
  body: string
  /** Wider main column (the board's map beside its list). */
  wide?: boolean
  /** Same-origin scripts, each optional: the page works without them. */
  scripts?: readonly string[]
}

export function page(o: PageOptions): string {
  return `<!doctype html>
<html lang="${esc(o.t.htmlLang)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(o.title)}</title>
<style>${CSS}</style>
</head>
<body${o.wide ? ' class="wide"' : ''}>
<header><a href="${esc(href('/', o.lang))}" style="text-decoration:none;color:inherit"><strong>tidewatch · Cà Mau</strong></a>
<a class="lang" id="lang-toggle" href="${esc(o.otherLangHref)}" hreflang="${esc(o.t.otherLangCode)}" lang="${esc(o.t.otherLangCode)}">${esc(o.t.otherLang)}</a></header>
<main>
${o.body}
</main>
<footer class="muted">${esc(o.t.localTime)} · <a href="${esc(href('/open-data', o.lang))}">${esc(o.t.openData)}</a></footer>
${(o.scripts ?? []).map((src) => `<script src="${esc(src)}" defer></script>`).join('\n')}
</body>
</html>
`
}
