import type Database from 'better-sqlite3'
import type { Registry, Station } from '../devices/registry.ts'
import type { RuleBook } from '../levels/book.ts'
import { isPast, levelOfValue, limitFor, riseLevel, sideOf, type Level } from '../levels/rules.ts'
import type { Engine } from './engine.ts'
import { parseKeyword, REPLIES } from './keywords.ts'
import type { StateRow } from './store.ts'
import type { Subscriber, SubscriberInput, Subscribers, SubscriberWriter } from './subscribers.ts'
import { finalize, formatNumber, localTime, render, toGsm, type MessageInput, type Rendered } from './templates.ts'
import { foldKey, normalizePhone } from './text.ts'
import { SENT_STATUSES_SQL } from './store.ts'

/**
 * Keyword SMS (DK / HUY / TT / help) from SMPP deliver_sm or the HTTP
 * gateway's webhook (docs/ALERTS.md, "Keywords"). Each is acted on, then
 * logged and answered in Vietnamese through the outbox:
 *
 * 1. the subscription change, if any, through the SubscriberWriter: the
 *    node's SQLite by default, PostgreSQL in cluster mode (read back into
 *    this node's copy before it resolves, cluster/metadata/subscriber-writer.ts);
 * 2. then, in one SQLite transaction, the inbound log row, the reply and the
 *    current alerts of a station just subscribed to.
 *
 * The two steps are not one transaction: a crash between them leaves the
 * change made and no reply. The caller acknowledges the SMS only after both
 * (the SMSC's deliver_sm_resp, alerts/channels/smpp-session.ts), so the SMSC
 * delivers it again and the repeat finds the change already made (a DK for
 * a station the farmer has is not written again) and answers.
 */
export interface InboundDeps {
  db: Database.Database
  registry: Registry
  /** Reads: who a phone is (this node's table, a copy of PostgreSQL's in cluster mode). */
  subscribers: Subscribers
  /** Writes: where a DK or HUY changes a subscription. */
  writer: SubscriberWriter
  /**
   * How an inbound SMS is named in its outbox rows' dedupe keys, from its
   * local alert_inbound id. The id alone by default; a cluster leader adds
   * its node and lease term, because every node numbers its own
   * alert_inbound and the keys meet in the shared outbox, where a reused key
   * would read as "already sent".
   */
  inboundKey?: (localId: number | bigint) => string
  engine: Engine
  /** The rule in force per station and sensor: TT judges a value by the same numbers as the alerts. */
  rules: RuleBook
  defaultDiacritics: boolean
  unicodeAllowed: (channel: string) => boolean
  replyCap: number
}

/**
 * A TT reply fits in at most two SMS: 306 GSM-7 characters or 134 UCS-2
 * (docs/ALERTS.md "Keywords"; 3GPP TS 23.040 concatenation, alerts/sms/segments.ts).
 */
const MAX_REPLY_SEGMENTS = 2

/** The sensors a farmer reads, in the order a reply lists them; temperature and conductivity are for staff. */
const FARMER_SENSORS = ['salinity', 'water_level', 'ph', 'no2'] as const

// Nitrite is reported and judged as mg/L of NO2⁻ (levels/zones.ts), never as N: the reply says so.
const LABELS = {
  full: { salinity: 'Độ mặn', water_level: 'Mực nước', ph: 'pH', no2: 'Nitrit' },
  short: { salinity: 'Mặn', water_level: 'Nước', ph: 'pH', no2: 'NO2⁻' },
} as const
const UNITS = {
  full: { salinity: '‰', water_level: 'cm', ph: '', no2: 'mg/L NO2⁻' },
  short: { salinity: '‰', water_level: 'cm', ph: '', no2: 'mg/L' },
} as const
type Form = keyof typeof LABELS

/** The station's SMS code (what the board shows and a farmer types), else its id. */
export function codeOf(station: Station): string {
  return station.code ?? station.id
}

/** By SMS code first (the public handle, printed on the board), then id, then id ignoring case and diacritics. */
export function findStation(registry: Registry, key: string): Station | undefined {
  const byCode = registry.byCode(key)
  return (byCode ? registry.get(byCode) : undefined) ?? registry.get(key) ?? registry.list().find((s) => foldKey(s.id) === foldKey(key))
}

/**
 * Farmers hear only levels meant for them: never a staff-only level
 * (notifyFarmers false), never anything about a monitoring station — the same
 * policy as the notifier (alerts/notify.ts).
 */
function forFarmers(station: Station, level: Level | null): level is Level {
  return level !== null && level.notifyFarmers && station.zone !== 'monitoring'
}

function firingLevel(row: StateRow | undefined, levels: readonly Level[]): Level | null {
  if (row?.status !== 'firing' || row.level === null) return null
  return levels.find((l) => l.name === row.level) ?? null
}

/**
 * "CẢNH BÁO", "NGUY HIỂM, quá thấp", "trên BĐ2". The level is the firing
 * incident's when there is one (what the farmer was told, hysteresis
 * included), else the value's own level (levelOfValue, as the board shows
 * it). A BĐ level held by hysteresis while the water is back under it is
 * named without "trên" (above), which would be untrue.
 */
function levelWord(level: Level, value: number, twoSided: boolean): string {
  const bd = /^bd([1-3])$/.exec(level.name)
  if (bd) return isPast(level, value) ? `trên BĐ${bd[1]}` : `BĐ${bd[1]}`
  const word = level.severity === 'danger' ? 'NGUY HIỂM' : 'CẢNH BÁO'
  if (!twoSided) return word
  return `${word}, ${sideOf(level, value) === 'above' ? 'quá cao' : 'quá thấp'}`
}

function sensorPart(deps: InboundDeps, station: Station, sensor: (typeof FARMER_SENSORS)[number], value: number, form: Form): string {
  const rule = deps.rules.get(station.id, sensor)
  const words: string[] = []
  if (rule?.enabled) {
    const level = firingLevel(deps.engine.state(station.id, sensor, 'level'), rule.levels) ?? levelOfValue(rule.levels, value)
    if (forFarmers(station, level)) words.push(levelWord(level, value, rule.levels.some((l) => l.direction !== 'above')))
    const rise = rule.rise ? riseLevel(rule.rise) : null
    if (rise && forFarmers(station, firingLevel(deps.engine.state(station.id, sensor, 'rise'), [rise]))) words.push(rise.name === 'change' ? 'biến động mạnh' : 'tăng nhanh')
  }
  const text = `${LABELS[form][sensor]} ${formatNumber(value, sensor, 'vi')}${UNITS[form][sensor]}`
  return words.length ? `${text} (${words.join(', ')})` : text
}

/** One station's latest values and levels: "Trạm Sông Đốc (SD01) lúc 14:30 12/03: Độ mặn 2,6‰ (CẢNH BÁO), Mực nước 152cm (trên BĐ2)." */
export function stationStatus(deps: InboundDeps, station: Station, form: Form = 'full'): string {
  const latest = deps.engine.latest.get(station.id)
  const parts: string[] = []
  let ts = 0
  for (const sensor of FARMER_SENSORS) {
    const s = latest?.get(sensor)
    if (!s) continue
    parts.push(sensorPart(deps, station, sensor, s.value, form))
    ts = Math.max(ts, s.ts)
  }
  const who = form === 'full' ? `${station.name} (${codeOf(station)})` : codeOf(station)
  if (!parts.length) return REPLIES.noData(who)
  // The short form drops the name and date: the code identifies the station, the hour is today's.
  const head = form === 'full' ? `${who} lúc ${localTime(ts)}` : `${who} ${localTime(ts).slice(0, 5)}`
  return `${head}: ${parts.join(', ')}.`
}

/**
 * The TT reply for several stations within MAX_REPLY_SEGMENTS: the full form
 * if everything fits, else the short form (code, hour, short labels), else
 * as many stations as fit and how many were left out.
 */
export function statusReply(deps: InboundDeps, stations: readonly Station[], diacritics: boolean): string {
  const fits = (text: string): boolean => smsBody(text, diacritics).segments <= MAX_REPLY_SEGMENTS
  const full = stations.map((s) => stationStatus(deps, s, 'full')).join(' ')
  if (fits(full)) return full
  const short = stations.map((s) => stationStatus(deps, s, 'short'))
  if (fits(short.join(' ')) || short.length === 1) return short.join(' ')
  let n = short.length
  while (n > 1 && !fits([...short.slice(0, n), REPLIES.more(stations.length - n)].join(' '))) n--
  return [...short.slice(0, n), REPLIES.more(stations.length - n)].join(' ')
}

/**
 * The SMS a reply becomes. Without diacritics (the subscriber's choice or a
 * gateway without Unicode) it is forced to GSM-7 by the templates' own
 * mapping, so a reply never goes as a 2-segment UCS-2 message by accident.
 */
function smsBody(text: string, diacritics: boolean): Rendered {
  return finalize(diacritics ? text : toGsm(text.replace(/⁻/g, '-')))
}

/**
 * The incidents open at a station that a farmer would have been told about,
 * as alert messages (rendered by templates.ts like any alert).
 */
function activeAlerts(deps: InboundDeps, station: Station, now: number): Array<{ input: MessageInput; incident: string; sensor: string }> {
  const out: Array<{ input: MessageInput; incident: string; sensor: string }> = []
  if (station.zone === 'monitoring') return out
  for (const sensor of FARMER_SENSORS) {
    const rule = deps.rules.get(station.id, sensor)
    if (!rule?.enabled) continue
    for (const ladder of ['level', 'rise'] as const) {
      const row = deps.engine.state(station.id, sensor, ladder)
      const levels = ladder === 'level' ? rule.levels : rule.rise ? [riseLevel(rule.rise)] : []
      const level = firingLevel(row, levels)
      if (!row?.incident || !forFarmers(station, level)) continue
      out.push({
        incident: row.incident,
        sensor,
        input: {
          kind: 'alert', station: { id: station.id, name: station.name, zone: station.zone, code: station.code }, sensor, level, side: sideOf(level, row.value),
          value: row.value, threshold: limitFor(level, row.value), ts: row.reading_ts ?? now, trend: null,
        },
      })
    }
  }
  return out
}

const SENT = SENT_STATUSES_SQL

/**
 * Tells a farmer who just subscribed what is happening now: one alert per
 * open incident, unless this farmer already got it. They are alert rows of
 * the incident, so the farmer also gets its "resolved" message
 * (alerts/notify.ts sends those to everyone the incident's alert reached),
 * and the anti-spam window sees them. Quiet hours and the daily cap do not
 * hold them back: the farmer has just texted us. A DK over the reply cap
 * gets neither the reply nor the status.
 */
function queueCurrentStatus(deps: InboundDeps, inboundKey: string, sub: Subscriber, station: Station, channel: string, diacritics: boolean, suppressed: boolean, now: number): number {
  let queued = 0
  for (const a of activeAlerts(deps, station, now)) {
    const already = deps.db
      .prepare(`SELECT 1 FROM alert_outbox WHERE subscriber_id = ? AND incident = ? AND level = ? AND kind = 'alert' AND status IN ${SENT}`)
      .get(sub.id, a.incident, a.input.level.name)
    if (already) continue
    const msg = render(a.input, { lang: sub.lang, diacritics })
    const info = deps.db
      .prepare(
        `INSERT OR IGNORE INTO alert_outbox (dedupe_key, subscriber_id, channel, address, kind, station, sensor, incident, level, severity, text, encoding, segments, status, reason, next_attempt_at, created_at)
         VALUES (?, ?, ?, ?, 'alert', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        // Keyed by the inbound SMS: a DK suppressed by the cap must not block the status of a later DK.
        `s:${inboundKey}:${a.incident}:${a.input.level.name}`, sub.id, channel, sub.phone, station.id, a.sensor, a.incident, a.input.level.name, a.input.level.severity,
        msg.text, msg.encoding, msg.segments, suppressed ? 'suppressed' : 'queued', suppressed ? 'reply_cap' : 'subscribed_during_incident', now, now,
      )
    if (info.changes && !suppressed) queued++
  }
  return queued
}

export interface InboundResult {
  command: string
  reply: string
}

/** A subscription change a keyword asks for, made before the SMS is logged and answered. */
type Change = { create: SubscriberInput } | { update: number; patch: Partial<SubscriberInput> } | null

export async function handleInbound(deps: InboundDeps, channel: string, fromRaw: string, text: string, now: number): Promise<InboundResult> {
  const from = normalizePhone(fromRaw) ?? normalizePhone(`+${fromRaw}`) ?? fromRaw
  const cmd = parseKeyword(text)
  const subs = deps.subscribers
  let sub = subs.byPhone(from)
  const diacriticsFor = (s: Subscriber | undefined): boolean => (s?.diacritics ?? deps.defaultDiacritics) && deps.unicodeAllowed(channel)
  const recent = (deps.db.prepare(`SELECT COUNT(*) AS n FROM alert_outbox WHERE kind = 'reply' AND address = ? AND created_at > ? AND status != 'suppressed'`).get(from, now - 86_400_000) as { n: number }).n
  const overCap = recent >= deps.replyCap
  let statusOf: Station | null = null
  let change: Change = null
  let reply: string
  switch (cmd.cmd) {
    case 'subscribe': {
      const station = findStation(deps.registry, cmd.station)
      if (!station) {
        reply = REPLIES.unknownStation(cmd.station.toUpperCase())
        break
      }
      if (station.zone === 'monitoring') {
        // Staff only (levels/zones.ts): subscribing would promise SMS that never come.
        reply = REPLIES.staffStation(codeOf(station), station.name)
        break
      }
      if (!sub) change = { create: { kind: 'farmer', phone: from, lang: 'vi', diacritics: deps.defaultDiacritics, stations: [station.id] } }
      // A repeat (the SMSC delivering again after a crash, a farmer texting twice) writes nothing.
      else if (!sub.active || !sub.stations.includes(station.id)) change = { update: sub.id, patch: { stations: sub.stations.includes(station.id) ? sub.stations : [...sub.stations, station.id], active: true } }
      reply = REPLIES.subscribed(codeOf(station), station.name)
      statusOf = station
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
        change = { update: sub.id, patch: { stations, active: stations.length > 0 || sub.communes.length > 0 } }
        reply = REPLIES.unsubscribed(station ? codeOf(station) : id)
      } else {
        change = { update: sub.id, patch: { stations: [], communes: [], active: false } }
        reply = REPLIES.unsubscribedAll()
      }
      break
    }
    case 'status': {
      if (cmd.station) {
        const station = findStation(deps.registry, cmd.station)
        reply = station ? statusReply(deps, [station], diacriticsFor(sub)) : REPLIES.unknownStation(cmd.station.toUpperCase())
        break
      }
      const mine = sub ? subs.stationsOf(sub, deps.registry.list()) : []
      reply = mine.length ? statusReply(deps, mine, diacriticsFor(sub)) : REPLIES.notSubscribed()
      break
    }
    default:
      reply = REPLIES.help()
  }
  if (change) sub = 'create' in change ? await deps.writer.create(change.create, now) : await deps.writer.update(change.update, change.patch, now)
  const diacritics = diacriticsFor(sub)
  const body = smsBody(reply, diacritics)
  return deps.db.transaction((): InboundResult => {
    const inbound = deps.db.prepare('INSERT INTO alert_inbound (at, channel, phone, text, command) VALUES (?, ?, ?, ?, ?)').run(now, channel, from, text, cmd.cmd)
    const key = deps.inboundKey?.(inbound.lastInsertRowid) ?? String(inbound.lastInsertRowid)
    deps.db
      .prepare(
        `INSERT OR IGNORE INTO alert_outbox (dedupe_key, subscriber_id, channel, address, kind, station, incident, level, severity, text, encoding, segments, status, reason, next_attempt_at, created_at)
         VALUES (?, ?, ?, ?, 'reply', NULL, NULL, NULL, NULL, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(`k:${key}`, sub?.id ?? null, channel, from, body.text, body.encoding, body.segments, overCap ? 'suppressed' : 'queued', overCap ? 'reply_cap' : null, now, now)
    // After the reply row, so the confirmation goes first (the outbox sends by id within a severity; a danger goes first).
    if (statusOf && sub) queueCurrentStatus(deps, key, sub, statusOf, channel, diacritics, overCap, now)
    return { command: cmd.cmd, reply: body.text }
  })()
}
