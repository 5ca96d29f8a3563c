import type { FastifyInstance, FastifyRequest } from 'fastify'
import { isTidewatchError } from '../../../core/errors.ts'
import { SENSOR_KINDS, SENSORS } from '../../../core/sensors.ts'
import { ZONES } from '../../../levels/zones.ts'
import { actionButton, ago, errorMessage, esc, field, form, num, okMessage, select, sensorLabel, table, when, ZONE_VI } from '../html.ts'
import { explainError, FIELD_VI, REASON_VI, type FieldIssue } from '../messages.ts'
import { listOf, nullableText, numberOf, parseCsv, textOf } from '../forms.ts'
import { failure, type ConsoleCtx, type Form } from '../routes.ts'
import { READING_MEASUREMENT } from '../../../influx/schema.ts'

/**
 * Stations: the list with each one's health, add (with zone, SMS code and
 * BĐ levels), edit, enable/disable, rotate the secret (shown once), sensor
 * calibration, and CSV import. Every change is a call to the API's own
 * station routes (api/routes/manage.ts).
 */
const A = '/console/stations'
const CLOCK_VI = { unknown: 'chưa rõ', ok: 'đúng', ahead: 'chạy nhanh', behind: 'chạy chậm' } as const
const zoneOptions = (): Array<[string, string]> => ZONES.map((z) => [z, ZONE_VI[z]])
/** Columns of the CSV import (docs/CONSOLE.md). */
export const STATION_CSV_COLUMNS = ['id', 'name', 'lat', 'lon', 'commune', 'district', 'zone', 'code', 'bd1', 'bd2', 'bd3', 'sensors'] as const

interface Health {
  battery?: number
  rssi?: number
  /** Device time of the newest stored reading: how far behind the station's data is (lag). */
  newestTs?: number
}

async function healthOf(ctx: ConsoleCtx): Promise<{ byStation: Map<string, Health>; error?: string }> {
  const byStation = new Map<string, Health>()
  if (!ctx.deps.query) return { byStation, error: 'Chưa cấu hình InfluxDB: không có pin, sóng.' }
  try {
    // One query for all stations; a week back bounds the scan (a station silent for longer shows "—").
    const [series = [], newest = []] = await ctx.deps.query.query(
      `SELECT last("battery") AS "battery", last("rssi") AS "rssi" FROM "station_health" WHERE time > now() - 7d GROUP BY "station"; ` +
        // Every reading's point carries "late", whichever sensors it has.
        `SELECT last("late") AS "v" FROM "${READING_MEASUREMENT}" WHERE time > now() - 7d GROUP BY "station"`,
    )
    for (const s of newest) {
      const id = s.tags?.station
      const row = s.values[0]
      if (id && row) byStation.set(id, { newestTs: row[0] as number })
    }
    for (const s of series) {
      const id = s.tags?.station
      const row = s.values[0]
      if (!id || !row) continue
      byStation.set(id, { ...byStation.get(id), battery: (row[s.columns.indexOf('battery')] as number | null) ?? undefined, rssi: (row[s.columns.indexOf('rssi')] as number | null) ?? undefined })
    }
    return { byStation }
  } catch {
    return { byStation, error: 'InfluxDB không truy cập được: chưa có pin, sóng.' }
  }
}

/** Refused readings per station in the last 24 h, from the newest 1000 quarantine rows (bounded). */
function refusals(ctx: ConsoleCtx): Map<string, Record<string, number>> {
  const since = ctx.clock() - 86_400_000
  const out = new Map<string, Record<string, number>>()
  for (const e of ctx.deps.ingest?.quarantine.list({ limit: 1000 }) ?? []) {
    if (e.receivedAt < since) continue
    const r = out.get(e.stationId) ?? {}
    r[e.reason] = (r[e.reason] ?? 0) + 1
    out.set(e.stationId, r)
  }
  return out
}

/** The API body of a station form; new: with id and sensors. */
function stationBody(f: Form, isNew: boolean): Record<string, unknown> {
  const b: Record<string, unknown> = {
    name: textOf(f, 'name'),
    lat: numberOf(f.get('lat')),
    lon: numberOf(f.get('lon')),
    commune: nullableText(f, 'commune'),
    district: nullableText(f, 'district'),
    zone: textOf(f, 'zone') || undefined,
    code: nullableText(f, 'code'),
    intervalSec: numberOf(f.get('intervalSec')),
  }
  const bd = [numberOf(f.get('bd1')), numberOf(f.get('bd2')), numberOf(f.get('bd3'))]
  // No BĐ levels typed: none on a new station; removed on an edit (the form shows the current ones).
  b.alarmLevels = bd.every((x) => x === undefined) ? (isNew ? undefined : null) : { bd1: bd[0], bd2: bd[1], bd3: bd[2] }
  if (isNew) {
    b.id = textOf(f, 'id')
    const sensors = f.getAll('sensors').filter(Boolean)
    if (sensors.length) b.sensors = sensors
  }
  for (const k of Object.keys(b)) if (b[k] === undefined) delete b[k]
  return b
}

function stationFields(v: Record<string, unknown>, issues: FieldIssue[], isNew: boolean): string {
  const al = (v.alarmLevels ?? {}) as Record<string, unknown>
  const sensors = new Set((v.sensors as string[] | undefined) ?? [])
  return `<div class="grid">
${isNew ? field('id', 'Mã trạm (không dấu, duy nhất)', { value: v.id, required: true, issues, placeholder: 'vd. cm-song-doc-01' }) : ''}
${field('name', 'Tên trạm', { value: v.name, required: true, issues })}
${select('zone', 'Vùng (mục đích sử dụng nước)', zoneOptions(), v.zone ?? 'rice', issues)}
${field('code', 'Mã SMS (nông dân soạn DK + mã)', { value: v.code, issues, placeholder: 'vd. SD01' })}
${field('lat', 'Vĩ độ', { value: v.lat, required: true, issues, placeholder: 'vd. 9,0425' })}
${field('lon', 'Kinh độ', { value: v.lon, required: true, issues, placeholder: 'vd. 104,8186' })}
${field('commune', 'Xã / phường', { value: v.commune, issues })}
${field('district', 'Huyện', { value: v.district, issues })}
${field('intervalSec', 'Chu kỳ gửi (giây)', { value: v.intervalSec, issues, placeholder: '900' })}
${field('bd1', 'Mực nước BĐ1 (cm)', { value: al.bd1, issues: issues.map((i) => (i.field.startsWith('alarmLevels') ? { ...i, field: 'bd1' } : i)) })}
${field('bd2', 'Mực nước BĐ2 (cm)', { value: al.bd2, issues })}
${field('bd3', 'Mực nước BĐ3 (cm)', { value: al.bd3, issues })}
</div>${
    isNew
      ? `<p><span class="muted">Cảm biến (để trống: bốn thông số chính):</span><br>${SENSOR_KINDS.map((k) => `<label class="chk"><input type="checkbox" name="sensors" value="${k}"${sensors.has(k) ? ' checked' : ''}> ${esc(sensorLabel(k))}</label>`).join('')}</p>`
      : ''
  }`
}

function credentialsBlock(c: { username: string; password: string }): string {
  return `<div class="msg ok" role="status"><b>Thông tin đăng nhập MQTT của trạm — chỉ hiện MỘT lần.</b> Hãy chép vào thiết bị ngay; hệ thống chỉ giữ bản băm.<br>
Tên đăng nhập: <span class="secret" data-credential="username">${esc(c.username)}</span> &nbsp; Mật khẩu: <span class="secret" data-credential="password">${esc(c.password)}</span></div>`
}

type Shown = { ok?: string; error?: ReturnType<typeof explainError>; values?: Record<string, unknown>; extra?: string }

export function stationPages(app: FastifyInstance, ctx: ConsoleCtx): void {
  const listHtml = async (req: FastifyRequest, o: Shown = {}): Promise<string> => {
    const now = ctx.clock()
    const stations = ctx.deps.registry.list()
    const { byStation, error } = await healthOf(ctx)
    const refused = refusals(ctx)
    const s = req.consoleSession!
    const staff = s.principal.role !== 'read'
    const rows = stations.map((st) => {
      const h = byStation.get(st.id) ?? {}
      const r = refused.get(st.id) ?? {}
      const nRefused = Object.values(r).reduce((a, b) => a + b, 0)
      // Same bounds as the API's clockStatus (api/routes/stations.ts): > 5 min ahead is refused, > 1 h behind is a reset RTC.
      const clock = st.clockOffsetSec === null ? 'unknown' : st.clockOffsetSec > 300 ? 'ahead' : st.clockOffsetSec < -3600 ? 'behind' : 'ok'
      // Late: three intervals without a reading, the alerter's no-data rule (devices/registry.ts intervalSec).
      const late = st.lastSeenAt !== null && now - st.lastSeenAt > 3 * st.intervalSec * 1000
      return [
        `<a href="${A}/${encodeURIComponent(st.id)}">${esc(st.id)}</a><div class="muted">${esc(st.name)}</div>`,
        esc(st.code ?? '—'),
        esc(ZONE_VI[st.zone]),
        esc([st.commune, st.district].filter(Boolean).join(', ') || '—'),
        st.enabled ? '<span class="tag ok">đang chạy</span>' : '<span class="tag">đã tắt</span>',
        st.lastSeenAt ? `<span class="tag ${late ? 'warn' : 'ok'}">${esc(ago(st.lastSeenAt, now))}</span>` : '<span class="tag">chưa gửi</span>',
        // Lag: the newest stored reading's own time; far behind "last seen" means the station is replaying a backlog.
        h.newestTs ? `<span class="tag ${now - h.newestTs > 3 * st.intervalSec * 1000 ? 'warn' : 'ok'}">${esc(ago(h.newestTs, now))}</span>` : '—',
        h.battery !== undefined ? `${num(h.battery, 2)} V` : '—',
        h.rssi !== undefined ? `${num(h.rssi, 0)} dBm` : '—',
        st.clockOffsetSec === null ? '—' : `<span class="tag ${clock === 'ok' ? 'ok' : 'warn'}">${num(st.clockOffsetSec, 0)} s · ${CLOCK_VI[clock]}</span>`,
        nRefused ? `<a href="/console/quarantine?station=${encodeURIComponent(st.id)}" title="${esc(Object.entries(r).map(([k, n]) => `${REASON_VI[k] ?? k}: ${n}`).join('; '))}">${nRefused}</a>` : '0',
        staff ? actionButton(s, `${A}/${encodeURIComponent(st.id)}/enabled`, st.enabled ? 'Tắt' : 'Bật', { hidden: { enabled: st.enabled ? 'false' : 'true' } }) : '',
      ]
    })
    const addForm = staff
      ? `<h2 id="add">Thêm trạm</h2>${form(s, A)}<fieldset><legend>Trạm mới</legend>${stationFields(o.values ?? {}, o.error?.issues ?? [], true)}<button type="submit">Thêm trạm</button></fieldset></form>
<h2 id="import">Nhập nhiều trạm từ CSV</h2>${form(s, `${A}/import`)}<fieldset><legend>Tệp CSV (dấu ";" như Excel lưu ở Việt Nam)</legend>
<p class="muted">Dòng đầu là tiêu đề: <code>${STATION_CSV_COLUMNS.join(';')}</code>. Số thập phân dùng dấu phẩy hoặc chấm (9,18 hay 9.18). Cảm biến cách nhau bằng dấu phẩy hoặc "|"; để trống: bốn thông số chính.</p>
<label for="csvfile">Chọn tệp (hoặc dán nội dung vào ô dưới)</label><input id="csvfile" type="file" accept=".csv,text/csv" data-into="csv">
<label for="csv">Nội dung CSV</label><textarea id="csv" name="csv" placeholder="id;name;lat;lon;commune;district;zone;code;bd1;bd2;bd3;sensors"></textarea>
<p><button type="submit">Nhập</button></p></fieldset></form>`
      : ''
    return `<h1>Trạm quan trắc <span class="muted">(${stations.length})</span></h1>${okMessage(o.ok)}${errorMessage(o.error)}${o.extra ?? ''}${error ? `<p class="muted">${esc(error)}</p>` : ''}
${staff ? '<p><a class="btn" href="#add">+ Thêm trạm</a> <a href="#import">Nhập từ CSV</a></p>' : ''}
${table(['Trạm', 'Mã SMS', 'Vùng', 'Xã, huyện', 'Trạng thái', 'Lần cuối gửi', 'Số đo mới nhất (độ trễ)', 'Pin', 'Sóng', 'Lệch đồng hồ', 'Bị từ chối 24 giờ', ''], rows, 'Chưa có trạm nào.', (i) => (stations[i]!.enabled ? '' : 'off'))}
${addForm}`
  }

  const detailHtml = async (req: FastifyRequest, id: string, o: Shown = {}): Promise<string | undefined> => {
    const st = ctx.deps.registry.get(id)
    if (!st) return undefined
    const s = req.consoleSession!
    const staff = s.principal.role !== 'read'
    const view = await ctx.api(req, 'GET', `/api/v1/stations/${encodeURIComponent(id)}`)
    const latest = ctx.deps.query ? await ctx.api(req, 'GET', `/api/v1/stations/${encodeURIComponent(id)}/latest`) : undefined
    const health = await ctx.api(req, 'GET', `/api/v1/stations/${encodeURIComponent(id)}/health`)
    const now = ctx.clock()
    const sensors = (latest?.status === 200 ? latest.body.sensors : {}) as Record<string, { value: number; unit: string; ts: string }>
    const latestRows = Object.entries(sensors).map(([k, v]) => [esc(sensorLabel(k)), `<span data-sensor="${esc(k)}">${num(v.value, SENSORS[k as keyof typeof SENSORS]?.decimals ?? 2)}</span> ${esc(v.unit)}`, esc(when(Date.parse(v.ts))), esc(ago(Date.parse(v.ts), now))])
    const h = health.status === 200 ? health.body : {}
    // The registry's last-seen is flushed by the ingest every few seconds; a reading already stored is newer news.
    const newest = Math.max(h.lastSeenAt ? Date.parse(h.lastSeenAt) : 0, ...Object.values(sensors).map((v) => Date.parse(v.ts)))
    const lastSeen = newest > 0 ? newest : null
    const values = o.values ?? { ...view.body, alarmLevels: view.body.alarmLevels ?? {} }
    const calib = [...st.sensors].sort((a, b) => SENSOR_KINDS.indexOf(a.kind) - SENSOR_KINDS.indexOf(b.kind)).map((x) => [
      esc(sensorLabel(x.kind)),
      staff
        ? `${form(s, `${A}/${encodeURIComponent(id)}/calibration`, 'inline')}<input type="hidden" name="kind" value="${x.kind}"><span style="display:inline-flex;gap:.4rem;align-items:center">giá trị đo × <input name="scale" value="${esc(x.scale)}" style="width:6rem" aria-label="hệ số"> + <input name="offset" value="${esc(x.offset)}" style="width:6rem" aria-label="độ lệch"> <button class="small sec" type="submit">Lưu</button></span></form>`
        : `× ${esc(x.scale)} + ${esc(x.offset)}`,
    ])
    return `<p><a href="${A}">← Danh sách trạm</a></p><h1>${esc(st.name)} <span class="muted">${esc(st.id)}</span> ${st.enabled ? '<span class="tag ok">đang chạy</span>' : '<span class="tag">đã tắt</span>'}</h1>
${okMessage(o.ok)}${errorMessage(o.error)}${o.extra ?? ''}
<div class="cols"><div><h2>Số đo gần nhất</h2>${table(['Cảm biến', 'Giá trị', 'Thời điểm đo', ''], latestRows, 'Trạm chưa gửi số đo nào.')}</div>
<div><h2>Tình trạng thiết bị</h2>${table(['', ''], [
      ['Lần cuối gửi', esc(lastSeen ? `${when(lastSeen)} (${ago(lastSeen, now)})` : 'chưa gửi')],
      ['Pin', h.battery ? `${num(h.battery.value, 2)} V` : '—'],
      ['Sóng', h.rssi ? `${num(h.rssi.value, 0)} dBm` : '—'],
      ['Lệch đồng hồ', h.clock?.offsetSec === null || h.clock === undefined ? '—' : `${num(h.clock.offsetSec, 0)} s (${CLOCK_VI[h.clock.status as keyof typeof CLOCK_VI] ?? ''})`],
      ['Bị từ chối 24 giờ', Object.entries((h.refusalsLast24h ?? {}) as Record<string, number>).map(([k, n]) => `${esc(REASON_VI[k] ?? k)}: ${n}`).join('<br>') || '0'],
    ])}</div></div>
<h2>Hiệu chuẩn cảm biến</h2>${table(['Cảm biến', 'Giá trị lưu = giá trị đo × hệ số + độ lệch'], calib)}
${staff ? `<h2>Sửa thông tin</h2>${form(s, `${A}/${encodeURIComponent(id)}`)}<fieldset><legend>Thông tin trạm</legend>${stationFields(values, o.error?.issues ?? [], false)}<button type="submit">Lưu thay đổi</button></fieldset></form>
<h2>Bảo mật và trạng thái</h2><p>${actionButton(s, `${A}/${encodeURIComponent(id)}/rotate`, 'Cấp mật khẩu MQTT mới', { cls: 'danger' })} <span class="muted">Mật khẩu cũ hết hiệu lực ngay; thiết bị phải được cài mật khẩu mới.</span></p>
<p>${actionButton(s, `${A}/${encodeURIComponent(id)}/enabled`, st.enabled ? 'Tắt trạm' : 'Bật trạm', { hidden: { enabled: st.enabled ? 'false' : 'true' } })} <span class="muted">Trạm tắt: số đo bị từ chối (STATION_DISABLED) và giữ ở mục Số đo bị từ chối.</span></p>` : ''}`
  }

  const send = (reply: Parameters<ConsoleCtx['page']>[0], req: FastifyRequest, title: string, body: string, status = 200) => ctx.page(reply, req, { title, active: A, body, status })
  const idOf = (req: FastifyRequest) => (req.params as { id: string }).id

  app.get(A, async (req, reply) => {
    const q = req.query as Record<string, string>
    return send(reply, req, 'Trạm', await listHtml(req, { ok: q.ok }))
  })

  app.post(A, async (req, reply) => {
    const f = req.body as Form
    const body = stationBody(f, true)
    const a = await ctx.api(req, 'POST', '/api/v1/stations', body)
    if (a.status >= 400) return send(reply, req, 'Trạm', await listHtml(req, { error: failure(a), values: { ...body, sensors: f.getAll('sensors') } }), a.status)
    return send(reply, req, 'Trạm', (await detailHtml(req, String(body.id), { ok: `Đã thêm trạm ${body.id}.`, extra: credentialsBlock(a.body.credentials) }))!, 201)
  })

  app.post(`${A}/import`, async (req, reply) => {
    const f = req.body as Form
    let rows: Array<Record<string, string>>
    try {
      rows = parseCsv(f.get('csv') ?? '')
    } catch (err) {
      const e = isTidewatchError(err) ? err : undefined
      return send(reply, req, 'Trạm', await listHtml(req, { error: explainError({ error: { code: e?.code ?? 'CSV_INVALID', message: e?.message, details: { issues: [{ parameter: 'csv', message: e?.message ?? String(err) }] } } }) }), 400)
    }
    const results: string[][] = []
    let created = 0
    for (const [i, r] of rows.entries()) {
      const bd = [numberOf(r.bd1), numberOf(r.bd2), numberOf(r.bd3)]
      const body: Record<string, unknown> = {
        id: r.id,
        name: r.name,
        lat: numberOf(r.lat),
        lon: numberOf(r.lon),
        ...(r.commune ? { commune: r.commune } : {}),
        ...(r.district ? { district: r.district } : {}),
        ...(r.zone ? { zone: r.zone } : {}),
        ...(r.code ? { code: r.code } : {}),
        ...(bd.some((x) => x !== undefined) ? { alarmLevels: { bd1: bd[0], bd2: bd[1], bd3: bd[2] } } : {}),
        ...(listOf(r.sensors).length ? { sensors: listOf(r.sensors) } : {}),
      }
      const a = await ctx.api(req, 'POST', '/api/v1/stations', body)
      if (a.status < 400) {
        created++
        results.push([String(i + 2), esc(r.id), '<span class="tag ok">đã thêm</span>', `<span class="secret">${esc(a.body.credentials.username)}</span> / <span class="secret">${esc(a.body.credentials.password)}</span>`])
      } else {
        const e = explainError(a.body)
        // Per row, the fields the API named say more than the page-level sentence.
        const what = e.issues.length ? e.issues.map((x) => esc(`${FIELD_VI[x.field] ?? x.field}: ${x.message}`)).join('; ') : esc(e.text)
        results.push([String(i + 2), esc(r.id ?? ''), `<span class="tag bad">${esc(e.code)}</span>`, what])
      }
    }
    const extra = `<h2>Kết quả nhập CSV</h2><p class="muted">Mật khẩu MQTT của các trạm mới chỉ hiện MỘT lần, tại đây.</p>${table(['Dòng', 'Mã trạm', 'Kết quả', 'Thông tin đăng nhập / lỗi'], results)}`
    return send(reply, req, 'Trạm', await listHtml(req, { ok: `Đã thêm ${created} trên ${rows.length} trạm.`, extra }))
  })

  app.get(`${A}/:id`, async (req, reply) => {
    const html = await detailHtml(req, idOf(req), { ok: (req.query as Record<string, string>).ok })
    if (!html) return send(reply, req, 'Trạm', `<h1>Không tìm thấy trạm</h1><p><a href="${A}">← Danh sách trạm</a></p>`, 404)
    return send(reply, req, 'Trạm', html)
  })

  app.post(`${A}/:id`, async (req, reply) => {
    const id = idOf(req)
    const body = stationBody(req.body as Form, false)
    const a = await ctx.api(req, 'PATCH', `/api/v1/stations/${encodeURIComponent(id)}`, body)
    if (a.status >= 400) return send(reply, req, 'Trạm', (await detailHtml(req, id, { error: failure(a), values: body })) ?? '', a.status)
    return reply.redirect(`${A}/${encodeURIComponent(id)}?ok=${encodeURIComponent('Đã lưu thay đổi.')}`, 303)
  })

  app.post(`${A}/:id/enabled`, async (req, reply) => {
    const id = idOf(req)
    const enabled = (req.body as Form).get('enabled') === 'true'
    const a = await ctx.api(req, 'PATCH', `/api/v1/stations/${encodeURIComponent(id)}`, { enabled })
    if (a.status >= 400) return send(reply, req, 'Trạm', await listHtml(req, { error: failure(a) }), a.status)
    return reply.redirect(`${A}?ok=${encodeURIComponent(`Đã ${enabled ? 'bật' : 'tắt'} trạm ${id}.`)}`, 303)
  })

  app.post(`${A}/:id/rotate`, async (req, reply) => {
    const id = idOf(req)
    const a = await ctx.api(req, 'POST', `/api/v1/stations/${encodeURIComponent(id)}/rotate`)
    if (a.status >= 400) return send(reply, req, 'Trạm', (await detailHtml(req, id, { error: failure(a) })) ?? '', a.status)
    return send(reply, req, 'Trạm', (await detailHtml(req, id, { ok: 'Đã cấp mật khẩu mới.', extra: credentialsBlock(a.body.credentials) }))!)
  })

  app.post(`${A}/:id/calibration`, async (req, reply) => {
    const id = idOf(req)
    const f = req.body as Form
    const kind = textOf(f, 'kind') ?? ''
    const a = await ctx.api(req, 'PUT', `/api/v1/stations/${encodeURIComponent(id)}/sensors/${encodeURIComponent(kind)}`, { scale: numberOf(f.get('scale')), offset: numberOf(f.get('offset')) })
    if (a.status >= 400) return send(reply, req, 'Trạm', (await detailHtml(req, id, { error: failure(a) })) ?? '', a.status)
    return reply.redirect(`${A}/${encodeURIComponent(id)}?ok=${encodeURIComponent(`Đã lưu hiệu chuẩn ${sensorLabel(kind)}.`)}`, 303)
  })
}
