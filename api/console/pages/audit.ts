import type { FastifyInstance } from 'fastify'
import { localDayStart } from '../../../core/local-time.ts'
import { esc, table, when } from '../html.ts'
import type { ConsoleCtx } from '../routes.ts'

/**
 * Audit: who changed what and when, filterable by person, action, target and
 * date. Before/after are shown as the fields that changed, not as JSON.
 */
const A = '/console/audit'

export const ACTION_VI: Record<string, string> = {
  'console.sign_in': 'đăng nhập bảng điều hành',
  'console.sign_out': 'đăng xuất',
  'station.create': 'thêm trạm',
  'station.update': 'sửa trạm',
  'station.delete': 'xoá trạm',
  'station.rotate': 'cấp mật khẩu mới cho trạm',
  'station.calibrate': 'hiệu chuẩn cảm biến',
  'rule.set': 'đặt ngưỡng',
  'rule.remove': 'bỏ ngưỡng riêng',
  'subscriber.create': 'thêm người nhận tin',
  'subscriber.update': 'sửa người nhận tin',
  'subscriber.delete': 'xoá người nhận tin',
  'incident.ack': 'xác nhận sự cố',
  'outbox.retry': 'gửi lại tin nhắn',
  'quarantine.release': 'đưa số đo vào lại',
  'quarantine.discard': 'bỏ số đo bị từ chối',
}

function short(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v)
  if (s === undefined) return '—'
  return s.length > 60 ? `${s.slice(0, 60)}…` : s
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object'

/** Leaf paths that differ (sensors.2.calibration.scale), descending into objects and arrays a few levels. */
function diffPaths(b: unknown, a: unknown, path: string, depth: number, out: Array<[string, unknown, unknown]>): void {
  if (JSON.stringify(b) === JSON.stringify(a)) return
  if (depth > 0 && isObj(b) && isObj(a)) {
    for (const k of new Set([...Object.keys(b), ...Object.keys(a)])) diffPaths(b[k], a[k], path ? `${path}.${k}` : k, depth - 1, out)
    return
  }
  out.push([path, b, a])
}

/** The fields that differ between before and after, one per line; a creation lists what it set. */
export function changes(before: unknown, after: unknown): string[] {
  if (before === undefined && after === undefined) return []
  const diffs: Array<[string, unknown, unknown]> = []
  if (before === undefined && isObj(after)) for (const [k, v] of Object.entries(after)) diffs.push([k, undefined, v])
  else diffPaths(before, after, '', 4, diffs)
  const lines = diffs.slice(0, 8).map(([k, b, a]) => (before === undefined ? `${k}: ${short(a)}` : a === undefined ? `${k}: ${short(b)} → (xoá)` : `${k}: ${short(b)} → ${short(a)}`))
  if (diffs.length > 8) lines.push(`… và ${diffs.length - 8} trường khác`)
  return lines
}

export function auditPages(app: FastifyInstance, ctx: ConsoleCtx): void {
  app.get(A, async (req, reply) => {
    const q = req.query as Record<string, string>
    const since = q.from ? localDayStart(q.from) : undefined
    const until = q.to ? localDayStart(q.to) + 86_400_000 : undefined
    // Bounded: the newest 1000 records matching person and date, then the text filters.
    // In cluster mode both are read from the shared PostgreSQL log (api/server.ts ApiDeps.audit).
    const entries = (await ctx.deps.audit.query({ actor: q.actor || undefined, since: since && Number.isFinite(since) ? since : undefined, limit: 1000 })).filter((e) => (!until || e.at < until) && (!q.action || e.action.includes(q.action)) && (!q.target || e.target.includes(q.target)))
    const actors = await ctx.deps.audit.actors()
    const rows = entries.slice(0, 300).map((e) => [
      `<span style="white-space:nowrap">${esc(when(e.at))}</span>`,
      `<b data-actor>${esc(e.actor)}</b> <span class="muted">${esc(e.role)}</span>`,
      `${esc(ACTION_VI[e.action] ?? e.action)}<div class="muted"><code>${esc(e.action)}</code></div>`,
      `<span class="brk">${esc(e.target)}</span>`,
      `<span class="muted brk">${changes(e.before, e.after).map(esc).join('<br>')}</span>`,
      `<span class="muted" style="white-space:nowrap">${esc(e.ip ?? '')}</span>`,
    ])
    const filters = `<form method="get" action="${A}" class="filters">
<div><label for="a">Người thực hiện</label><select id="a" name="actor"><option value="">tất cả</option>${actors.map((a) => `<option${a === q.actor ? ' selected' : ''}>${esc(a)}</option>`).join('')}</select></div>
<div><label for="ac">Hành động chứa</label><input id="ac" name="action" value="${esc(q.action ?? '')}" placeholder="vd. station"></div>
<div><label for="t">Đối tượng chứa</label><input id="t" name="target" value="${esc(q.target ?? '')}" placeholder="vd. station:cm-01"></div>
<div><label for="f">Từ ngày</label><input id="f" name="from" type="date" value="${esc(q.from ?? '')}"></div>
<div><label for="to">Đến ngày</label><input id="to" name="to" type="date" value="${esc(q.to ?? '')}"></div>
<button type="submit" class="sec">Lọc</button></form>`
    return ctx.page(reply, req, {
      title: 'Nhật ký thay đổi',
      active: A,
      body: `<h1>Nhật ký thay đổi</h1><p class="muted">Mọi thay đổi, ai làm, lúc nào (giờ Việt Nam). Nhật ký chỉ ghi thêm, không sửa hay xoá được.</p>${filters}
${table(['Lúc', 'Người', 'Hành động', 'Đối tượng', 'Thay đổi', 'Từ địa chỉ'], rows, 'Không có bản ghi nào khớp bộ lọc.')}${entries.length > 300 ? '<p class="muted">Chỉ hiện 300 bản ghi mới nhất; hãy lọc hẹp hơn.</p>' : ''}`,
    })
  })
}
