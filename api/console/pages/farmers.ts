import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { isTidewatchError } from '../../../core/errors.ts'
import { subscriberFilter, Subscribers, type Subscriber } from '../../../alerts/subscribers.ts'
import { migrateAlerts } from '../../../alerts/store.ts'
import { actionButton, errorMessage, esc, field, form, KIND_VI, okMessage, phoneText, select, table, when } from '../html.ts'
import { statusTag } from './incidents.ts'
import { explainError, FIELD_VI } from '../messages.ts'
import { listOf, parseCsv, textOf } from '../forms.ts'
import { failure, type ConsoleCtx, type Form } from '../routes.ts'

/**
 * Farmers (SMS subscribers) by commune and station: search, add, edit, pause,
 * remove, bulk import, and each farmer's keyword history (DK, HUY, TT) from
 * alert_inbound and the replies in alert_outbox. Changes go through the
 * API's subscriber routes (api/routes/alerts.ts, SubscriberInputSchema).
 * In cluster mode (cluster.postgres.url) an API node without an alerter
 * serves these pages too: the list is this node's copy of PostgreSQL's
 * subscribers and the changes go, through the same routes, to PostgreSQL.
 */
const A = '/console/farmers'
export const FARMER_CSV_COLUMNS = ['name', 'phone', 'communes', 'stations', 'lang'] as const
const COMMAND_VI: Record<string, string> = { subscribe: 'DK (đăng ký)', unsubscribe: 'HUY (huỷ)', status: 'TT (hỏi tình hình)', help: 'trợ giúp', unknown: 'không hiểu' }

type Shown = { ok?: string; error?: ReturnType<typeof explainError>; values?: Record<string, unknown>; extra?: string }

export function farmerPages(app: FastifyInstance, ctx: ConsoleCtx): void {
  const registry = ctx.deps.registry
  const send = (reply: FastifyReply, req: FastifyRequest, body: string, status = 200) => ctx.page(reply, req, { title: 'Nông dân', active: A, body, status })
  const noAlerter = `<h1>Nông dân</h1><div class="msg err">Bộ cảnh báo không chạy trong tiến trình này (alerts.enabled = false): chưa quản lý được người nhận tin.</div>`
  // Who is subscribed: the alerter's own list, or in cluster mode this node's copy of PostgreSQL's
  // (the table is made here if the node's mirror has not made it yet: an empty list, not an error).
  const clusterCopy = (): Subscribers => {
    migrateAlerts(registry.db)
    return new Subscribers(registry.db)
  }
  const subscribers: Pick<Subscribers, 'list' | 'get'> | undefined = ctx.deps.alerter?.subscribers ?? (ctx.deps.config.cluster.postgres.url ? clusterCopy() : undefined)

  /** Station ids from what staff type: ids or SMS codes (SD01), separated by commas. */
  const stationIds = (raw: string | null | undefined): string[] => listOf(raw).map((s) => (registry.get(s) ? s : (registry.byCode(s) ?? s)))
  const bodyOf = (f: Form): Record<string, unknown> => ({
    kind: 'farmer',
    name: textOf(f, 'name') ?? '',
    phone: textOf(f, 'phone'),
    communes: listOf(f.get('communes')),
    stations: stationIds(f.get('stations')),
    lang: textOf(f, 'lang') || 'vi',
    diacritics: f.get('diacritics') === 'on',
  })
  const stationText = (ids: string[]) => ids.map((id) => registry.get(id)?.code ?? id).join(', ')

  const fields = (v: Record<string, any>, issues: ReturnType<typeof explainError>['issues']) => `<div class="grid">
${field('name', 'Họ tên', { value: v.name, issues })}
${field('phone', 'Số điện thoại', { value: typeof v.phone === 'string' ? v.phone.replace(/^\+84/, '0') : v.phone, issues, required: true, placeholder: '09… hoặc +849…' })}
${field('communes', 'Xã theo dõi (cách nhau dấu phẩy)', { value: Array.isArray(v.communes) ? v.communes.join(', ') : v.communes, issues })}
${field('stations', 'Trạm theo dõi (mã SMS hoặc mã trạm)', { value: Array.isArray(v.stations) ? stationText(v.stations) : v.stations, issues, placeholder: 'vd. SD01, CM02' })}
${select('lang', 'Ngôn ngữ tin nhắn', [['vi', 'Tiếng Việt'], ['en', 'English']], v.lang ?? 'vi', issues)}
<div><label class="chk"><input type="checkbox" name="diacritics"${v.diacritics ? ' checked' : ''}> Tin nhắn có dấu (tốn gấp đôi tin)</label></div></div>`

  const listHtml = (req: FastifyRequest, o: Shown = {}): string => {
    const q = req.query as Record<string, string>
    const s = req.consoleSession!
    const staff = s.principal.role !== 'read'
    const all = subscribers!.list().filter((x) => x.kind === 'farmer')
    const shown = all.filter(subscriberFilter({ text: q.q, commune: q.commune, station: q.station, active: q.status ? q.status === 'active' : undefined }))
    const communes = [...new Set(all.flatMap((x) => x.communes))].sort((a, b) => a.localeCompare(b, 'vi'))
    const rows = shown.slice(0, 500).map((x) => [
      `<a href="${A}/${x.id}">${esc(x.name || '(chưa có tên)')}</a>`,
      esc(phoneText(x.phone)),
      esc(x.communes.join(', ') || '—'),
      esc(stationText(x.stations) || '—'),
      x.lang === 'vi' ? 'Tiếng Việt' : 'English',
      x.active ? '<span class="tag ok">đang nhận</span>' : '<span class="tag">tạm dừng</span>',
      esc(when(x.createdAt)),
      staff ? actionButton(s, `${A}/${x.id}/active`, x.active ? 'Tạm dừng' : 'Nhận lại', { hidden: { active: x.active ? 'false' : 'true' } }) : '',
    ])
    const filters = `<form method="get" action="${A}" class="filters">
<div><label for="q">Tìm tên hoặc số điện thoại</label><input id="q" name="q" value="${esc(q.q ?? '')}"></div>
<div><label for="c">Xã</label><select id="c" name="commune"><option value="">tất cả</option>${communes.map((c) => `<option${c === q.commune ? ' selected' : ''}>${esc(c)}</option>`).join('')}</select></div>
<div><label for="s">Trạm</label><select id="s" name="station"><option value="">tất cả</option>${registry.list().map((st) => `<option value="${esc(st.id)}"${st.id === q.station ? ' selected' : ''}>${esc(st.code ?? st.id)} — ${esc(st.name)}</option>`).join('')}</select></div>
<div><label for="st">Trạng thái</label><select id="st" name="status"><option value="">tất cả</option><option value="active"${q.status === 'active' ? ' selected' : ''}>đang nhận</option><option value="paused"${q.status === 'paused' ? ' selected' : ''}>tạm dừng</option></select></div>
<button type="submit" class="sec">Lọc</button></form>`
    const add = staff
      ? `<h2 id="add">Thêm nông dân</h2>${form(s, A)}<fieldset><legend>Người nhận tin mới</legend>${fields(o.values ?? {}, o.error?.issues ?? [])}<button type="submit">Thêm</button></fieldset></form>
<h2 id="import">Nhập danh sách từ CSV</h2>${form(s, `${A}/import`)}<fieldset><legend>Tệp CSV (dấu ";")</legend><p class="muted">Tiêu đề: <code>${FARMER_CSV_COLUMNS.join(';')}</code>. Nhiều xã hoặc trạm trong một ô cách nhau bằng dấu phẩy.</p>
<label for="fcsvfile">Chọn tệp</label><input id="fcsvfile" type="file" accept=".csv,text/csv" data-into="fcsv"><label for="fcsv">Nội dung CSV</label><textarea id="fcsv" name="csv"></textarea><p><button type="submit">Nhập</button></p></fieldset></form>`
      : ''
    return `<h1>Nông dân nhận tin <span class="muted">(${shown.length} / ${all.length})</span></h1>${okMessage(o.ok)}${errorMessage(o.error)}${o.extra ?? ''}${staff ? '<p><a class="btn" href="#add">+ Thêm nông dân</a> <a href="#import">Nhập từ CSV</a></p>' : ''}
${filters}${table(['Họ tên', 'Số điện thoại', 'Xã', 'Trạm', 'Ngôn ngữ', 'Trạng thái', 'Đăng ký lúc', ''], rows, 'Không có ai khớp bộ lọc.')}${shown.length > 500 ? '<p class="muted">Chỉ hiện 500 người đầu; hãy lọc hẹp hơn.</p>' : ''}${add}`
  }

  const detailHtml = (req: FastifyRequest, sub: Subscriber, o: Shown = {}): string => {
    const s = req.consoleSession!
    const staff = s.principal.role !== 'read'
    const db = ctx.deps.registry.db
    // Keyword history: what the farmer texted (alert_inbound) and what we answered or sent (alert_outbox).
    const inbound = sub.phone ? (db.prepare('SELECT at, channel, text, command FROM alert_inbound WHERE phone = ? ORDER BY id DESC LIMIT 200').all(sub.phone) as Array<{ at: number; channel: string; text: string; command: string }>) : []
    const sent = db.prepare('SELECT created_at, kind, station, level, status, segments, text FROM alert_outbox WHERE subscriber_id = ? ORDER BY id DESC LIMIT 200').all(sub.id) as Array<Record<string, any>>
    return `<p><a href="${A}">← Danh sách nông dân</a></p><h1>${esc(sub.name || phoneText(sub.phone))} <span class="muted">${esc(phoneText(sub.phone))}</span> ${sub.active ? '<span class="tag ok">đang nhận</span>' : '<span class="tag">tạm dừng</span>'}</h1>${okMessage(o.ok)}${errorMessage(o.error)}
${staff ? `${form(s, `${A}/${sub.id}`)}<fieldset><legend>Thông tin</legend>${fields(o.values ?? sub, o.error?.issues ?? [])}<button type="submit">Lưu</button></fieldset></form>
<p>${actionButton(s, `${A}/${sub.id}/active`, sub.active ? 'Tạm dừng nhận tin' : 'Nhận tin lại', { hidden: { active: sub.active ? 'false' : 'true' } })} ${actionButton(s, `${A}/${sub.id}/remove`, 'Xoá người này', { cls: 'danger' })}</p>` : ''}
<div class="cols"><div><h2>Tin nhắn đến (từ khoá)</h2>${table(['Lúc', 'Nội dung', 'Hiểu là'], inbound.map((r) => [`<span class="nw">${esc(when(r.at))}</span>`, `<code>${esc(r.text)}</code>`, esc(COMMAND_VI[r.command] ?? r.command)]), 'Chưa nhắn từ khoá nào.')}</div>
<div><h2>Tin đã gửi</h2>${table(['Lúc', 'Loại', 'Trạm', 'Trạng thái', 'Nội dung'], sent.map((r) => [`<span class="nw">${esc(when(r.created_at))}</span>`, esc(KIND_VI[r.kind] ?? r.kind), esc(r.station ? (registry.get(r.station)?.code ?? r.station) : '—'), statusTag(r.status), `<span class="muted">${esc(String(r.text).slice(0, 160))}</span>`]), 'Chưa gửi tin nào.')}</div></div>`
  }

  const subOf = (req: FastifyRequest) => subscribers?.get(Number((req.params as { id: string }).id))

  app.get(A, async (req, reply) => (subscribers ? send(reply, req, listHtml(req, { ok: (req.query as Record<string, string>).ok })) : send(reply, req, noAlerter)))

  app.post(A, async (req, reply) => {
    if (!subscribers) return send(reply, req, noAlerter, 404)
    const body = bodyOf(req.body as Form)
    const a = await ctx.api(req, 'POST', '/api/v1/alerts/subscribers', body)
    if (a.status >= 400) return send(reply, req, listHtml(req, { error: failure(a), values: body }), a.status)
    return reply.redirect(`${A}?ok=${encodeURIComponent(`Đã thêm ${a.body.name || a.body.phone}.`)}`, 303)
  })

  app.post(`${A}/import`, async (req, reply) => {
    if (!subscribers) return send(reply, req, noAlerter, 404)
    let rows: Array<Record<string, string>>
    try {
      rows = parseCsv((req.body as Form).get('csv') ?? '')
    } catch (err) {
      const e = isTidewatchError(err) ? err : undefined
      return send(reply, req, listHtml(req, { error: explainError({ error: { code: 'CSV_INVALID', details: { issues: [{ parameter: 'csv', message: e?.message ?? String(err) }] } } }) }), 400)
    }
    const results: string[][] = []
    let created = 0
    for (const [i, r] of rows.entries()) {
      const body = { kind: 'farmer', name: r.name ?? '', phone: r.phone, communes: listOf(r.communes), stations: stationIds(r.stations), lang: r.lang || 'vi' }
      const a = await ctx.api(req, 'POST', '/api/v1/alerts/subscribers', body)
      if (a.status < 400) created++
      const e = a.status < 400 ? undefined : explainError(a.body)
      results.push([String(i + 2), esc(r.name ?? ''), esc(r.phone ?? ''), e ? `<span class="tag bad">${esc(e.code)}</span> ${e.issues.length ? esc(e.issues.map((x) => `${FIELD_VI[x.field] ?? x.field}: ${x.message}`).join('; ')) : esc(e.text)}` : '<span class="tag ok">đã thêm</span>'])
    }
    return send(reply, req, listHtml(req, { ok: `Đã thêm ${created} trên ${rows.length} người.`, extra: `<h2>Kết quả nhập</h2>${table(['Dòng', 'Họ tên', 'Số điện thoại', 'Kết quả'], results)}` }))
  })

  app.get(`${A}/:id`, async (req, reply) => {
    const sub = subOf(req)
    if (!sub) return send(reply, req, `<h1>Không tìm thấy người này</h1><p><a href="${A}">← Danh sách</a></p>`, 404)
    return send(reply, req, detailHtml(req, sub, { ok: (req.query as Record<string, string>).ok }))
  })

  app.post(`${A}/:id`, async (req, reply) => {
    const sub = subOf(req)
    if (!sub) return send(reply, req, `<h1>Không tìm thấy người này</h1>`, 404)
    const { kind: _kind, ...body } = bodyOf(req.body as Form)
    const a = await ctx.api(req, 'PATCH', `/api/v1/alerts/subscribers/${sub.id}`, body)
    if (a.status >= 400) return send(reply, req, detailHtml(req, sub, { error: failure(a), values: body }), a.status)
    return reply.redirect(`${A}/${sub.id}?ok=${encodeURIComponent('Đã lưu.')}`, 303)
  })

  app.post(`${A}/:id/active`, async (req, reply) => {
    const sub = subOf(req)
    if (!sub) return send(reply, req, `<h1>Không tìm thấy người này</h1>`, 404)
    const active = (req.body as Form).get('active') === 'true'
    const a = await ctx.api(req, 'PATCH', `/api/v1/alerts/subscribers/${sub.id}`, { active })
    if (a.status >= 400) return send(reply, req, detailHtml(req, sub, { error: failure(a) }), a.status)
    return reply.redirect(`${A}?ok=${encodeURIComponent(`${active ? 'Đã cho nhận lại' : 'Đã tạm dừng'}: ${sub.name || sub.phone}.`)}`, 303)
  })

  app.post(`${A}/:id/remove`, async (req, reply) => {
    const sub = subOf(req)
    if (!sub) return send(reply, req, `<h1>Không tìm thấy người này</h1>`, 404)
    const a = await ctx.api(req, 'DELETE', `/api/v1/alerts/subscribers/${sub.id}`)
    if (a.status >= 400) return send(reply, req, detailHtml(req, sub, { error: failure(a) }), a.status)
    return reply.redirect(`${A}?ok=${encodeURIComponent(`Đã xoá ${sub.name || sub.phone}.`)}`, 303)
  })
}
