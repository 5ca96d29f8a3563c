import type Database from 'better-sqlite3'
import type { Registry, Station } from '../devices/registry.ts'
import type { Engine } from './engine.ts'
import { parseKeyword, REPLIES } from './keywords.ts'
import type { Subscribers } from './subscribers.ts'
import { finalize, formatNumber, localTime } from './templates.ts'
import { foldKey, normalizePhone, stripDiacritics } from './text.ts'
import { SENSORS, isSensorKind } from '../core/sensors.ts'

/**
 * Keyword SMS (DK / HUY / TT / help) from SMPP deliver_sm or the HTTP
 * gateway's webhook. Each is logged, acted on and answered in Vietnamese
 * through the outbox, in one transaction.
 */
export interface InboundDeps {
  db: Database.Database
  registry: Registry
  subscribers: Subscribers
  engine: Engine
  defaultDiacritics: boolean
  unicodeAllowed: (channel: string) => boolean
  replyCap: number
}

export function findStation(registry: Registry, id: string): Station | undefined {
  return registry.get(id) ?? registry.list().find((s) => foldKey(s.id) === foldKey(id))
}

export function statusText(engine: Engine, station: Station): string {
  const latest = engine.latest.get(station.id)
  if (!latest || latest.size === 0) return `Trạm ${station.name} (${station.id}): chưa có số liệu.`
  const parts: string[] = []
  let ts = 0
  for (const [sensor, s] of latest) {
    if (!isSensorKind(sensor) || sensor === 'conductivity' || sensor === 'temperature') continue
    const unit = sensor === 'ph' ? '' : SENSORS[sensor].unit
    const state = engine.state(station.id, sensor, 'level')
    const lvl = state?.status === 'firing' && state.level ? ` (${state.level === 'danger' ? 'NGUY HIỂM' : 'CẢNH BÁO'})` : ''
    parts.push(`${SENSORS[sensor].label} ${formatNumber(s.value, sensor, 'vi')}${unit}${lvl}`)
    ts = Math.max(ts, s.ts)
  }
  return `${station.name} (${station.id}) lúc ${localTime(ts)}: ${parts.join(', ')}.`
}

export function handleInbound(deps: InboundDeps, channel: string, fromRaw: string, text: string, now: number): { command: string; reply: string } {
  const from = normalizePhone(fromRaw) ?? normalizePhone(`+${fromRaw}`) ?? fromRaw
  const cmd = parseKeyword(text)
  const subs = deps.subscribers
  let sub = subs.byPhone(from)
  let reply: string
  switch (cmd.cmd) {
    case 'subscribe': {
      const station = findStation(deps.registry, cmd.station)
      if (!station) {
        reply = REPLIES.unknownStation(cmd.station.toUpperCase())
        break
      }
      if (sub) {
        const stations = sub.stations.includes(station.id) ? sub.stations : [...sub.stations, station.id]
        sub = subs.update(sub.id, { stations, active: true }, now)
      } else {
        sub = subs.create({ kind: 'farmer', phone: from, lang: 'vi', diacritics: deps.defaultDiacritics, stations: [station.id] }, now)
      }
      reply = REPLIES.subscribed(station.id, station.name)
      break
    }
    case 'unsubscribe': {
      if (!sub || !sub.active) {
        reply = REPLIES.notSubscribed()
        break
      }
      if (cmd.station) {
        const station = findStation(deps.registry, cmd.station)
        const id = station?.id ?? cmd.station.toUpperCase()
        const stations = sub.stations.filter((s) => s !== id)
        sub = subs.update(sub.id, { stations, active: stations.length > 0 || sub.communes.length > 0 }, now)
        reply = REPLIES.unsubscribed(id)
      } else {
        sub = subs.update(sub.id, { stations: [], communes: [], active: false }, now)
        reply = REPLIES.unsubscribedAll()
      }
      break
    }
    case 'status': {
      const station = findStation(deps.registry, cmd.station)
      reply = station ? statusText(deps.engine, station) : REPLIES.unknownStation(cmd.station.toUpperCase())
      break
    }
    default:
      reply = REPLIES.help()
  }
  const diacritics = (sub?.diacritics ?? deps.defaultDiacritics) && deps.unicodeAllowed(channel)
  const body = finalize(diacritics ? reply : stripDiacritics(reply).replace(/‰/g, 'g/l'))
  const inbound = deps.db.prepare('INSERT INTO alert_inbound (at, channel, phone, text, command) VALUES (?, ?, ?, ?, ?)').run(now, channel, from, text, cmd.cmd)
  const recent = (deps.db.prepare(`SELECT COUNT(*) AS n FROM alert_outbox WHERE kind = 'reply' AND address = ? AND created_at > ? AND status != 'suppressed'`).get(from, now - 86_400_000) as { n: number }).n
  deps.db
    .prepare(
      `INSERT OR IGNORE INTO alert_outbox (dedupe_key, subscriber_id, channel, address, kind, station, incident, level, severity, text, encoding, segments, status, reason, next_attempt_at, created_at)
       VALUES (?, ?, ?, ?, 'reply', NULL, NULL, NULL, NULL, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(`k:${inbound.lastInsertRowid}`, sub?.id ?? null, channel, from, body.text, body.encoding, body.segments, recent >= deps.replyCap ? 'suppressed' : 'queued', recent >= deps.replyCap ? 'reply_cap' : null, now, now)
  return { command: cmd.cmd, reply: body.text }
}
