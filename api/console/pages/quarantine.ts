import type Database from 'better-sqlite3'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { TidewatchError } from '../../../core/errors.ts'
import { migrate } from '../../../core/sqlite.ts'
import type { QuarantineEntry } from '../../../ingest/quarantine.ts'
import { auditChange } from '../../auth/guard.ts'
import { errorMessage, esc, form, okMessage, table, when } from '../html.ts'
import { explainError, REASON_VI } from '../messages.ts'
import type { ConsoleCtx, Form } from '../routes.ts'

/**
 * Quarantine: refused readings by reason and station, with the payload
 * excerpt. After a fix (station registered or enabled, calibration or
 * firmware corrected) one can be released: its stored payload is validated
 * again and stored through the ingest's own path (Ingest.handle: same checks,
 * spool, InfluxDB, alerter), exactly as if the station had sent it now. If it
 * is refused again, the new refusal is quarantined as usual and staff are
 * told why. Or it is discarded with a reason. The ingest's quarantine table is
 * not modified (ingest/* is read-only here); what staff did is kept in
 * console_quarantine_actions and the audit log.
 */
const A = '/console/quarantine'
const MIGRATIONS = [
  `CREATE TABLE console_quarantine_actions (
     quarantine_id INTEGER PRIMARY KEY,
     action TEXT NOT NULL CHECK (action IN ('released', 'discarded')),
     actor TEXT NOT NULL,
     at INTEGER NOT NULL,
     note TEXT NOT NULL DEFAULT ''
   );`,
]

interface Handled {
  quarantine_id: number
  action: 'released' | 'discarded'
  actor: string
  at: number
  note: string
}

/** Releasable only when the excerpt is the whole payload: validation clips long ones (512 chars, ingest/parse/validate.ts). */
function payloadOf(e: QuarantineEntry): Buffer | undefined {
  if (e.reason === 'TOPIC_INVALID' || e.reason === 'PAYLOAD_TOO_LARGE' || e.reason === 'PAYLOAD_NOT_UTF8') return undefined
  try {
    JSON.parse(e.excerpt)
    return Buffer.from(e.excerpt, 'utf8')
  } catch {
    return undefined
  }
}

export function quarantinePages(app: FastifyInstance, ctx: ConsoleCtx): void {
  const db: Database.Database = ctx.deps.registry.db
  migrate(db, 'console_quarantine', MIGRATIONS)
  const handledOf = (ids: number[]): Map<number, Handled> => {
    if (!ids.length) return new Map()
    const rows = db.prepare(`SELECT * FROM console_quarantine_actions WHERE quarantine_id IN (${ids.map(() => '?').join(',')})`).all(...ids) as Handled[]
    return new Map(rows.map((r) => [r.quarantine_id, r]))
  }
  const entry = (id: number): QuarantineEntry | undefined => ctx.deps.ingest?.quarantine.list({ before: id + 1, limit: 1 }).find((e) => e.id === id)
  const send = (reply: FastifyReply, req: FastifyRequest, body: string, status = 200) => ctx.page(reply, req, { title: 'Số đo bị từ chối', active: A, body, status })
  const noIngest = `<h1>Số đo bị từ chối</h1><div class="msg err">Tiến trình này không chạy phần nhận số đo (ingest).</div>`

  const page = (req: FastifyRequest, o: { ok?: string; error?: ReturnType<typeof explainError>; extra?: string } = {}): string => {
    const q = req.query as Record<string, string>
    const store = ctx.deps.ingest!.quarantine
    const s = req.consoleSession!
    const staff = s.principal.role !== 'read'
    const entries = store.list({ stationId: q.station || undefined, reason: q.reason || undefined, limit: 500 })
    const handled = handledOf(entries.map((e) => e.id))
    const show = q.state === 'all' ? entries : q.state === 'handled' ? entries.filter((e) => handled.has(e.id)) : entries.filter((e) => !handled.has(e.id))
    const counts = Object.entries(store.countsByReason()).sort((a, b) => b[1] - a[1])
    const byStation = new Map<string, number>()
    for (const e of entries) if (!handled.has(e.id)) byStation.set(e.stationId, (byStation.get(e.stationId) ?? 0) + 1)
    const rows = show.slice(0, 200).map((e) => {
      const h = handled.get(e.id)
      const releasable = !h && payloadOf(e) !== undefined
      return [
        String(e.id),
        esc(when(e.receivedAt)),
        `<a href="${A}?station=${encodeURIComponent(e.stationId)}">${esc(e.stationId)}</a>`,
        `<b>${esc(REASON_VI[e.reason] ?? e.reason)}</b><div class="muted"><code>${esc(e.reason)}</code> ${esc(e.detail)}</div>`,
        `<pre>${esc(e.excerpt.length > 300 ? `${e.excerpt.slice(0, 300)}…` : e.excerpt)}</pre>`,
        h
          ? `<span class="tag ${h.action === 'released' ? 'ok' : ''}" data-handled="${h.action}">${h.action === 'released' ? 'đã đưa vào lại' : 'đã bỏ'}</span><div class="muted">${esc(h.actor)}, ${esc(when(h.at))}${h.note ? ` — ${esc(h.note)}` : ''}</div>`
          : staff
            ? `${releasable ? `${form(s, `${A}/${e.id}/release`, 'inline')}<button type="submit" class="small">Đưa vào lại</button></form> ` : '<span class="muted">không đưa vào lại được (gói tin bị cắt)</span> '}
${form(s, `${A}/${e.id}/discard`, 'inline')}<input name="note" placeholder="lý do bỏ" required style="width:9rem" aria-label="lý do bỏ"> <button type="submit" class="small danger">Bỏ</button></form>`
            : '',
      ]
    })
    const filters = `<form method="get" action="${A}" class="filters">
<div><label for="r">Lý do</label><select id="r" name="reason"><option value="">tất cả</option>${counts.map(([k]) => `<option value="${esc(k)}"${q.reason === k ? ' selected' : ''}>${esc(REASON_VI[k] ?? k)}</option>`).join('')}</select></div>
<div><label for="s">Trạm</label><input id="s" name="station" value="${esc(q.station ?? '')}"></div>
<div><label for="t">Tình trạng</label><select id="t" name="state"><option value="">chưa xử lý</option><option value="handled"${q.state === 'handled' ? ' selected' : ''}>đã xử lý</option><option value="all"${q.state === 'all' ? ' selected' : ''}>tất cả</option></select></div>
<button type="submit" class="sec">Lọc</button></form>`
    return `<h1>Số đo bị từ chối</h1>${okMessage(o.ok)}${errorMessage(o.error)}${o.extra ?? ''}
<p class="muted">Số đo sai được giữ lại ở đây thay vì lưu. Sau khi sửa nguyên nhân (đăng ký hoặc bật trạm, hiệu chuẩn, sửa phần mềm thiết bị), bấm "Đưa vào lại": số đo được kiểm tra lại và lưu như vừa nhận.</p>
<div class="cols"><div><h2>Theo lý do (tất cả)</h2>${table(['Lý do', 'Mã', 'Số lần'], counts.map(([k, n]) => [esc(REASON_VI[k] ?? k), `<code>${esc(k)}</code>`, `<span class="n">${n}</span>`]), 'Chưa có số đo nào bị từ chối.')}</div>
<div><h2>Theo trạm (chưa xử lý, 500 mới nhất)</h2>${table(['Trạm', 'Số lần'], [...byStation].sort((a, b) => b[1] - a[1]).slice(0, 20).map(([st, n]) => [`<a href="${A}?station=${encodeURIComponent(st)}">${esc(st)}</a>`, `<span class="n">${n}</span>`]), 'Không có.')}</div></div>
<h2>Chi tiết</h2>${filters}${table(['#', 'Nhận lúc', 'Trạm', 'Lý do', 'Trích gói tin', 'Xử lý'], rows, 'Không có số đo nào khớp bộ lọc.')}`
  }

  app.get(A, async (req, reply) => (ctx.deps.ingest ? send(reply, req, page(req, { ok: (req.query as Record<string, string>).ok })) : send(reply, req, noIngest)))

  const fail = (reply: FastifyReply, req: FastifyRequest, err: TidewatchError, status: number) => send(reply, req, page(req, { error: explainError({ error: err.toJSON() }) }), status)

  app.post(`${A}/:id/release`, async (req, reply) => {
    const ingest = ctx.deps.ingest
    if (!ingest) return send(reply, req, noIngest, 404)
    const id = Number((req.params as { id: string }).id)
    const e = entry(id)
    if (!e) return fail(reply, req, new TidewatchError('NOT_FOUND', { id }), 404)
    const payload = payloadOf(e)
    if (handledOf([id]).has(id) || !payload) return fail(reply, req, new TidewatchError('QUARANTINE_NOT_RELEASABLE', { id }), 409)
    const outcome = await ingest.ingest.handle(e.stationId, payload)
    if (outcome.rejected.length > 0 || outcome.accepted === 0) {
      const reasons = [...new Set(outcome.rejected.map((r) => r.reason))]
      const extra = `<div class="msg err" role="alert">Vẫn bị từ chối: ${reasons.map((r) => `<b>${esc(REASON_VI[r] ?? r)}</b> <code>${esc(r)}</code>`).join(', ')}. <code>QUARANTINE_NOT_RELEASABLE</code> Hãy sửa nguyên nhân rồi thử lại${reasons.includes('STATION_DISABLED') || reasons.includes('STATION_UNKNOWN') ? ' (thay đổi trạm có hiệu lực sau khoảng một giây)' : ''}.</div>`
      return send(reply, req, page(req, { extra }), 409)
    }
    const actor = req.consoleSession!.principal.name
    db.prepare('INSERT INTO console_quarantine_actions (quarantine_id, action, actor, at, note) VALUES (?, ?, ?, ?, ?)').run(id, 'released', actor, ctx.clock(), `đã lưu ${outcome.accepted} số đo`)
    const was = { state: 'refused', station: e.stationId, reason: e.reason, excerpt: e.excerpt.slice(0, 200) }
    auditChange(ctx.deps.audit, req, 'quarantine.release', `quarantine:${id}`, was, { ...was, state: 'released', accepted: outcome.accepted })
    return reply.redirect(`${A}?ok=${encodeURIComponent(`Đã đưa số đo #${id} của trạm ${e.stationId} vào lại: ${outcome.accepted} số đo đã lưu.`)}`, 303)
  })

  app.post(`${A}/:id/discard`, async (req, reply) => {
    if (!ctx.deps.ingest) return send(reply, req, noIngest, 404)
    const id = Number((req.params as { id: string }).id)
    const note = ((req.body as Form).get('note') ?? '').trim().slice(0, 500)
    const e = entry(id)
    if (!e) return fail(reply, req, new TidewatchError('NOT_FOUND', { id }), 404)
    if (!note) return send(reply, req, page(req, { error: explainError({ error: { code: 'BAD_REQUEST', details: { issues: [{ parameter: 'note', message: 'cần ghi lý do bỏ' }] } } }) }), 400)
    if (handledOf([id]).has(id)) return fail(reply, req, new TidewatchError('QUARANTINE_NOT_RELEASABLE', { id }, 'already handled'), 409)
    db.prepare('INSERT INTO console_quarantine_actions (quarantine_id, action, actor, at, note) VALUES (?, ?, ?, ?, ?)').run(id, 'discarded', req.consoleSession!.principal.name, ctx.clock(), note)
    const was = { state: 'refused', station: e.stationId, reason: e.reason }
    auditChange(ctx.deps.audit, req, 'quarantine.discard', `quarantine:${id}`, was, { ...was, state: 'discarded', note })
    return reply.redirect(`${A}?ok=${encodeURIComponent(`Đã bỏ số đo #${id}.`)}`, 303)
  })
}
