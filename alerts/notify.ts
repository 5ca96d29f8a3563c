import type Database from 'better-sqlite3'
import type { Station } from '../devices/registry.ts'
import type { AlertsConfig } from '../core/alerts-config.ts'
import type { Transition } from './engine.ts'
import type { Subscriber, Subscribers } from './subscribers.ts'
import { render, type Rendered } from './templates.ts'
import { SENT_STATUSES_SQL } from './store.ts'
import { LOCAL_OFFSET_MS } from '../core/local-time.ts'

/**
 * Fan-out of state changes to subscribers, with the anti-spam policy
 * (docs/ALERTS.md, "No spam"). Runs inside the engine's transaction; every
 * decision, including a suppression, is an outbox row with a unique
 * dedupe key, so a replay after a crash inserts nothing twice.
 */
export interface Recipient {
  subscriber: Subscriber
  channel: string
  address: string
  sms: boolean
}

// 'logged': the log channel (development) and a disabled e-mail channel; it counts as sent for anti-spam and all-clears.
const SENT = SENT_STATUSES_SQL
const DAY_MS = 24 * 3600_000

export class Notifier {
  private readonly subs: Subscribers
  private readonly config: AlertsConfig
  private readonly stmts

  constructor(db: Database.Database, subs: Subscribers, config: AlertsConfig) {
    this.subs = subs
    this.config = config
    this.stmts = {
      insert: db.prepare(
        `INSERT OR IGNORE INTO alert_outbox (dedupe_key, subscriber_id, channel, address, kind, station, sensor, incident, level, severity, text, encoding, segments, status, reason, next_attempt_at, created_at)
         VALUES (@dedupe_key, @subscriber_id, @channel, @address, @kind, @station, @sensor, @incident, @level, @severity, @text, @encoding, @segments, @status, @reason, @next_attempt_at, @created_at)`,
      ),
      lastSent: db.prepare(`SELECT MAX(created_at) AS at FROM alert_outbox WHERE subscriber_id = ? AND station = ? AND sensor = ? AND level = ? AND channel = ? AND kind = 'alert' AND status IN ${SENT}`),
      dayCount: db.prepare(`SELECT COUNT(*) AS n FROM alert_outbox WHERE subscriber_id = ? AND kind = 'alert' AND created_at > ? AND status IN ${SENT}`),
      sentFor: db.prepare(`SELECT DISTINCT subscriber_id, channel, address FROM alert_outbox WHERE incident = ? AND kind = 'alert' AND status IN ('sending','submitted','delivered','unknown','logged')`),
      // Anything of the incident still queued (quiet hours, or an SMSC that was
      // down) is stale once the water is safe again: a late "danger" would be wrong.
      cancelQueued: db.prepare(`UPDATE alert_outbox SET status = 'cancelled', reason = 'resolved_before_send' WHERE incident = ? AND kind = 'alert' AND status = 'queued'`),
    }
  }

  /** The SMS channel's Unicode policy decides whether diacritics are possible at all. */
  private unicodeAllowed(): boolean {
    const c = this.config
    return c.smsChannel === 'smpp' ? c.smpp.useUnicode : c.smsChannel === 'http' ? c.http.useUnicode : true
  }

  recipients(t: Transition, station: Station): Recipient[] {
    const out: Recipient[] = []
    const sms = this.config.smsChannel
    // A monitoring station is staff only, whatever its rules say (levels/zones.ts).
    if (t.level.notifyFarmers && t.ladder !== 'no_data' && station.zone !== 'monitoring') {
      for (const s of this.subs.farmersFor(station)) out.push({ subscriber: s, channel: sms, address: s.phone!, sms: true })
    }
    for (const s of this.subs.staff()) {
      if (s.phone) out.push({ subscriber: s, channel: sms, address: s.phone, sms: true })
      if (s.webhook) out.push({ subscriber: s, channel: 'webhook', address: s.webhook, sms: false })
      if (s.email) out.push({ subscriber: s, channel: 'email', address: s.email, sms: false })
    }
    return out
  }

  /** Creates outbox rows for one transition; returns how many were queued. */
  notify(t: Transition, station: Station, now: number): number {
    if (t.to === 'firing') return this.alert(t, station, now)
    if (t.to === 'resolved') return this.resolved(t, station, now)
    return 0 // pending and ok are recorded, never sent
  }

  private renderFor(r: Recipient, t: Transition, station: Station, kind: 'alert' | 'resolved'): Rendered {
    const diacritics = r.subscriber.diacritics && (!r.sms || this.unicodeAllowed())
    const msg = render(
      {
        kind, station: { id: station.id, name: station.name, zone: station.zone, code: station.code }, sensor: t.sensor, level: t.level, side: t.side,
        value: t.value, threshold: t.threshold, delta: t.delta, windowSec: t.windowSec, ts: t.readingTs ?? t.at, trend: t.trend,
      },
      { lang: r.subscriber.lang, diacritics },
    )
    // An e-mail or a webhook call is one message, whatever its SMS length would be.
    return r.sms ? msg : { ...msg, segments: 1 }
  }

  private alert(t: Transition, station: Station, now: number): number {
    let queued = 0
    for (const r of this.recipients(t, station)) {
      const msg = this.renderFor(r, t, station, 'alert')
      let status = 'queued'
      let reason: string | null = null
      let due = now
      const farmer = r.subscriber.kind === 'farmer'
      const last = (this.stmts.lastSent.get(r.subscriber.id, t.station, t.sensor, t.level.name, r.channel) as { at: number | null }).at
      if (last !== null && now - last < this.config.windowSec * 1000) {
        // Same level within the window: an escalation is a different level, so it passes.
        status = 'suppressed'
        reason = 'window'
      } else if (farmer && t.level.severity !== 'danger' && (this.stmts.dayCount.get(r.subscriber.id, now - DAY_MS) as { n: number }).n >= this.config.dailyCap) {
        status = 'suppressed'
        reason = 'daily_cap'
      } else if (farmer && t.level.severity !== 'danger' && this.config.quietHours) {
        const end = quietEnd(now, this.config.quietHours)
        if (end !== null) {
          due = end
          reason = 'quiet_hours'
        }
      }
      const dedupeKey = `a:${t.incident}:${t.level.name}:${t.at}:${r.subscriber.id}:${r.channel}`
      if (this.enqueue(t, r, 'alert', msg, { dedupeKey, status, reason, due }, now) && status === 'queued') queued++
    }
    return queued
  }

  private resolved(t: Transition, station: Station, now: number): number {
    if (!t.incident) return 0
    this.stmts.cancelQueued.run(t.incident)
    let queued = 0
    const rows = this.stmts.sentFor.all(t.incident) as Array<{ subscriber_id: number; channel: string; address: string }>
    for (const row of rows) {
      const subscriber = this.subs.get(row.subscriber_id)
      if (!subscriber || !subscriber.active) continue
      const r: Recipient = { subscriber, channel: row.channel, address: row.address, sms: row.channel !== 'webhook' && row.channel !== 'email' }
      const msg = this.renderFor(r, t, station, 'resolved')
      const dedupeKey = `r:${t.incident}:${subscriber.id}:${row.channel}`
      if (this.enqueue(t, r, 'resolved', msg, { dedupeKey, status: 'queued', reason: null, due: now }, now)) queued++
    }
    return queued
  }

  /** Inserts one outbox row for a recipient of a transition; false when a row with its dedupe key exists already. */
  private enqueue(
    t: Transition,
    r: Recipient,
    kind: 'alert' | 'resolved',
    msg: Rendered,
    o: { dedupeKey: string; status: string; reason: string | null; due: number },
    now: number,
  ): boolean {
    const info = this.stmts.insert.run({
      dedupe_key: o.dedupeKey,
      subscriber_id: r.subscriber.id,
      channel: r.channel,
      address: r.address,
      kind,
      station: t.station,
      sensor: t.sensor,
      incident: t.incident,
      level: t.level.name,
      severity: t.level.severity,
      text: msg.text,
      encoding: msg.encoding,
      segments: msg.segments,
      status: o.status,
      reason: o.reason,
      next_attempt_at: o.due,
      created_at: now,
    })
    return info.changes > 0
  }
}

/** If `now` is inside quiet hours, the end of them (epoch ms); otherwise null. */
export function quietEnd(now: number, q: { start: string; end: string }): number | null {
  const toMin = (s: string): number => Number(s.slice(0, 2)) * 60 + Number(s.slice(3, 5))
  const local = now + LOCAL_OFFSET_MS
  const dayStart = local - (local % DAY_MS)
  const minute = Math.floor((local - dayStart) / 60_000)
  const start = toMin(q.start)
  const end = toMin(q.end)
  const inside = start <= end ? minute >= start && minute < end : minute >= start || minute < end
  if (!inside) return null
  let endLocal = dayStart + end * 60_000
  if (endLocal <= local) endLocal += DAY_MS
  return endLocal - LOCAL_OFFSET_MS
}
