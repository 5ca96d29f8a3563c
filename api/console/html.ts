import { LOCAL_OFFSET_MS } from '../../core/local-time.ts'
import { isSensorKind, SENSORS } from '../../core/sensors.ts'
import { esc } from '../board/html.ts'
import { STRINGS } from '../board/i18n.ts'
import type { Zone } from '../../levels/zones.ts'
import { FIELD_VI, type FieldIssue } from './messages.ts'
import type { Session } from './sessions.ts'

export { esc }

/**
 * The console's HTML: one layout, a few helpers. Server-rendered, no build
 * step, no framework; the only script is the tiny inline one below (CSV file →
 * textarea, "copy"), and every page works without it. Every value goes
 * through esc(). Sized for an office PC at 1366 px.
 */
const CSS = `
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1f24;background:#f6f8fa}
.top{background:#0b3d5c;color:#fff}
.top .in{max-width:84rem;margin:0 auto;padding:.45rem 1rem;display:flex;align-items:center;gap:.35rem;flex-wrap:wrap;font-size:.95rem}
.top a{color:#fff;text-decoration:none;padding:.3rem .55rem;border-radius:.3rem;white-space:nowrap}
.top a.on,.top a:hover{background:#1d6a96}
.top .brand{font-weight:700;margin-right:.5rem}
.top .who{margin-left:auto;display:flex;gap:.5rem;align-items:center;font-size:.9rem;white-space:nowrap}
.top .tag{background:#d8e9f4;color:#0b3d5c}
.top .who button{background:transparent;color:#fff;border:1px solid #9cc3dc;padding:.2rem .6rem;border-radius:.3rem;cursor:pointer}
main{max-width:84rem;margin:0 auto;padding:1rem}
h1{font-size:1.35rem;margin:.25rem 0 .75rem}
h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
a{color:#0b57a8}
.muted{color:#57606a;font-size:.9rem}
table{width:100%;border-collapse:collapse;background:#fff;margin:.25rem 0 1rem;font-size:.92rem}
th,td{padding:.4rem .45rem;border-bottom:1px solid #d0d7de;text-align:left;vertical-align:top;overflow-wrap:break-word}
.brk{overflow-wrap:anywhere}
.nw{white-space:nowrap}
th{font-size:.78rem;text-transform:uppercase;letter-spacing:.02em;color:#57606a;background:#f0f3f6}
td.n{font-variant-numeric:tabular-nums;text-align:right;white-space:nowrap}
tr.off td{color:#6e7781}
.tag{display:inline-block;padding:.05rem .4rem;border-radius:.3rem;font-size:.8rem;font-weight:600;white-space:nowrap;background:#eaeef2}
.tag.ok{background:#dafbe1;color:#116329}.tag.warn{background:#fff8c5;color:#7d4e00}.tag.bad{background:#ffebe9;color:#a40e26}
form.inline{display:inline}
fieldset{border:1px solid #d0d7de;background:#fff;padding:.75rem 1rem;margin:0 0 1rem;border-radius:.4rem}
legend{font-weight:700;padding:0 .3rem}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(13rem,1fr));gap:.6rem 1rem}
label{display:block;font-size:.85rem;color:#333}
label.chk{display:inline-flex;gap:.3rem;align-items:center;margin-right:.8rem}
input,select,textarea{font:inherit;padding:.3rem .4rem;border:1px solid #8c959f;border-radius:.3rem;width:100%;background:#fff}
input[type=checkbox]{width:auto}
textarea{min-height:7rem;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85rem}
.btn{margin-right:.75rem}
button,.btn{font:inherit;padding:.35rem .8rem;border-radius:.3rem;border:1px solid #0b57a8;background:#0b57a8;color:#fff;cursor:pointer;text-decoration:none;display:inline-block}
button.sec{background:#fff;color:#0b57a8}
button.danger{background:#fff;color:#a40e26;border-color:#a40e26}
button.small{padding:.1rem .5rem;font-size:.82rem}
.msg{padding:.6rem .8rem;border-radius:.4rem;margin:0 0 1rem}
.msg.ok{background:#dafbe1;border:1px solid #4ac26b}
.msg.err{background:#ffebe9;border:1px solid #ff8182}
.msg code{font-size:.8rem;color:#57606a}
.bad-field input,.bad-field select{border-color:#cf222e;background:#fff5f5}
.field-err{color:#a40e26;font-size:.8rem}
pre{white-space:pre-wrap;word-break:break-all;margin:0;font-size:.8rem;max-width:36rem}
.secret{font:600 1.1rem ui-monospace,Menlo,Consolas,monospace;background:#fff8c5;padding:.4rem .6rem;border-radius:.3rem;display:inline-block}
.filters{display:flex;gap:.6rem;align-items:flex-end;flex-wrap:wrap;margin-bottom:.75rem}
.filters label{width:auto}
.filters input,.filters select{width:12rem}
.timeline{list-style:none;padding:0;margin:0 0 1rem;background:#fff;border:1px solid #d0d7de;border-radius:.4rem}
.timeline li{padding:.45rem .7rem;border-bottom:1px solid #eaeef2}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:1rem}
.login{max-width:26rem;margin:3rem auto}
`

/** Progressive enhancement only: a chosen CSV file is read into the textarea next to it. */
const SCRIPT = `document.addEventListener('change',function(e){var f=e.target;if(!f||f.type!=='file'||!f.dataset.into)return;var t=document.getElementById(f.dataset.into);var file=f.files&&f.files[0];if(!t||!file)return;file.text().then(function(s){t.value=s})})`

export const NAV: Array<[string, string]> = [
  ['/console/stations', 'Trạm'],
  ['/console/levels', 'Ngưỡng cảnh báo'],
  ['/console/farmers', 'Nông dân'],
  ['/console/incidents', 'Sự cố'],
  ['/console/outbox', 'Tin nhắn'],
  ['/console/quarantine', 'Số đo bị từ chối'],
  ['/console/audit', 'Nhật ký thay đổi'],
]

const ROLE_VI = { read: 'chỉ xem', staff: 'cán bộ', admin: 'quản trị' } as const

export function layout(o: { title: string; session?: Session; active?: string; body: string }): string {
  const s = o.session
  const nav = s
    ? `<nav class="top"><div class="in"><span class="brand">tidewatch · Bảng điều hành</span>${NAV.map(([href, label]) => `<a href="${href}"${o.active === href ? ' class="on" aria-current="page"' : ''}>${label}</a>`).join('')}
<span class="who">${esc(s.principal.name)} <span class="tag">${ROLE_VI[s.principal.role]}</span>
<form class="inline" method="post" action="/console/sign-out">${csrfField(s)}<button type="submit">Đăng xuất</button></form></span></div></nav>`
    : ''
  return `<!doctype html><html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(o.title)} · tidewatch</title><style>${CSS}</style></head><body>${nav}<main>${o.body}</main><script>${SCRIPT}</script></body></html>`
}

export function csrfField(s: Session): string {
  return `<input type="hidden" name="_csrf" value="${esc(s.csrf)}">`
}

/** A POST form with the CSRF token: `<form …>` + hidden field; close with `</form>`. */
export function form(s: Session, action: string, cls = ''): string {
  return `<form method="post" action="${esc(action)}"${cls ? ` class="${cls}"` : ''}>${csrfField(s)}`
}

/** One small button form, e.g. enable/disable, retry. */
export function actionButton(s: Session, action: string, label: string, opts: { cls?: string; hidden?: Record<string, string> } = {}): string {
  const hidden = Object.entries(opts.hidden ?? {}).map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`).join('')
  return `${form(s, action, 'inline')}${hidden}<button type="submit" class="small ${opts.cls ?? 'sec'}">${esc(label)}</button></form>`
}

export function okMessage(text: string | undefined): string {
  return text ? `<div class="msg ok" role="status">${esc(text)}</div>` : ''
}

export function errorMessage(e: { code: string; text: string; issues: FieldIssue[] } | undefined): string {
  if (!e) return ''
  const list = e.issues.length ? `<ul>${e.issues.map((i) => `<li><b>${esc(FIELD_VI[i.field] ?? i.field)}</b>: ${esc(i.message)}</li>`).join('')}</ul>` : ''
  return `<div class="msg err" role="alert">${esc(e.text)} <code>${esc(e.code)}</code>${list}</div>`
}

export interface FieldOpts {
  type?: string
  value?: unknown
  required?: boolean
  step?: string
  placeholder?: string
  issues?: FieldIssue[]
  hint?: string
}

export function field(name: string, label: string, o: FieldOpts = {}): string {
  const bad = o.issues?.find((i) => i.field === name || i.field.startsWith(`${name}.`))
  const v = o.value === undefined || o.value === null ? '' : String(o.value)
  return `<div${bad ? ' class="bad-field"' : ''}><label for="f-${esc(name)}">${esc(label)}</label><input id="f-${esc(name)}" name="${esc(name)}" type="${o.type ?? 'text'}" value="${esc(v)}"${o.required ? ' required' : ''}${o.step ? ` step="${o.step}"` : ''}${o.placeholder ? ` placeholder="${esc(o.placeholder)}"` : ''}>${bad ? `<div class="field-err">${esc(bad.message)}</div>` : ''}${o.hint ? `<div class="muted">${esc(o.hint)}</div>` : ''}</div>`
}

export function select(name: string, label: string, options: Array<[string, string]>, value: unknown, issues?: FieldIssue[]): string {
  const bad = issues?.find((i) => i.field === name)
  return `<div${bad ? ' class="bad-field"' : ''}><label for="f-${esc(name)}">${esc(label)}</label><select id="f-${esc(name)}" name="${esc(name)}">${options.map(([v, l]) => `<option value="${esc(v)}"${String(value ?? '') === v ? ' selected' : ''}>${esc(l)}</option>`).join('')}</select>${bad ? `<div class="field-err">${esc(bad.message)}</div>` : ''}</div>`
}

export function table(headers: string[], rows: string[][], empty = 'Chưa có dữ liệu.', rowClass?: (i: number) => string): string {
  if (rows.length === 0) return `<p class="muted">${esc(empty)}</p>`
  const head = headers.some(Boolean) ? `<thead><tr>${headers.map((h) => `<th>${h}</th>`).join('')}</tr></thead>` : ''
  return `<table>${head}<tbody>${rows.map((r, i) => `<tr${rowClass?.(i) ? ` class="${rowClass(i)}"` : ''}>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`
}

/** Local (UTC+7) date and time, dd/mm/yyyy hh:mm, as staff write it. */
export function when(ts: number | null | undefined): string {
  if (!ts) return '—'
  const d = new Date(ts + LOCAL_OFFSET_MS).toISOString()
  return `${d.slice(8, 10)}/${d.slice(5, 7)}/${d.slice(0, 4)} ${d.slice(11, 16)}`
}

export function ago(ts: number | null | undefined, now: number): string {
  if (!ts) return 'chưa bao giờ'
  const s = Math.max(0, Math.round((now - ts) / 1000))
  if (s < 90) return `${s} giây trước`
  if (s < 5400) return `${Math.round(s / 60)} phút trước`
  if (s < 172_800) return `${Math.round(s / 3600)} giờ trước`
  return `${Math.round(s / 86_400)} ngày trước`
}

export const ZONE_VI: Record<Zone, string> = STRINGS.vi.zones

export function sensorLabel(kind: string): string {
  if (!isSensorKind(kind)) return kind
  const { label, unit } = SENSORS[kind]
  return label === unit ? label : `${label} (${unit})`
}

/** A stored +84… number as staff and farmers write it: 0912 345 678. */
export function phoneText(p: string | null | undefined): string {
  if (!p) return '—'
  const local = p.replace(/^\+84/, '0')
  return /^0\d{9}$/.test(local) ? `${local.slice(0, 4)} ${local.slice(4, 7)} ${local.slice(7)}` : local
}

/** A level's name as the board shows it (api/board/i18n.ts thresholdNames), else as stored. */
export function levelLabel(name: string | null | undefined): string {
  if (!name) return '—'
  const vi = STRINGS.vi.thresholdNames[name] ?? ({ rise: 'tăng nhanh', change: 'dao động mạnh', no_data: 'mất tín hiệu' } as Record<string, string>)[name]
  return vi ? `${vi} (${name})` : name
}

export const KIND_VI: Record<string, string> = { alert: 'cảnh báo', resolved: 'báo hết', reply: 'trả lời từ khoá' }

/** Vietnamese decimal comma, as staff read numbers. */
export function num(v: number | null | undefined, digits = 2): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—'
  return Number(v.toFixed(digits)).toLocaleString('vi-VN', { maximumFractionDigits: digits })
}
