import type Database from 'better-sqlite3'
import type { Logger } from '../core/log.ts'
import type { Registry } from '../devices/registry.ts'
import type { AcceptedReading } from '../core/reading.ts'
import type { AlertsConfig } from '../core/alerts-config.ts'
import type { MetricFamily, MetricsSource } from '../core/metrics.ts'
import { UniqueMsClock } from '../influx/line-protocol.ts'
import { RuleBook } from '../levels/book.ts'
import { alerterMetrics } from './alerter-metrics.ts'
import { createChannels } from './channels/assemble.ts'
import type { Channel } from './channels/types.ts'
import { TransitionDispatch } from './dispatch.ts'
import { Engine, type Transition } from './engine.ts'
import { Evaluation } from './evaluation.ts'
import { AlertHistory } from './history.ts'
import { InboundSms } from './inbound-sms.ts'
import { Notifier } from './notify.ts'
import { Outbox } from './outbox.ts'
import { notificationLine } from './points.ts'
import { PointsWriter } from './points-writer.ts'
import { ReadingQueue } from './reading-queue.ts'
import { migrateAlerts, type EventRow, type OutboxRow } from './store.ts'
import { localSubscriberWriter, Subscribers, type SubscriberWriter } from './subscribers.ts'

/**
 * The alerter: evaluates accepted readings on the live stream, persists
 * state changes, fans out messages through the outbox and answers keyword
 * SMS. `onAccepted` only enqueues (bounded, drop-oldest, counted), so the
 * ingest is never blocked. Its parts:
 * - ReadingQueue (reading-queue.ts): the bounded hand-off from the ingest;
 * - Evaluation (evaluation.ts): readings and silences through the Engine, in transactions;
 * - TransitionDispatch (dispatch.ts): state changes to outbox rows, points and logs;
 * - Outbox (outbox.ts) over the channels (channels/assemble.ts): delivery;
 * - InboundSms (inbound-sms.ts): keyword SMS;
 * - PointsWriter (points-writer.ts): alert_event and notification points to InfluxDB;
 * - AlertHistory (history.ts) and alerterMetrics (alerter-metrics.ts): what operators read.
 */
export interface AlerterDeps {
  db: Database.Database
  registry: Registry
  config: AlertsConfig
  log: Logger
  clock?: () => number
  /** Line protocol, ms precision, for alert_event and notification. */
  writePoints?: (lines: string[]) => Promise<void>
  /** Where keyword SMS change subscriptions: this SQLite by default, PostgreSQL in cluster mode (cluster/metadata/subscriber-writer.ts). */
  subscriberWriter?: SubscriberWriter
}

export interface Alerter extends MetricsSource {
  onAccepted(readings: AcceptedReading[]): void
  start(): Promise<void>
  stop(): Promise<void>
  handleInboundSms(from: string, text: string, channel?: string): Promise<{ command: string; reply: string }>
  /** The alerter's metric families; render with core/metrics.ts renderPrometheus. */
  metrics(): MetricFamily[]
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

export async function createAlerter(deps: AlerterDeps): Promise<Alerter> {
  const { db, registry, config } = deps
  const log = deps.log.child({ component: 'alerter' })
  const clock = deps.clock ?? Date.now
  migrateAlerts(db)
  const rules = new RuleBook(db, registry, clock)
  const subscribers = new Subscribers(db)
  const engine = new Engine(db, rules, { staleAfterMs: config.staleAfterSec * 1000 })
  for (const s of registry.list()) if (s.lastSeenAt) engine.lastHeard.set(s.id, s.lastSeenAt)
  const points = new PointsWriter(deps.writePoints, log)

  // The channels report to the outbox and the keyword desk, which are built on them.
  const channels = createChannels(
    config,
    { onReceipt: (id, delivered, detail) => outbox.receipt('smpp', id, delivered, detail), onInbound: (from, text) => inbound.receive(from, text, 'smpp') },
    { staffHaveEmail: () => subscribers.staff().some((s) => s.email), log },
  )
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
    onStatus: (row, status) => points.push([notificationLine(row, status, notificationMs.next(`${row.channel}|${status}`, clock()))]),
  })
  const inbound: InboundSms = new InboundSms({ db, registry, subscribers, writer: deps.subscriberWriter ?? localSubscriberWriter(subscribers), engine, rules, config, channels, outbox, clock, log })

  const dispatch = new TransitionDispatch({ registry, rules, notifier: new Notifier(db, subscribers, config), log })
  const evaluation = new Evaluation({ db, registry, rules, engine, dispatch, points, outbox, noDataFactor: config.noDataFactor, clock, log })
  const queue = new ReadingQueue(config.queueMax, log, () => evaluation.drain(queue))
  const noDataWatch = new Interval(config.noDataCheckMs, () => evaluation.checkNoData(), (err) => log.error({ err: err.message }, 'no-data check failed'))
  const history = new AlertHistory(db)
  let running = false

  return {
    rules,
    subscribers,
    engine,
    outbox,
    channels,
    config,
    clock,
    onAccepted(readings) {
      if (config.enabled) queue.push(readings)
    },
    flush: () => evaluation.drain(queue),
    seed: (samples) => engine.seed(samples),
    checkNoData: () => evaluation.checkNoData(),
    async start() {
      if (running) return
      running = true
      for (const c of channels.values()) c.start()
      outbox.start()
      noDataWatch.start()
    },
    async stop() {
      if (!running) return
      running = false
      noDataWatch.stop()
      evaluation.drain(queue)
      await outbox.stop()
      await Promise.all([...channels.values()].map((c) => c.stop()))
    },
    handleInboundSms: (from, text, channel) => inbound.handle(from, text, channel),
    metrics: () => alerterMetrics({ db, queue, engine, points, outbox, channels }),
    incidents: (opts) => history.incidents(opts),
    events: (opts) => history.events(opts),
    messages: (opts) => history.messages(opts),
  }
}

/** A periodic check on an unref'd timer (it never keeps the process alive); a throw is reported, never fatal. */
class Interval {
  private timer: NodeJS.Timeout | null = null

  constructor(
    private readonly everyMs: number,
    private readonly run: () => unknown,
    private readonly onError: (err: Error) => void,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      try {
        this.run()
      } catch (err) {
        this.onError(err as Error)
      }
    }, this.everyMs)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
  }
}
