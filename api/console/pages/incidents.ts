import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { AckStore } from '../../../alerts/acks.ts'
import type { EventRow, OutboxRow } from '../../../alerts/store.ts'
import { errorMessage, esc, form, KIND_VI, levelLabel, num, okMessage, phoneText, sensorLabel, table, when } from '../html.ts'
import type { explainError } from '../messages.ts'
import { failure, type ConsoleCtx, type Form } from '../routes.ts'

/**
 * Incidents: open and recent, each with its timeline (fired, escalated,
 * acknowledged by whom, resolved), the SMS it caused and their delivery
 * states. Acknowledging is the API's POST /api/v1/alerts/incidents/:id/ack.
 */
const A = '/console/incidents'

interface IncidentRow {
  id: string
  station: string
  sensor: string
  ladder: string
  level: string
  max_level: string
  opened_at: number
  closed_at: number | null
  peak_value: number | null
}

export const STATUS_VI: Record<string, string> = {
  queued: 'chờ gửi',
  sending: 'đang gửi',
  submitted: 'đã gửi tới tổng đài',
  delivered: 'đã đến máy',
  failed: 'thất bại',
  cancelled: 'đã huỷ',
  suppressed: 'không gửi (chống trùng)',
  unknown: 'chưa rõ',
  logged: 'chỉ ghi nhật ký',
}

export function statusTag(status: string): string {
  const cls = status === 'delivered' ? 'ok' : status === 'failed' ? 'bad' : status === 'queued' || status === 'sending' || status === 'submitted' ? 'warn' : ''
  return `<span class="tag ${cls}" data-status="${esc(status)}">${esc(STATUS_VI[status] ?? status)}</span>`
}

function eventText(e: EventRow, prev: EventRow | undefined): string {
  const lv = e.level ? ` mức <b>${esc(levelLabel(e.level))}</b>` : ''
  const v = e.value !== null ? ` (giá trị ${num(e.value)}${e.threshold !== null ? `, ngưỡng ${num(e.threshold)}` : ''})` : ''
  if (e.to_status === 'firing' && e.from_status === 'firing') return `${prev?.level && e.level && prev.level !== e.level ? 'Đổi mức' : 'Nâng mức'}${lv}${v}`
  if (e.to_status === 'firing') return `Phát cảnh báo${lv}${v}`
  if (e.to_status === 'pending') return `Chạm ngưỡng, chờ đủ số lần${lv}${v}`
  if (e.to_status === 'resolved' || e.to_status === 'ok') return `Kết thúc — đã về mức an toàn${v}`
  return `${esc(e.from_status)} → ${esc(e.to_status)}${lv}${v}`
}

export function incidentPages(app: FastifyInstance, ctx: ConsoleCtx): void {
  const acks = new AckStore(ctx.deps.registry.db)
  const send = (reply: FastifyReply, req: FastifyRequest, body: string, status = 200) => ctx.page(reply, req, { title: 'Sự cố', active: A, body, status })
  const noAlerter = `<h1>Sự cố</h1><div class="msg err">Bộ cảnh báo không chạy trong tiến trình này (alerts.enabled = false).</div>`
  const stationName = (id: string) => ctx.deps.registry.get(id)?.name ?? id

  const row = (i: IncidentRow) => {
    const a = acks.forIncident(i.id)
    return [
      `<a href="${A}/${encodeURIComponent(i.id)}">${esc(stationName(i.station))}</a><div class="muted">${esc(i.station)}</div>`,
      esc(sensorLabel(i.sensor)),
      `<b>${esc(levelLabel(i.level))}</b>${i.max_level !== i.level ? ` <span class="muted">(cao nhất ${esc(levelLabel(i.max_level))})</span>` : ''}`,
      i.peak_value !== null ? num(i.peak_value) : '—',
      esc(when(i.opened_at)),
      i.closed_at ? `<span class="tag ok">đã kết thúc ${esc(when(i.closed_at))}</span>` : '<span class="tag bad">đang diễn ra</span>',
      a.length ? `<span class="tag ok">${esc(a.map((x) => x.actor).join(', '))}</span>` : '<span class="tag warn">chưa ai xác nhận</span>',
    ]
  }
  const head = ['Trạm', 'Cảm biến', 'Mức', 'Đỉnh', 'Bắt đầu', 'Tình trạng', 'Xác nhận']

  app.get(A, async (req, reply) => {
    const alerter = ctx.deps.alerter
    if (!alerter) return send(reply, req, noAlerter)
    const open = alerter.incidents({ open: true, limit: 500 }) as IncidentRow[]
    const recent = alerter.incidents({ open: false, limit: 100 }) as IncidentRow[]
    return send(
      reply,
      req,
      `<h1>Sự cố</h1>${okMessage((req.query as Record<string, string>).ok)}<h2>Đang diễn ra (${open.length})</h2>${table(head, open.map(row), 'Không có sự cố nào đang diễn ra.')}
<h2>Gần đây</h2>${table(head, recent.map(row), 'Chưa có sự cố nào kết thúc.')}`,
    )
  })

  const detail = (req: FastifyRequest, id: string, o: { ok?: string; error?: ReturnType<typeof explainError> } = {}): string | undefined => {
    const alerter = ctx.deps.alerter!
    const events = alerter.events({ incident: id, limit: 1000 })
    if (!events.length) return undefined
    const inc = (ctx.deps.registry.db.prepare('SELECT * FROM alert_incidents WHERE id = ?').get(id) as IncidentRow | undefined) ?? undefined
    const s = req.consoleSession!
    const ordered = [...events].sort((a, b) => a.at - b.at || a.id - b.id)
    const items: Array<{ at: number; html: string }> = ordered.map((e, i) => ({ at: e.at, html: eventText(e, ordered[i - 1]) }))
    for (const a of acks.forIncident(id)) items.push({ at: a.at, html: `Đã xác nhận bởi <b data-ack-by>${esc(a.actor)}</b>${a.note ? `: “${esc(a.note)}”` : ''}` })
    items.sort((a, b) => a.at - b.at)
    const messages = alerter.messages({ incident: id, limit: 10_000 }) as OutboxRow[]
    const byStatus: Record<string, number> = {}
    for (const m of messages) byStatus[m.status] = (byStatus[m.status] ?? 0) + 1
    const station = inc?.station ?? events[0]!.station
    const staff = s.principal.role !== 'read'
    return `<p><a href="${A}">← Sự cố</a></p><h1>${esc(stationName(station))} — ${esc(sensorLabel(inc?.sensor ?? events[0]!.sensor))} ${inc?.closed_at ? '<span class="tag ok">đã kết thúc</span>' : '<span class="tag bad">đang diễn ra</span>'}</h1>
${okMessage(o.ok)}${errorMessage(o.error)}<p class="muted">Mã sự cố: <code>${esc(id)}</code></p>
<div class="cols"><div><h2>Diễn biến</h2><ul class="timeline">${items.map((i) => `<li><span class="muted">${esc(when(i.at))}</span> — ${i.html}</li>`).join('')}</ul>
${staff ? `${form(s, `${A}/${encodeURIComponent(id)}/ack`)}<fieldset><legend>Xác nhận đã biết sự cố</legend><label for="note">Ghi chú (đã làm gì, ai xử lý)</label><textarea id="note" name="note" style="min-height:4rem" maxlength="1000"></textarea><p><button type="submit">Xác nhận</button></p></fieldset></form>` : ''}</div>
<div><h2>Tin nhắn của sự cố (${messages.length})</h2><p>${Object.entries(byStatus).map(([k, n]) => `${statusTag(k)} ${n}`).join(' ') || ''}</p>
${table(['Gửi tới', 'Kênh', 'Loại', 'Trạng thái', 'Số tin', 'Lỗi'], messages.map((m) => [esc(m.channel === 'smpp' || m.channel === 'http' ? phoneText(m.address) : m.address), esc(m.channel), esc(KIND_VI[m.kind] ?? m.kind), statusTag(m.status), `<span class="n">${m.segments}</span>`, esc(m.reason ?? '')]), 'Sự cố này chưa gửi tin nào.')}</div></div>`
  }

  app.get(`${A}/:id`, async (req, reply) => {
    if (!ctx.deps.alerter) return send(reply, req, noAlerter)
    const html = detail(req, (req.params as { id: string }).id, { ok: (req.query as Record<string, string>).ok })
    return html ? send(reply, req, html) : send(reply, req, `<h1>Không tìm thấy sự cố</h1><p><a href="${A}">← Sự cố</a></p>`, 404)
  })

  app.post(`${A}/:id/ack`, async (req, reply) => {
    if (!ctx.deps.alerter) return send(reply, req, noAlerter, 404)
    const id = (req.params as { id: string }).id
    const a = await ctx.api(req, 'POST', `/api/v1/alerts/incidents/${encodeURIComponent(id)}/ack`, { note: (req.body as Form).get('note') ?? '' })
    if (a.status >= 400) return send(reply, req, detail(req, id, { error: failure(a) }) ?? `<h1>Không tìm thấy sự cố</h1>`, a.status)
    return reply.redirect(`${A}/${encodeURIComponent(id)}?ok=${encodeURIComponent('Đã xác nhận sự cố.')}`, 303)
  })
}
