import type Database from 'better-sqlite3'
import type { Logger } from '../core/log.ts'
import type { Registry, Station } from '../devices/registry.ts'
import type { AcceptedReading } from '../core/reading.ts'
import type { AlertsConfig } from '../core/alerts-config.ts'
import { createHttpGatewayChannel, createWebhookChannel } from './channels/http-gateway.ts'
import { createLogChannel } from './channels/log.ts'
import { createSmppChannel } from './channels/smpp.ts'
import type { Channel, ChannelEvents } from './channels/types.ts'
import { Engine, type Transition } from './engine.ts'
import { handleInbound } from './inbound.ts'
import { Notifier } from './notify.ts'
import { Outbox } from './outbox.ts'
import { alertEventLine, notificationLine } from './points.ts'
import { createEmailChannel } from './channels/email.ts'
import { UniqueMsClock } from '../influx/line-protocol.ts'
import { RuleBook } from '../levels/book.ts'
import { migrateAlerts, type EventRow, type OutboxRow } from './store.ts'
import { whereAll } from '../core/sqlite.ts'
import { Subscribers } from './subscribers.ts'

/**
 * The alerter: evaluates accepted readings on the live stream, persists
 * state changes, fans out messages through the outbox and answers keyword
 * SMS. `onAccepted` only enqueues (bounded, drop-oldest, counted), so the
 * ingest is never blocked.
 */
export interface AlerterDeps {
  db: Database.Database
  registry: Registry
  config: AlertsConfig
  log: Logger
  clock?: () => number
  /** Line protocol, ms precision, for alert_event and notification. */
  writePoints?: (lines: string[]) => Promise<void>
}

export interface Alerter {
  onAccepted(readings: AcceptedReading[]): void
  start(): Promise<void>
  stop(): Promise<void>
  handleInboundSms(from: string, text: string, channel?: string): { command: string; reply: string }
  metrics(): string[]
  /** Evaluates everything queued now (tests, shutdown). */
  flush(): void
  /** Warms rise windows and latest values from stored readings (see Engine.seed). */
  seed(samples: ReadonlyArray<{ station: string; sensor: string; ts: number; value: number }>): void
  /** Runs the no-data check now (the timer calls it every noDataCheckMs). */
  checkNoData(): Transition[]
  readonly rules: RuleBook
  readonly subscribers: Subscribers
  readonly engine: Engine
  readonly outbox: Outbox
  readonly channels: ReadonlyMap<string, Channel>
  readonly config: AlertsConfig
  readonly clock: () => number
  incidents(opts: { open?: boolean; station?: string; limit?: number }): unknown[]
  events(opts: { station?: string; incident?: string; limit?: number }): EventRow[]
  messages(opts: { status?: string; incident?: string; limit?: number }): OutboxRow[]
}

const DRAIN_BATCH = 500
const POINTS_MAX = 50_000

export async function createAlerter(deps: AlerterDeps): Promise<Alerter> {
  const { db, registry, config } = deps
  const log = deps.log.child({ component: 'alerter' })
  const clock = deps.clock ?? Date.now
  migrateAlerts(db)
  const rules = new RuleBook(db, registry, clock)
  const subscribers = new Subscribers(db)
  const engine = new Engine(db, rules, { staleAfterMs: config.staleAfterSec * 1000 })
  const notifier = new Notifier(db, subscribers, config)
  for (const s of registry.list()) if (s.lastSeenAt) engine.lastHeard.set(s.id, s.lastSeenAt)

  const queue: AcceptedReading[] = []
  let dropped = 0
  let scheduled = false
  let running = false
  let noDataTimer: NodeJS.Timeout | null = null
  const startedAt = clock()
  const points: string[] = []
  let pointsDropped = 0
  let pointsInFlight = false

  const events: ChannelEvents = {
    onReceipt: (id, delivered, detail) => outbox.receipt('smpp', id, delivered, detail),
    onInbound: (from, text) => {
      try {
        api.handleInboundSms(from, text, 'smpp')
      } catch (err) {
        log.error({ err: (err as Error).message, from }, 'inbound sms failed')
      }
    },
  }
  const channels = new Map<string, Channel>()
  if (config.smsChannel === 'smpp' || config.smpp.enabled) channels.set('smpp', createSmppChannel(config.smpp, events, log.child({ channel: 'smpp' })))
  if (config.smsChannel === 'http' || config.http.enabled) channels.set('http', createHttpGatewayChannel(config.http))
  channels.set('log', createLogChannel('log', log))
  if (config.email.enabled) channels.set('email', createEmailChannel(config.email, log))
  else {
    channels.set('email', createLogChannel('email', log))
    if (subscribers.staff().some((s) => s.email)) log.warn('staff have e-mail addresses but alerts.email is not enabled: e-mails are only logged')
  }
  channels.set('webhook', createWebhookChannel())

  const notificationMs = new UniqueMsClock()
  const outbox: Outbox = new Outbox({
    db,
    channels,
    config: config.outbox,
    throttleBackoffMs: config.smpp.throttleBackoffMs,
    clock,
    log,
    // Notification points are timed by their status change and tagged only by
    // channel and status; unique timestamps keep two in one ms from overwriting.
    onStatus: (row, status) => pushPoints([notificationLine(row, status, notificationMs.next(`${row.channel}|${status}`, clock()))]),
  })

  function pushPoints(lines: string[]): void {
    if (!deps.writePoints) return
    points.push(...lines)
    if (points.length > POINTS_MAX) pointsDropped += points.splice(0, points.length - POINTS_MAX).length
    if (pointsInFlight) return
    pointsInFlight = true
    setImmediate(() => {
      const batch = points.splice(0, points.length)
      deps.writePoints!(batch)
        .catch((err: Error) => {
          pointsDropped += batch.length
          log.warn({ err: err.message, lines: batch.length }, 'alert points not written')
        })
        .finally(() => {
          pointsInFlight = false
          if (points.length) pushPoints([])
        })
    })
  }

  const stationCache = new Map<string, Station | undefined>()
  function stationOf(id: string): Station | undefined {
    if (!stationCache.has(id)) stationCache.set(id, registry.get(id))
    return stationCache.get(id)
  }

  function apply(transitions: Transition[], now: number, lines: string[]): number {
    let queued = 0
    for (const t of transitions) {
      const station = stationOf(t.station) ?? { id: t.station, name: t.station, commune: null } as Station
      queued += notifier.notify(t, station, now)
      lines.push(alertEventLine(t, `${t.station} ${t.sensor} ${t.level.name} ${t.to}${t.value === null ? '' : ` ${t.value}`}`))
      if (t.to === 'resolved' && t.ladder === 'level') {
        // alert_event is a series per level: after warning -> danger -> resolved
        // the warning series would otherwise stay "firing" on the dashboards.
        for (const level of rules.get(t.station, t.sensor)?.levels ?? []) {
          if (level.name !== t.level.name) lines.push(alertEventLine({ ...t, level }, `${t.station} ${t.sensor} ${level.name} resolved`))
        }
      }
      if (t.to !== 'pending' && t.to !== 'ok') log.info({ station: t.station, sensor: t.sensor, level: t.level.name, to: t.to, value: t.value, incident: t.incident }, 'alert state change')
    }
    return queued
  }

  const drainBatch = db.transaction((batch: AcceptedReading[], now: number, lines: string[]) => {
    rules.sync()
    let queued = 0
    for (const r of batch) queued += apply(engine.evaluate(r, now), now, lines)
    return queued
  })

  function drain(): void {
    scheduled = false
    stationCache.clear()
    while (queue.length) {
      const batch = queue.splice(0, DRAIN_BATCH)
      const lines: string[] = []
      let queued = 0
      try {
        queued = drainBatch(batch, clock(), lines)
      } catch (err) {
        // A failed transaction leaves no trace; the next reading re-evaluates.
        log.error({ err: (err as Error).message, readings: batch.length }, 'alert evaluation failed')
      }
      if (lines.length) pushPoints(lines)
      if (queued) outbox.kick()
    }
  }

  function checkNoData(): Transition[] {
    const now = clock()
    const lines: string[] = []
    const all: Transition[] = []
    db.transaction(() => {
      for (const s of registry.list()) {
        if (!s.enabled) continue
        const heard = Math.max(engine.lastHeard.get(s.id) ?? 0, s.lastSeenAt ?? 0) || startedAt
        if (now - heard > config.noDataFactor * s.intervalSec * 1000) {
          const ts = engine.noData(s.id, heard, now)
          stationCache.set(s.id, s)
          apply(ts, now, lines)
          all.push(...ts)
        }
      }
    })()
    if (lines.length) pushPoints(lines)
    if (all.length) outbox.kick()
    return all
  }

  const api: Alerter = {
    rules,
    subscribers,
    engine,
    outbox,
    channels,
    config,
    clock,
    onAccepted(readings) {
      if (!config.enabled) return
      for (const r of readings) queue.push(r)
      if (queue.length > config.queueMax) {
        // Drop the oldest: the newest reading describes the water now.
        const n = queue.length - config.queueMax
        queue.splice(0, n)
        dropped += n
        log.warn({ dropped: n, total: dropped }, 'alert queue overflow, oldest readings dropped')
      }
      if (!scheduled) {
        scheduled = true
        setImmediate(drain)
      }
    },
    flush: () => drain(),
    seed: (samples) => engine.seed(samples),
    checkNoData,
    async start() {
      if (running) return
      running = true
      for (const c of channels.values()) c.start()
      outbox.start()
      noDataTimer = setInterval(() => {
        try {
          checkNoData()
        } catch (err) {
          log.error({ err: (err as Error).message }, 'no-data check failed')
        }
      }, config.noDataCheckMs)
      noDataTimer.unref()
    },
    async stop() {
      if (!running) return
      running = false
      if (noDataTimer) clearInterval(noDataTimer)
      drain()
      await outbox.stop()
      await Promise.all([...channels.values()].map((c) => c.stop()))
    },
    handleInboundSms(from, text, channel = config.smsChannel) {
      const now = clock()
      const result = db.transaction(() =>
        handleInbound(
          {
            db,
            registry,
            subscribers,
            engine,
            rules,
            defaultDiacritics: config.defaultDiacritics,
            unicodeAllowed: (ch) => (ch === 'smpp' ? config.smpp.useUnicode : ch === 'http' ? config.http.useUnicode : true),
            replyCap: config.replyCap,
          },
          channels.has(channel) ? channel : config.smsChannel,
          from,
          text,
          now,
        ),
      )()
      outbox.kick()
      return result
    },
    metrics() {
      const c = engine.counters
      const o = outbox.counters
      const lines = [
        '# TYPE tidewatch_alerts_queue_depth gauge',
        `tidewatch_alerts_queue_depth ${queue.length}`,
        '# TYPE tidewatch_alerts_queue_dropped_total counter',
        `tidewatch_alerts_queue_dropped_total ${dropped}`,
        '# TYPE tidewatch_alerts_values_evaluated_total counter',
        `tidewatch_alerts_values_evaluated_total ${c.evaluated}`,
        '# TYPE tidewatch_alerts_readings_skipped_total counter',
        `tidewatch_alerts_readings_skipped_total{reason="late"} ${c.skippedLate}`,
        `tidewatch_alerts_readings_skipped_total{reason="stale"} ${c.skippedStale}`,
        '# TYPE tidewatch_alerts_transitions_total counter',
        `tidewatch_alerts_transitions_total ${c.transitions}`,
        '# TYPE tidewatch_alerts_points_dropped_total counter',
        `tidewatch_alerts_points_dropped_total ${pointsDropped}`,
        '# TYPE tidewatch_alerts_messages_total counter',
        ...Object.entries(o).map(([k, v]) => `tidewatch_alerts_messages_total{outcome="${k}"} ${v}`),
        '# TYPE tidewatch_alerts_outbox gauge',
        ...(db.prepare('SELECT channel, status, COUNT(*) AS n FROM alert_outbox GROUP BY channel, status').all() as Array<{ channel: string; status: string; n: number }>).map(
          (r) => `tidewatch_alerts_outbox{channel="${r.channel}",status="${r.status}"} ${r.n}`,
        ),
        '# TYPE tidewatch_alerts_incidents_open gauge',
        `tidewatch_alerts_incidents_open ${(db.prepare('SELECT COUNT(*) AS n FROM alert_incidents WHERE closed_at IS NULL').get() as { n: number }).n}`,
        '# TYPE tidewatch_alerts_channel_ready gauge',
        ...[...channels].map(([name, ch]) => `tidewatch_alerts_channel_ready{channel="${name}"} ${ch.ready() ? 1 : 0}`),
        '# TYPE tidewatch_alerts_channel_rate gauge',
        ...[...channels.keys()].map((name) => `tidewatch_alerts_channel_rate{channel="${name}"} ${outbox.limiter(name)?.current() ?? 0}`),
      ]
      return lines
    },
    incidents({ open, station, limit = 100 }) {
      const w = whereAll([open !== undefined && [open ? 'closed_at IS NULL' : 'closed_at IS NOT NULL'], station && ['station = ?', station]])
      return db.prepare(`SELECT * FROM alert_incidents ${w.sql} ORDER BY opened_at DESC LIMIT ?`).all(...w.params, limit)
    },
    events({ station, incident, limit = 200 }) {
      const w = whereAll([station && ['station = ?', station], incident && ['incident = ?', incident]])
      return db.prepare(`SELECT * FROM alert_events ${w.sql} ORDER BY id DESC LIMIT ?`).all(...w.params, limit) as EventRow[]
    },
    messages({ status, incident, limit = 200 }) {
      const w = whereAll([status && ['status = ?', status], incident && ['incident = ?', incident]])
      return db.prepare(`SELECT * FROM alert_outbox ${w.sql} ORDER BY id DESC LIMIT ?`).all(...w.params, limit) as OutboxRow[]
    },
  }
  return api
}
