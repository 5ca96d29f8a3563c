import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { isSensorKind, SENSOR_KINDS } from '../../../core/sensors.ts'
import { parseScope, zoneScope, type RuleSource } from '../../../levels/book.ts'
import { SensorRuleSchema, type Level, type SensorRule } from '../../../levels/rules.ts'
import { ZONES, type Zone } from '../../../levels/zones.ts'
import { errorMessage, esc, form, num, okMessage, sensorLabel, table, when, ZONE_VI } from '../html.ts'
import { explainError, type FieldIssue } from '../messages.ts'
import { numberOf, textOf } from '../forms.ts'
import { PREVIEW_DAYS, PREVIEW_MAX_STATIONS, previewAlerts, type Preview } from '../preview.ts'
import { failure, type ConsoleCtx, type Form } from '../routes.ts'

/**
 * Levels: the rules in force per zone and per station, as tables (never
 * JSON), from the one rule book (levels/book.ts). Editing validates with the
 * same SensorRuleSchema the API uses (the save itself is the API's PUT
 * /api/v1/alerts/rules/:scope/:sensor) and previews the last 30 days.
 */
const A = '/console/levels'
const SEV_VI = { warning: '<span class="tag warn">cảnh báo</span>', danger: '<span class="tag bad">nguy hiểm</span>' } as const
const DIR_VI = { above: 'từ … trở lên', below: 'từ … trở xuống', outside: 'ngoài khoảng' } as const
const SOURCE_VI: Record<RuleSource, string> = {
  station: 'riêng của trạm',
  zone: 'của vùng (đã chỉnh)',
  zone_default: 'mặc định của vùng theo mùa',
  default: 'mặc định chung (đã chỉnh)',
  built_in: 'mặc định chung',
}
/** Empty level rows offered under the existing ones when editing. */
const SPARE_ROWS = 1

function limitText(l: Level): string {
  if (l.direction === 'above') return `≥ ${num(l.threshold)}`
  if (l.direction === 'below') return `≤ ${num(l.threshold)}`
  return `≤ ${num(l.threshold)} hoặc ≥ ${num(l.high)}`
}

function clearText(l: Level): string {
  if (l.direction === 'outside') return `${l.clear === undefined ? 'tự động' : num(l.clear)} / ${l.clearHigh === undefined ? 'tự động' : num(l.clearHigh)}`
  return l.clear === undefined ? 'tự động (±10 %)' : num(l.clear)
}

/** One row per level (and one for a rise rule): the rule as staff read it. */
function ruleRows(sensor: string, rule: SensorRule, lead: string[] = []): string[][] {
  const rows = rule.levels.map((l) => [
    ...lead,
    esc(sensorLabel(sensor)),
    esc(l.name),
    SEV_VI[l.severity],
    esc(DIR_VI[l.direction]),
    `<span class="n">${limitText(l)}</span>`,
    clearText(l),
    `${l.pendingReadings} lần${l.pendingSec ? `, ${Math.round(l.pendingSec / 60)} phút` : ''}`,
    l.notifyFarmers ? 'có' : 'không (chỉ cán bộ)',
  ])
  if (rule.rise) {
    const r = rule.rise
    rows.push([...lead, esc(sensorLabel(sensor)), r.direction === 'any' ? 'change' : 'rise', SEV_VI[r.severity], r.direction === 'any' ? 'dao động lên hoặc xuống' : 'tăng', `Δ ≥ ${num(r.delta)} trong ${num(r.windowSec / 3600, 1)} giờ`, '—', '—', r.notifyFarmers ? 'có' : 'không (chỉ cán bộ)'])
  }
  if (!rule.enabled) rows.forEach((r) => r.push('<span class="tag">đang tắt</span>'))
  return rows
}

const HEAD = ['Cảm biến', 'Mức', 'Mức độ', 'Khi giá trị', 'Ngưỡng', 'Gỡ khi về', 'Cần liên tiếp', 'Nhắn nông dân']

/** Form fields → a rule object for SensorRuleSchema (empty rows skipped, empty numbers left to the schema's defaults). */
export function ruleFromForm(f: Form): unknown {
  const levels: Array<Record<string, unknown>> = []
  for (let i = 0; i < 8 + SPARE_ROWS; i++) {
    const name = textOf(f, `l${i}.name`)
    const threshold = numberOf(f.get(`l${i}.threshold`))
    if (name === undefined) break
    if (name === '' && threshold === undefined) continue
    const l: Record<string, unknown> = {
      name,
      severity: textOf(f, `l${i}.severity`),
      direction: textOf(f, `l${i}.direction`),
      threshold,
      high: numberOf(f.get(`l${i}.high`)),
      clear: numberOf(f.get(`l${i}.clear`)),
      clearHigh: numberOf(f.get(`l${i}.clearHigh`)),
      pendingReadings: numberOf(f.get(`l${i}.pendingReadings`)),
      pendingSec: numberOf(f.get(`l${i}.pendingSec`)),
      notifyFarmers: f.get(`l${i}.notifyFarmers`) === 'on',
    }
    for (const k of Object.keys(l)) if (l[k] === undefined) delete l[k]
    levels.push(l)
  }
  const delta = numberOf(f.get('rise.delta'))
  const rise =
    delta === undefined
      ? null
      : {
          delta,
          ...(numberOf(f.get('rise.windowHours')) !== undefined ? { windowSec: Math.round(Number(numberOf(f.get('rise.windowHours'))) * 3600) } : {}),
          direction: textOf(f, 'rise.direction') || 'up',
          severity: textOf(f, 'rise.severity') || 'warning',
          notifyFarmers: f.get('rise.notifyFarmers') === 'on',
        }
  return { enabled: f.get('enabled') === 'on', levels, rise }
}

/** zod paths (levels.0.threshold) → this form's field names (l0.threshold). */
function formIssues(issues: FieldIssue[]): FieldIssue[] {
  return issues.map((i) => ({ ...i, field: i.field.replace(/^levels\.(\d+)\.?/, (_m, n) => `l${n}.`).replace(/\.$/, '') }))
}

export function levelPages(app: FastifyInstance, ctx: ConsoleCtx): void {
  const rules = ctx.rules
  const send = (reply: FastifyReply, req: FastifyRequest, body: string, status = 200) => ctx.page(reply, req, { title: 'Ngưỡng cảnh báo', active: A, body, status })

  app.get(A, async (req, reply) => {
    const q = req.query as Record<string, string>
    const staff = req.consoleSession!.principal.role !== 'read'
    const zones = ZONES.map((z) => {
      const inForce = rules.zoneRules(z)
      const stored = rules.overrides(zoneScope(z))
      const rows = Object.entries(inForce).flatMap(([sensor, rule]) =>
        ruleRows(sensor, rule).map((r, i) => [...r, i === 0 ? `${stored[sensor] ? 'đã chỉnh' : 'mặc định theo mùa'}${staff ? ` · <a href="${A}/edit?scope=${encodeURIComponent(zoneScope(z))}&amp;sensor=${sensor}">Sửa</a>` : ''}` : '']),
      )
      const missing = staff ? SENSOR_KINDS.filter((k) => !inForce[k]).map((k) => `<a href="${A}/edit?scope=${encodeURIComponent(zoneScope(z))}&amp;sensor=${k}">+ ${esc(sensorLabel(k))}</a>`).join(' · ') : ''
      return `<h2 id="zone-${z}">${esc(ZONE_VI[z])}</h2>${table([...HEAD, 'Nguồn'], rows, 'Vùng này không có ngưỡng nào.')}${missing ? `<p class="muted">Thêm ngưỡng cho: ${missing}</p>` : ''}`
    })
    // Per station: the rules that are the station's own (BĐ levels, special cases), then one station in full on request.
    const stations = ctx.deps.registry.list()
    const own = stations.flatMap((st) =>
      SENSOR_KINDS.flatMap((k) => {
        const e = rules.explain(st.id, k)
        if (!e || e.source !== 'station') return []
        return ruleRows(k, e.rule, [`<a href="${A}?station=${encodeURIComponent(st.id)}#station">${esc(st.id)}</a>`]).map((r, i) => [...r, i === 0 && staff ? `<a href="${A}/edit?scope=${encodeURIComponent(st.id)}&amp;sensor=${k}">Sửa</a>` : ''])
      }),
    )
    let one = ''
    const st = q.station ? ctx.deps.registry.get(q.station) : undefined
    if (st) {
      const rows = SENSOR_KINDS.flatMap((k) => {
        const e = rules.explain(st.id, k)
        if (!e) return []
        return ruleRows(k, e.rule).map((r, i) => [...r, i === 0 ? `${SOURCE_VI[e.source]}${staff ? ` · <a href="${A}/edit?scope=${encodeURIComponent(st.id)}&amp;sensor=${k}">Đặt riêng cho trạm</a>` : ''}` : ''])
      })
      one = `<h2 id="station">Ngưỡng đang áp dụng cho trạm ${esc(st.id)} (${esc(ZONE_VI[st.zone])})</h2>${table([...HEAD, 'Nguồn'], rows, 'Trạm này không có ngưỡng nào.')}`
    }
    const picker = `<form method="get" action="${A}" class="filters"><div><label for="st">Xem ngưỡng của một trạm</label><select id="st" name="station">${stations.map((s) => `<option value="${esc(s.id)}"${s.id === q.station ? ' selected' : ''}>${esc(s.id)} — ${esc(s.name)}</option>`).join('')}</select></div><button type="submit" class="sec">Xem</button></form>`
    return send(
      reply,
      req,
      `<h1>Ngưỡng cảnh báo</h1>${okMessage(q.ok)}<p class="muted">Mỗi trạm dùng ngưỡng riêng của trạm nếu có, nếu không thì ngưỡng của vùng (mục đích sử dụng nước) theo mùa. Mức cuối mỗi bảng là mức nặng nhất.</p>
${picker}${one}${zones.join('')}<h2>Ngưỡng riêng của từng trạm</h2>${table(['Trạm', ...HEAD, ''], own, 'Chưa trạm nào có ngưỡng riêng (mực nước BĐ1–BĐ3 đặt ở trang Trạm).')}`,
    )
  })

  const editHtml = (req: FastifyRequest, scope: string, sensor: string, rule: Record<string, any>, o: { issues?: FieldIssue[]; error?: ReturnType<typeof explainError>; preview?: Preview } = {}) => {
    const s = req.consoleSession!
    const issues = o.issues ?? []
    const parsed = parseScope(scope)
    const where = parsed.kind === 'zone' ? ZONE_VI[parsed.zone as Zone] : parsed.kind === 'station' ? `trạm ${parsed.station}` : 'mặc định chung'
    const levels: Array<Record<string, any>> = [...(rule.levels ?? []), ...Array.from({ length: SPARE_ROWS }, () => ({}))]
    const bad = (name: string) => (issues.some((i) => i.field === name || i.field.startsWith(`${name}.`)) ? ' class="bad-field"' : '')
    const input = (name: string, value: unknown, w = '6rem') => `<span${bad(name)}><input name="${name}" value="${esc(value ?? '')}" style="width:${w}" aria-label="${name}"></span>`
    const sel = (name: string, value: unknown, opts: Array<[string, string]>) => `<select name="${name}" aria-label="${name}">${opts.map(([v, l]) => `<option value="${v}"${value === v ? ' selected' : ''}>${l}</option>`).join('')}</select>`
    const rows = levels.map((l, i) => [
      input(`l${i}.name`, l.name, '7rem'),
      sel(`l${i}.severity`, l.severity ?? 'warning', [['warning', 'cảnh báo'], ['danger', 'nguy hiểm']]),
      sel(`l${i}.direction`, l.direction ?? 'above', [['above', 'từ … trở lên'], ['below', 'từ … trở xuống'], ['outside', 'ngoài khoảng']]),
      input(`l${i}.threshold`, l.threshold),
      input(`l${i}.high`, l.high),
      input(`l${i}.clear`, l.clear),
      input(`l${i}.clearHigh`, l.clearHigh),
      input(`l${i}.pendingReadings`, l.pendingReadings, '4rem'),
      `<input type="checkbox" name="l${i}.notifyFarmers" aria-label="l${i}.notifyFarmers"${l.notifyFarmers !== false ? ' checked' : ''}>`,
    ])
    const r = rule.rise ?? {}
    const p = o.preview
    const previewBlock = p
      ? `<div class="msg ok" role="status" id="preview"><b>Xem trước:</b> với các ngưỡng này, ${PREVIEW_DAYS} ngày qua sẽ phát <b data-preview-total>${p.total}</b> cảnh báo tại ${p.rows.filter((x) => x.alerts > 0).length} trạm (ngưỡng hiện hành: ${p.currentTotal}).
<div class="muted">Tính lại từ số đo đã lưu, lấy trung bình từng giờ (${when(p.from)} – ${when(p.to)}); dao động ngắn hơn một giờ bị làm mượt nên con số là mức tối thiểu; không tính cảnh báo tăng nhanh.${p.omitted ? ` Chỉ tính ${PREVIEW_MAX_STATIONS} trạm đầu, bỏ qua ${p.omitted} trạm.` : ''}</div>
${table(['Trạm', 'Số giờ có số liệu', 'Cảnh báo với ngưỡng mới', 'Với ngưỡng hiện hành'], p.rows.map((x) => [`${esc(x.station.id)} <span class="muted">${esc(x.station.name)}</span>`, `<span class="n">${x.hours}</span>`, `<b data-preview-station="${esc(x.station.id)}">${x.alerts}</b>`, String(x.current)]), 'Ngưỡng này không áp dụng cho trạm nào.')}</div>`
      : ''
    return `<p><a href="${A}">← Ngưỡng cảnh báo</a></p><h1>Sửa ngưỡng: ${esc(sensorLabel(sensor))} — ${esc(where)}</h1>${errorMessage(o.error)}${previewBlock}
${form(s, `${A}/edit`)}<input type="hidden" name="scope" value="${esc(scope)}"><input type="hidden" name="sensor" value="${esc(sensor)}">
<fieldset><legend>Các mức (từ nhẹ đến nặng)</legend><label class="chk"><input type="checkbox" name="enabled"${rule.enabled !== false ? ' checked' : ''}> Đang dùng</label>
${table(['Tên mức', 'Mức độ', 'Khi giá trị', 'Ngưỡng', 'Ngưỡng trên (ngoài khoảng)', 'Gỡ khi về', 'Gỡ (trên)', 'Số lần liên tiếp', 'Nhắn nông dân'], rows)}
<p class="muted">Tên mức: chữ thường không dấu, số, "_" (vd. warning, danger, bd1). Để trống "Gỡ khi về": tự động lùi 10 %. Dòng trống cuối để thêm mức mới; xoá tên và ngưỡng để bỏ một mức.</p></fieldset>
<fieldset><legend>Tăng nhanh / dao động (tuỳ chọn)</legend><div class="grid">
<div${bad('rise.delta')}><label>Biến động tối thiểu</label><input name="rise.delta" value="${esc(r.delta ?? '')}"></div>
<div><label>Trong (giờ)</label><input name="rise.windowHours" value="${esc(r.windowSec ? r.windowSec / 3600 : '')}"></div>
<div><label>Hướng</label>${sel('rise.direction', r.direction ?? 'up', [['up', 'chỉ tăng'], ['any', 'tăng hoặc giảm']])}</div>
<div><label>Mức độ</label>${sel('rise.severity', r.severity ?? 'warning', [['warning', 'cảnh báo'], ['danger', 'nguy hiểm']])}</div>
<div><label class="chk"><input type="checkbox" name="rise.notifyFarmers"${r.notifyFarmers !== false ? ' checked' : ''}> Nhắn nông dân</label></div></div></fieldset>
<p><button type="submit" name="op" value="preview" class="sec">Xem trước ${PREVIEW_DAYS} ngày</button> <button type="submit" name="op" value="save">Lưu ngưỡng</button></p></form>
${parsed.kind !== 'default' && rules.overrides(scope)[sensor] ? `${form(s, `${A}/reset`)}<input type="hidden" name="scope" value="${esc(scope)}"><input type="hidden" name="sensor" value="${esc(sensor)}"><button class="danger small" type="submit">Bỏ chỉnh sửa, về ngưỡng mặc định</button></form>` : ''}`
  }

  const target = (q: Record<string, string | null | undefined>): { scope: string; sensor: string } | undefined => {
    const scope = q.scope ?? ''
    const sensor = q.sensor ?? ''
    if (!isSensorKind(sensor)) return undefined
    try {
      const p = parseScope(scope)
      if (p.kind === 'station' && !ctx.deps.registry.get(p.station)) return undefined
    } catch {
      return undefined
    }
    return { scope, sensor }
  }

  const current = (scope: string, sensor: string): SensorRule | undefined => {
    const p = parseScope(scope)
    if (p.kind === 'zone') return rules.zoneRules(p.zone)[sensor]
    if (p.kind === 'station') return rules.get(p.station, sensor) ?? undefined
    return rules.defaults()[sensor]
  }

  app.get(`${A}/edit`, async (req, reply) => {
    const t = target(req.query as Record<string, string>)
    if (!t) return send(reply, req, `<h1>Không tìm thấy</h1><p><a href="${A}">← Ngưỡng cảnh báo</a></p>`, 404)
    return send(reply, req, editHtml(req, t.scope, t.sensor, current(t.scope, t.sensor) ?? { enabled: true, levels: [], rise: null }))
  })

  app.post(`${A}/edit`, async (req, reply) => {
    const f = req.body as Form
    const t = target({ scope: f.get('scope'), sensor: f.get('sensor') })
    if (!t) return send(reply, req, `<h1>Không tìm thấy</h1>`, 404)
    const input = ruleFromForm(f) as Record<string, any>
    if (f.get('op') === 'preview') {
      // The same schema the API's PUT validates with (levels/rules.ts).
      const parsed = SensorRuleSchema.safeParse(input)
      if (!parsed.success) {
        const error = explainError({ error: { code: 'ALERT_RULE_INVALID', details: { issues: parsed.error.issues.map((i) => ({ key: i.path.join('.'), reason: i.message })) } } })
        return send(reply, req, editHtml(req, t.scope, t.sensor, input, { error, issues: formIssues(error.issues) }), 400)
      }
      if (!ctx.deps.query) {
        const error = explainError({ error: { code: 'INFLUX_UNAVAILABLE' } })
        return send(reply, req, editHtml(req, t.scope, t.sensor, input, { error }), 503)
      }
      try {
        const preview = await previewAlerts({ registry: ctx.deps.registry, rules, query: ctx.deps.query, scope: t.scope, sensor: t.sensor, rule: parsed.data, now: ctx.clock() })
        return send(reply, req, editHtml(req, t.scope, t.sensor, input, { preview }))
      } catch {
        return send(reply, req, editHtml(req, t.scope, t.sensor, input, { error: explainError({ error: { code: 'INFLUX_QUERY_FAILED' } }) }), 502)
      }
    }
    const a = await ctx.api(req, 'PUT', `/api/v1/alerts/rules/${encodeURIComponent(t.scope)}/${t.sensor}`, input)
    if (a.status >= 400) {
      const error = failure(a)!
      return send(reply, req, editHtml(req, t.scope, t.sensor, input, { error, issues: formIssues(error.issues) }), a.status)
    }
    return reply.redirect(`${A}?ok=${encodeURIComponent(`Đã lưu ngưỡng ${sensorLabel(t.sensor)} (${t.scope}).`)}`, 303)
  })

  app.post(`${A}/reset`, async (req, reply) => {
    const f = req.body as Form
    const t = target({ scope: f.get('scope'), sensor: f.get('sensor') })
    if (!t) return send(reply, req, `<h1>Không tìm thấy</h1>`, 404)
    const a = await ctx.api(req, 'DELETE', `/api/v1/alerts/rules/${encodeURIComponent(t.scope)}/${t.sensor}`)
    if (a.status >= 400) return send(reply, req, editHtml(req, t.scope, t.sensor, current(t.scope, t.sensor) ?? {}, { error: failure(a) }), a.status)
    return reply.redirect(`${A}?ok=${encodeURIComponent(`Đã về ngưỡng mặc định: ${sensorLabel(t.sensor)} (${t.scope}).`)}`, 303)
  })
}
