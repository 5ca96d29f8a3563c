import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { TidewatchError } from '../../../core/errors.ts'
import { LOCAL_OFFSET_MS } from '../../../core/local-time.ts'
import { migrateAlerts, type OutboxRow } from '../../../alerts/store.ts'
import { auditChange } from '../../auth/guard.ts'
import { actionButton, errorMessage, esc, KIND_VI, num, okMessage, phoneText, table, when } from '../html.ts'
import { explainError } from '../messages.ts'
import type { ConsoleCtx } from '../routes.ts'
import { statusTag, STATUS_VI } from './incidents.ts'

/**
 * Outbox: every message with its state, segments and the channel's error;
 * retry a failed one; daily SMS counts and cost per channel.
 *
 * In cluster mode (cluster.postgres.url) an API node without an alerter
 * shows the cluster's outbox: this node's copy of the record the leading
 * `tidewatch alerter` keeps in PostgreSQL (cluster/metadata/mirror.ts
 * copyOutbox, docs/CLUSTER.md "Outbox"). Retry is refused there with
 * CLUSTER_MODE_UNSUPPORTED: a message may be sent again only under the
 * leader's claim in JetStream KV, which fences sending; an API node holds
 * neither the lease nor that claim, and requeueing its copy would send nothing.
 */
const A = '/console/outbox'

/**
 * VND per SMS segment (one 160-char GSM-7 or 70-char UCS-2 part), per
 * channel. A judgment default for planning, NOT a quoted tariff: brandname
 * customer-care SMS in Viet Nam are priced per message part by carriers and
 * resellers at a few hundred VND; 800 is a round upper figure. Set the real
 * contract price with ConsoleOptions.costPerSegment (docs/CONSOLE.md).
 */
export const DEFAULT_COST_PER_SEGMENT: Readonly<Record<string, number>> = Object.freeze({ smpp: 800, http: 800, log: 0, email: 0, webhook: 0 })
/** SMPP 3.4 command_status values a gateway answers most (SMPP v3.4 §5.1.3), for the channel-error column. */
const SMPP_STATUS_VI: Record<number, string> = {
  0x0b: 'số nhận không hợp lệ',
  0x0a: 'tên người gửi (brandname) không hợp lệ',
  0x14: 'hàng đợi của tổng đài đầy',
  0x45: 'tổng đài từ chối gửi',
  0x58: 'gửi quá nhanh, tổng đài yêu cầu chậm lại',
  0x61: 'thời điểm hẹn gửi không hợp lệ',
}

export function channelError(reason: string | null): string {
  if (!reason) return ''
  const m = /status 0x([0-9a-f]+)/i.exec(reason)
  const vi = m ? SMPP_STATUS_VI[parseInt(m[1]!, 16)] : undefined
  return vi ? `${vi} (${reason})` : reason
}

/** Days of counts on the page: two weeks covers a tide cycle's spring and neap (~14.8 days). */
const DAYS = 14

export function outboxPages(app: FastifyInstance, ctx: ConsoleCtx): void {
  const db = ctx.deps.registry.db
  const send = (reply: FastifyReply, req: FastifyRequest, body: string, status = 200) => ctx.page(reply, req, { title: 'Tin nhắn', active: A, body, status })
  const noAlerter = `<h1>Tin nhắn</h1><div class="msg err">Bộ cảnh báo không chạy trong tiến trình này (alerts.enabled = false).</div>`
  // The cluster's outbox, copied here (the table is made if the node's mirror has not made it yet: an empty page, not an error).
  const clusterCopy = !ctx.deps.alerter && !!ctx.deps.config.cluster.postgres.url
  if (clusterCopy) migrateAlerts(db)
  const shown = (): boolean => !!ctx.deps.alerter || clusterCopy

  const page = (req: FastifyRequest, o: { ok?: string; error?: ReturnType<typeof explainError> } = {}): string => {
    const q = req.query as Record<string, string>
    const s = req.consoleSession!
    const staff = s.principal.role !== 'read'
    const where: string[] = []
    const args: unknown[] = []
    if (q.status) (where.push('status = ?'), args.push(q.status))
    if (q.channel) (where.push('channel = ?'), args.push(q.channel))
    const rows = db.prepare(`SELECT * FROM alert_outbox ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT 200`).all(...args) as OutboxRow[]
    const channels = (db.prepare('SELECT DISTINCT channel FROM alert_outbox').all() as Array<{ channel: string }>).map((r) => r.channel)
    // Every message of the day (suppressed and cancelled were never meant to go); billed: the segments that reached
    // the gateway (a submit was accepted), delivered or not. Grouped by local (UTC+7) day.
    const since = ctx.clock() - DAYS * 86_400_000
    const daily = db
      .prepare(
        `SELECT date((created_at + ?) / 1000, 'unixepoch') AS day, channel, COUNT(*) AS messages,
                SUM(CASE WHEN submitted_at IS NOT NULL OR status = 'delivered' THEN segments ELSE 0 END) AS segments,
                SUM(CASE WHEN status = 'delivered' THEN 1 ELSE 0 END) AS delivered, SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS failed
         FROM alert_outbox WHERE created_at >= ? AND status NOT IN ('suppressed', 'cancelled') GROUP BY day, channel ORDER BY day DESC, channel`,
      )
      .all(LOCAL_OFFSET_MS, since) as Array<{ day: string; channel: string; messages: number; segments: number; delivered: number; failed: number }>
    const cost = (ch: string, seg: number) => seg * (ctx.costPerSegment[ch] ?? 0)
    const total = daily.reduce((a, d) => a + cost(d.channel, d.segments), 0)
    const filters = `<form method="get" action="${A}" class="filters"><div><label for="st">Trạng thái</label><select id="st" name="status"><option value="">tất cả</option>${Object.entries(STATUS_VI).map(([k, v]) => `<option value="${k}"${q.status === k ? ' selected' : ''}>${esc(v)}</option>`).join('')}</select></div>
<div><label for="ch">Kênh</label><select id="ch" name="channel"><option value="">tất cả</option>${channels.map((c) => `<option${q.channel === c ? ' selected' : ''}>${esc(c)}</option>`).join('')}</select></div><button type="submit" class="sec">Lọc</button></form>`
    const source = clusterCopy ? `<p class="muted">Tin nhắn của cả cụm, do bộ cảnh báo đang giữ quyền gửi ghi vào PostgreSQL; trang này cập nhật sau khoảng 1 giây. Không gửi lại được từ đây.</p>` : ''
    return `<h1>Tin nhắn đi</h1>${source}${okMessage(o.ok)}${errorMessage(o.error)}
<h2>Số tin theo ngày (${DAYS} ngày gần nhất)</h2>${table(
      ['Ngày', 'Kênh', 'Số tin', 'Phần tin đã gửi tới tổng đài (tính tiền)', 'Đã đến máy', 'Thất bại', 'Chi phí ước tính'],
      daily.map((d) => [esc(d.day.split('-').reverse().join('/')), esc(d.channel), `<span class="n">${d.messages}</span>`, `<span class="n">${d.segments}</span>`, String(d.delivered), String(d.failed), `<span class="n">${num(cost(d.channel, d.segments), 0)} đ</span>`]),
      'Chưa gửi tin nào trong thời gian này.',
    )}<p class="muted">Tổng ước tính: <b>${num(total, 0)} đ</b>. Đơn giá mỗi phần tin: ${Object.entries(ctx.costPerSegment).filter(([, v]) => v > 0).map(([k, v]) => `${esc(k)} ${num(v, 0)} đ`).join(', ')} (giá ước lượng, chỉnh theo hợp đồng nhà mạng).</p>
<h2>Từng tin (200 tin mới nhất)</h2>${filters}${table(
      ['#', 'Tạo lúc', 'Gửi tới', 'Kênh', 'Loại', 'Trạm', 'Trạng thái', 'Số phần', 'Lần thử', 'Lỗi của kênh', ''],
      rows.map((m) => [
        String(m.id),
        `<span class="nw">${esc(when(m.created_at))}</span>`,
        esc(m.channel === 'smpp' || m.channel === 'http' ? phoneText(m.address) : m.address),
        esc(m.channel),
        esc(KIND_VI[m.kind] ?? m.kind),
        esc(m.station ?? '—'),
        statusTag(m.status),
        `<span class="n">${m.segments}</span> <span class="muted">${m.encoding === 'ucs2' ? 'có dấu' : 'không dấu'}</span>`,
        String(m.attempts),
        `<span class="muted">${esc(channelError(m.reason))}</span>`,
        staff && !clusterCopy && m.status === 'failed' ? actionButton(s, `${A}/${m.id}/retry`, 'Gửi lại') : '',
      ]),
      'Không có tin nào khớp bộ lọc.',
    )}`
  }

  app.get(A, async (req, reply) => (shown() ? send(reply, req, page(req, { ok: (req.query as Record<string, string>).ok })) : send(reply, req, noAlerter)))

  // The API has no retry route: the message is queued again here (attempts reset, parts the SMSC
  // reported failed forgotten so they are re-sent; delivered parts are not), audited, and the pump woken.
  app.post(`${A}/:id/retry`, async (req, reply) => {
    const alerter = ctx.deps.alerter
    const id = Number((req.params as { id: string }).id)
    if (!alerter && clusterCopy) {
      const e = new TidewatchError('CLUSTER_MODE_UNSUPPORTED', { id, action: 'outbox.retry' }, 'a message is sent again only by the leading tidewatch alerter, under its claim in JetStream KV; an API node cannot retry it')
      return send(reply, req, page(req, { error: explainError({ error: e.toJSON() }) }), 501)
    }
    if (!alerter) return send(reply, req, noAlerter, 404)
    const before = db.prepare('SELECT id, status, reason, attempts, channel, address FROM alert_outbox WHERE id = ?').get(id) as Record<string, unknown> | undefined
    const retried = db.transaction(() => {
      const n = db.prepare(`UPDATE alert_outbox SET status = 'queued', reason = NULL, attempts = 0, next_attempt_at = ?, final_at = NULL WHERE id = ? AND status = 'failed'`).run(ctx.clock(), id).changes
      if (n) db.prepare(`DELETE FROM alert_parts WHERE outbox_id = ? AND status = 'failed'`).run(id)
      return n > 0
    })()
    if (!retried) {
      const e = before ? new TidewatchError('OUTBOX_NOT_RETRYABLE', { id, status: before.status }) : new TidewatchError('NOT_FOUND', { id })
      return send(reply, req, page(req, { error: explainError({ error: e.toJSON() }) }), before ? 409 : 404)
    }
    auditChange(ctx.deps.audit, req, 'outbox.retry', `outbox:${id}`, before, { ...before, status: 'queued', attempts: 0 })
    alerter.outbox.kick()
    return reply.redirect(`${A}?ok=${encodeURIComponent(`Đã xếp tin #${id} vào hàng chờ gửi lại.`)}`, 303)
  })
}
