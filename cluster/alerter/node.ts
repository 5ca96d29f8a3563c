import type { NatsConnection } from '@nats-io/transport-node'
import { DeliverPolicy, jetstream, jetstreamManager, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream'
import type Database from 'better-sqlite3'
import { backoffWindow, fullJitter } from '../../core/backoff.ts'
import type { Config } from '../../core/config.ts'
import type { Logger } from '../../core/log.ts'
import type { AcceptedReading } from '../../core/reading.ts'
import type { Registry } from '../../devices/registry.ts'
import { RuleBook } from '../../levels/book.ts'
import { createChannels } from '../../alerts/channels/assemble.ts'
import type { Channel } from '../../alerts/channels/types.ts'
import { TransitionDispatch } from '../../alerts/dispatch.ts'
import { Engine } from '../../alerts/engine.ts'
import { Evaluation } from '../../alerts/evaluation.ts'
import { Notifier } from '../../alerts/notify.ts'
import { Outbox } from '../../alerts/outbox.ts'
import { PointsWriter } from '../../alerts/points-writer.ts'
import { migrateAlerts, type OutboxRow, type StateRow } from '../../alerts/store.ts'
import { InboundSms, type InboundCounters } from '../../alerts/inbound-sms.ts'
import { localSubscriberWriter, Subscribers, type SubscriberWriter } from '../../alerts/subscribers.ts'
import { connectLog, ensureReadingsLogRetrying, laneSubject, LogPublisher, nodeIdOf, requireLogConfig } from '../log/readings-stream.ts'
import { claimingChannel, type ClaimCounters } from './claiming-channel.ts'
import { Lease, type Term } from './lease.ts'
import { readingsFromBody } from './readings.ts'
import { openAlerterBuckets, SharedAlerterState, type ClaimStatus, type OutboxEntry } from './shared-state.ts'

/**
 * An alerter node (`tidewatch alerter`), issue 16 chaos scenario 6. Any
 * number run; the one holding the group's lease (lease.ts) evaluates, the
 * others wait. The leader:
 *
 * 1. loads the engine states and the outbox from JetStream KV
 *    (shared-state.ts) into its node-local SQLite tables, replacing them;
 * 2. warms the rise windows from the last SEED_MESSAGES of the live lane;
 * 3. reads the readings log from the shared cursor + 1 with an ordered
 *    consumer, and per batch: evaluates (alerts/engine.ts through the
 *    Notifier, in one SQLite transaction), then writes to KV the outbox
 *    entries the batch created, then the state rows it changed, then the
 *    cursor. A successor therefore starts after the last batch whose
 *    decisions are all shared, and re-evaluates the rest: with the same
 *    state, the same readings and the same `now` (the reading's arrival
 *    time, carried in the line) it makes the same decisions under the same
 *    dedupe keys, which already exist in KV when the dead leader got that far.
 * 4. sends through claimingChannel: claim in KV, SMS, record `sent`.
 *
 * Why not a durable consumer acked after KV: a killed leader's delivered but
 * unacked messages come back only after ack_wait and behind newer ones, and
 * the engine drops a reading older than the newest it has seen, so a
 * failover would become a miss or an ack_wait delay. The cursor in KV is the
 * acknowledgement, written after the decisions it covers, and ordered.
 *
 * Stations, rules and subscribers come from the node's registry (SQLite).
 * In cluster mode (cluster.postgres.url) `tidewatch alerter` keeps it a copy
 * of PostgreSQL's (cluster/metadata/mirror.ts RegistryMirror), written on
 * another connection: the Subscribers and RuleBook caches here notice it by
 * PRAGMA data_version, and stations are read from the table each time, so a
 * change reaches the leader as soon as the copy has it. Every node holds
 * the same subscribers under PostgreSQL's ids.
 *
 * Keyword SMS (MO) are answered by the leader, the only node bound to the
 * SMSC (channels run only during a term): the subscription change goes to
 * PostgreSQL through `subscriberWriter` (read back into this node's copy),
 * the reply and status rows to the local outbox and then to the shared one
 * in KV, and only then is the deliver_sm acknowledged (alerts/inbound-sms.ts).
 * A node that lost the lease but still has its session refuses the SMS, so
 * the SMSC delivers it again, to the next leader. Outbox keys of an MO carry
 * the node and term (inboundKey): alert_inbound ids are per node.
 *
 * The outbox is also recorded in PostgreSQL for staff (`outboxRecord`),
 * after KV and in the background: KV stays the fence (claims next to the
 * lease), PostgreSQL the record API nodes show (docs/CLUSTER.md, "Outbox").
 */
export interface AlerterNodeOptions {
  /** The lease group: one active evaluator per group. */
  group: string
  /** Lease time: the bucket TTL, so the failover waits at most this long for a dead leader. */
  leaseTtlMs: number
  renewEveryMs: number
  pollEveryMs: number
}

/**
 * 5 s lease, renewed every second, polled twice a second: failover in about
 * 5–6 s after a kill -9, against issue 16's bar of 30 s, while a stall of
 * up to 4 s (GC, a slow KV write) never deposes a healthy leader.
 */
export const DEFAULT_ALERTER_NODE_OPTIONS: AlerterNodeOptions = Object.freeze({ group: 'main', leaseTtlMs: 5000, renewEveryMs: 1000, pollEveryMs: 500 })

/** A leader stops acting this long before its local lease estimate runs out. */
const LEASE_MARGIN_MS = 1000

/** Live-lane messages read back to warm the rise windows (about 1 h of 10 stations a minute… or 50,000 readings). */
const SEED_MESSAGES = 50_000

/** Bytes an evaluating leader holds from the log at once (bounded, like the writers' buffer). */
const BUFFER_BYTES = 1024 * 1024

export interface AlerterNodeDeps {
  /** Ends a start still waiting for the readings stream (the command's Ctrl-C); startAlerterNode then throws its reason. */
  signal?: AbortSignal
  config: Readonly<Config>
  registry: Registry
  log: Logger
  options?: Partial<AlerterNodeOptions>
  nc?: NatsConnection
  /** Where keyword SMS change subscriptions: PostgreSQL in cluster mode (cluster/metadata/mirror.ts); the node's SQLite without it. */
  subscriberWriter?: SubscriberWriter
  /**
   * Where the outbox is recorded for staff after KV (PostgreSQL in cluster
   * mode, cluster/metadata/outbox-record.ts OutboxRecorder): never blocks,
   * never fences. Without it the outbox lives in KV and this node only.
   */
  outboxRecord?: {
    push(rows: ReadonlyArray<Omit<OutboxRow, 'id'>>, term: number): void
    reload(rows: ReadonlyArray<Omit<OutboxRow, 'id'>>, term: number): void
  }
}

export interface AlerterNodeStats {
  node: string
  leader: boolean
  term: number
  terms: number
  messages: number
  readings: number
  malformedLines: number
  transitions: number
  kvRetries: number
  claims: ClaimCounters
  /** Keyword SMS handled and acknowledged, and those left unacknowledged for the SMSC to deliver again. */
  inbound: InboundCounters
}

export interface AlerterNodeHandle {
  stats(): AlerterNodeStats
  stop(): Promise<void>
}

export async function startAlerterNode(deps: AlerterNodeDeps): Promise<AlerterNodeHandle> {
  const { config, registry } = deps
  requireLogConfig(config)
  const opts = { ...DEFAULT_ALERTER_NODE_OPTIONS, ...deps.options }
  const node = nodeIdOf(config)
  const log = deps.log.child({ component: 'alerter-node', node, group: opts.group })
  const ownConnection = !deps.nc
  const nc = deps.nc ?? (await connectLog(config, { name: `alerter:${node}`, log, waitOnFirstConnect: true }))
  const n = config.cluster.nats
  let stopping = false
  if (!(await ensureReadingsLogRetrying(nc, config, { log, targets: [], stopped: () => stopping, signal: deps.signal }))) {
    if (ownConnection) await nc.close().catch(() => undefined)
    throw deps.signal?.reason ?? new Error('alerter start aborted')
  }
  const buckets = await openAlerterBuckets(nc, { stream: n.stream, replicas: n.replicas, leaseTtlMs: opts.leaseTtlMs })
  const shared = new SharedAlerterState(buckets, opts.group)
  const lease = new Lease({ kv: buckets.lease, key: `group.${opts.group}`, node, ttlMs: opts.leaseTtlMs, renewEveryMs: opts.renewEveryMs, pollEveryMs: opts.pollEveryMs, marginMs: LEASE_MARGIN_MS, log })
  const counters = { terms: 0, messages: 0, readings: 0, malformedLines: 0, transitions: 0, kvRetries: 0 }
  const claims: ClaimCounters = { claimed: 0, alreadySent: 0, resentAfterFailover: 0, fencedOff: 0, unrecorded: 0 }
  const inboundCounters: InboundCounters = { handled: 0, deferred: 0 }
  const db = registry.db
  migrateAlerts(db)
  const publisher = new LogPublisher(jetstream(nc), { subjectPrefix: n.subjectPrefix, nodeId: `alerter-${node}`, timeoutMs: n.publishTimeoutMs, maxPayloadBytes: nc.info?.max_payload ?? 1024 * 1024 })
  let stopTerm: (() => void) | null = null

  const lead = async (term: Term): Promise<void> => {
    counters.terms++
    const tlog = log.child({ term: term.revision })
    const [states, outbox, cursor, headAtTakeover] = await Promise.all([shared.loadStates(), shared.loadOutbox(), shared.cursor(), logHead(nc, n.stream).then((h) => h.lastSeq)])
    // Level rows without their last value for the Engine's constructor, which would
    // put it in the rise window and make seedRiseWindows skip every older sample.
    replaceLocalTables(db, states.map((s) => ({ ...s, value: null, reading_ts: null })), outbox.map((o) => o.entry))
    deps.outboxRecord?.reload(withoutIds(db.prepare('SELECT * FROM alert_outbox').all() as OutboxRow[]), term.revision)
    const resumed = outbox.filter((o) => o.entry.status === 'claimed').length
    tlog.info({ states: states.length, outbox: outbox.length, claimedByDeadLeader: resumed, cursor: cursor.seq }, 'loaded the shared alerter state')

    const alerts = config.alerts
    const rules = new RuleBook(db, registry)
    const subscribers = new Subscribers(db)
    const engine = new Engine(db, rules, { staleAfterMs: alerts.staleAfterSec * 1000 })
    const points = new PointsWriter((lines) => publisher.publishLines('backlog', lines, Date.now()).then(() => undefined), tlog)
    const rowOf = db.prepare('SELECT * FROM alert_outbox WHERE id = ?')
    const inner = createChannels(
      alerts,
      {
        onReceipt: (id, delivered, detail) => box.receipt('smpp', id, delivered, detail),
        onInbound: (from, text) => inbound.receive(from, text, 'smpp'),
      },
      { staffHaveEmail: () => subscribers.staff().some((s) => s.email), log: tlog },
    )
    const channels = new Map<string, Channel>()
    for (const [name, ch] of inner) {
      channels.set(name, claimingChannel({ inner: ch, shared, holds: () => lease.holds(), term: () => term.revision, node, rowOf: (id) => rowOf.get(id) as OutboxRow | undefined, log: tlog, counters: claims }))
    }
    const box: Outbox = new Outbox({ db, channels, config: alerts.outbox, throttleBackoffMs: alerts.smpp.throttleBackoffMs, clock: Date.now, log: tlog, onStatus: () => undefined })
    const inbound: InboundSms = new InboundSms({
      db, registry, subscribers, engine, rules, config: alerts, channels, outbox: box, clock: Date.now, log: tlog,
      writer: deps.subscriberWriter ?? localSubscriberWriter(subscribers),
      inboundKey: (id) => `${node}.${term.revision}.${id}`,
      admit: () => {
        if (lost || !lease.holds()) throw new Error('not the alerter leader')
        // What the dead leader decided and did not save is decided again from
        // the cursor: a DK answered now would take its "current status" from
        // half-replayed states, and a TT would show them. They wait at the SMSC.
        if (!caughtUp) throw new Error('still re-reading the readings log from the shared cursor')
      },
      // The reply is in the shared outbox before the SMS is acknowledged: a successor sends it.
      afterCommit: () => share(null),
      counters: inboundCounters,
    })
    const dispatch = new TransitionDispatch({ registry, rules, notifier: new Notifier(db, subscribers, alerts), log: tlog })
    const noData = new Evaluation({ db, registry, rules, engine, dispatch, points, outbox: box, noDataFactor: alerts.noDataFactor, clock: Date.now, log: tlog })
    await seedRiseWindows(nc, config, engine, cursor.seq, tlog)
    // The values the constructor did not see, back in the table (the engine's rows get theirs with the next reading).
    const restore = db.prepare('UPDATE alert_states SET value = @value, reading_ts = @reading_ts WHERE station = @station AND sensor = @sensor AND ladder = @ladder')
    db.transaction(() => states.forEach((s) => restore.run(s)))()
    // And in the engine's own rows, which TT replies and a DK's current status read (alerts/inbound.ts).
    for (const s of states) Object.assign(engine.state(s.station, s.sensor, s.ladder) ?? {}, { value: s.value, reading_ts: s.reading_ts })
    const dirty = new DirtyRows(db)
    const staleAfterMs = alerts.staleAfterSec * 1000
    const evaluate = db.transaction((readings: AcceptedReading[], lines: string[]) => {
      rules.sync()
      dispatch.forgetStations()
      let queued = 0
      for (const r of readings) {
        // The arrival time, so a successor decides exactly as the dead leader did;
        // a reading older than staleAfter by now is only heard, never alerted on.
        const now = Date.now() - r.receivedAt > staleAfterMs ? Date.now() : r.receivedAt
        const ts = engine.evaluate(r, now)
        counters.transitions += ts.length
        queued += dispatch.apply(ts, now, lines)
      }
      return queued
    })

    let cursorRevision = cursor.revision
    let caughtUp = cursor.seq >= headAtTakeover
    /** The last sequence evaluated in this term (the cursor until the first batch). */
    let evaluatedTo = cursor.seq
    const catchUp = (seq: number): void => {
      evaluatedTo = seq
      if (caughtUp || seq < headAtTakeover) return
      caughtUp = true
      tlog.info({ seq, fromCursor: cursor.seq }, 'caught up with the readings log at takeover; answering keyword SMS')
    }
    // The head seen at takeover may never be delivered: expired (max_age) or
    // deleted meanwhile, with nothing newer on a quiet log. Then the log as it
    // is now says it: empty, or nothing past what was evaluated.
    const recheck = setInterval(() => {
      if (caughtUp) return clearInterval(recheck)
      logHead(nc, n.stream).then(
        (h) => (h.messages === 0 || h.lastSeq <= evaluatedTo) && catchUp(Math.max(evaluatedTo, headAtTakeover)),
        () => undefined,
      )
    }, 1000)
    recheck.unref()
    let firstEvaluation = true
    let messages: ConsumerMessages | undefined
    let lost = false
    const termOver = new Promise<void>((resolve) => {
      stopTerm = resolve
      void term.lost.then(() => {
        lost = true
        resolve()
      })
    })
    void termOver.then(() => messages?.close().catch(() => undefined))

    /** Writes what the batch decided to KV, in the order a successor relies on; retries until written or deposed. */
    const writeShared = async (seq: number | null): Promise<void> => {
      for (let attempt = 0; ; attempt++) {
        if (lost || !lease.holds()) throw new Error('lost the lease while sharing state')
        try {
          const { outbox: rows, states: changed } = dirty.peek()
          for (const row of rows) {
            const status = kvStatusOf(row.status)
            if (status) await shared.record(row, status)
          }
          await shared.saveStates(changed)
          // In KV: now the record staff read (PostgreSQL), in the background.
          deps.outboxRecord?.push(withoutIds(rows), term.revision)
          dirty.clear()
          if (seq !== null) cursorRevision = await shared.advanceCursor(seq, cursorRevision)
          return
        } catch (err) {
          counters.kvRetries++
          tlog.warn({ err: (err as Error).message, attempt }, 'cannot write the alerter state to KV yet; retrying')
          await sleep(fullJitter(backoffWindow(attempt, { baseMs: 100, capMs: 2000 })))
        }
      }
    }

    // One share at a time: the timer's and a batch's would clear each other's dirty rows.
    let sharing: Promise<void> = Promise.resolve()
    const share = (seq: number | null): Promise<void> => (sharing = sharing.catch(() => undefined).then(() => writeShared(seq)))

    const handleBatch = async (batch: JsMsg[]): Promise<void> => {
      const readings: AcceptedReading[] = []
      for (const m of batch) {
        counters.messages++
        if (m.subject === laneSubject(n.subjectPrefix, 'backlog')) continue
        const parsed = readingsFromBody(m.string())
        counters.malformedLines += parsed.malformed
        for (const r of parsed.readings) readings.push(r)
      }
      counters.readings += readings.length
      const lines: string[] = []
      if (!lease.holds()) throw new Error('not the leader')
      // alerts.enabled off: the cursor still moves, as the single-process alerter drops what it is handed.
      const queued = alerts.enabled ? evaluate(readings, lines) : 0
      if (firstEvaluation && readings.length > 0) {
        firstEvaluation = false
        const at = Date.now()
        tlog.info({ at, failoverMs: term.previousExpiredAt === null ? null : at - term.previousExpiredAt, sinceTakeoverMs: at - term.acquiredAt }, 'first evaluation as leader')
      }
      if (lines.length) points.push(lines)
      if (queued > 0) box.kick()
      await share(batch.at(-1)!.seq)
      catchUp(batch.at(-1)!.seq)
    }

    for (const c of channels.values()) c.start()
    box.start()
    const noDataTimer = setInterval(() => {
      try {
        if (lease.holds() && noData.checkNoData().length) void share(null).catch(() => undefined)
      } catch (err) {
        tlog.error({ err: (err as Error).message }, 'no-data check failed')
      }
    }, alerts.noDataCheckMs)
    noDataTimer.unref()
    // Pump outcomes (sent, failed) are recorded by the claims; a periodic share also catches evaluation-free changes.
    const shareTimer = setInterval(() => void share(null).catch(() => undefined), 1000)
    shareTimer.unref()

    try {
      const js = jetstream(nc)
      for (let attempt = 0; !lost && !stopping; ) {
        try {
          const consumer = await js.consumers.get(n.stream, {
            filter_subjects: `${n.subjectPrefix}.>`,
            deliver_policy: DeliverPolicy.StartSequence,
            opt_start_seq: (await shared.cursor()).seq + 1,
          })
          messages = await consumer.consume({ max_bytes: BUFFER_BYTES, expires: 5000 })
          let batch: JsMsg[] = []
          for await (const m of messages) {
            attempt = 0
            batch.push(m)
            if (messages.getPending() > 0 && batch.length < 500) continue
            await handleBatch(batch)
            batch = []
            if (lost || stopping) break
          }
        } catch (err) {
          if (lost || stopping) break
          tlog.warn({ err: (err as Error).message }, 'alerter consumer interrupted; resuming from the shared cursor')
          await sleep(fullJitter(backoffWindow(attempt++, { baseMs: 100, capMs: 5000 })))
        }
      }
    } finally {
      clearInterval(recheck)
      clearInterval(noDataTimer)
      clearInterval(shareTimer)
      await messages?.close().catch(() => undefined)
      await box.stop()
      await Promise.all([...channels.values()].map((c) => c.stop()))
      dirty.drop()
      stopTerm = null
      tlog.info({ lost }, 'alerter term over')
    }
  }

  const loop = (async () => {
    while (!stopping) {
      const term = await lease.acquire()
      if (!term) break
      try {
        await lead(term)
      } catch (err) {
        log.error({ err: (err as Error).message }, 'alerter term failed')
      }
      // A term that ended while the lease is still ours (an error) gives it up, so another node can try.
      if (lease.holds()) await lease.release()
    }
  })()

  log.info({ ...opts }, 'alerter node started; waiting for the lease')
  return {
    stats: () => ({ node, leader: lease.holds(), term: lease.term, ...counters, claims: { ...claims }, inbound: { ...inboundCounters } }),
    async stop() {
      stopping = true
      stopTerm?.()
      await lease.stop()
      await loop
      if (ownConnection) await nc.drain().catch(() => nc.close())
    },
  }
}

function withoutIds(rows: readonly OutboxRow[]): Array<Omit<OutboxRow, 'id'>> {
  return rows.map(({ id: _id, ...rest }) => rest)
}

/** The KV status for a local outbox status the evaluation (not the pump) set; null: the claim owns it. */
function kvStatusOf(status: string): ClaimStatus | null {
  switch (status) {
    case 'queued':
    case 'suppressed':
    case 'cancelled':
    case 'failed':
      return status
    default:
      return null
  }
}

/** A shared status as a local outbox row: claimed-but-unrecorded is queued again (claimingChannel decides). */
function localStatusOf(e: OutboxEntry): string {
  switch (e.status) {
    case 'claimed':
      return 'queued'
    case 'sent':
      return 'submitted'
    default:
      return e.status
  }
}

/** The node-local alert tables become the shared state, in one transaction, before the engine reads them. */
function replaceLocalTables(db: Database.Database, states: readonly StateRow[], outbox: readonly OutboxEntry[]): void {
  const insertState = db.prepare(
    `INSERT INTO alert_states (station, sensor, ladder, status, level, pending_level, pending_count, pending_since, incident, value, reading_ts, updated_at)
     VALUES (@station, @sensor, @ladder, @status, @level, @pending_level, @pending_count, @pending_since, @incident, @value, @reading_ts, @updated_at)`,
  )
  const columns = (db.prepare('PRAGMA table_info(alert_outbox)').all() as Array<{ name: string }>).map((c) => c.name).filter((c) => c !== 'id')
  const insertOutbox = db.prepare(`INSERT OR REPLACE INTO alert_outbox (${columns.join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`)
  db.transaction(() => {
    db.exec('DELETE FROM alert_states; DELETE FROM alert_outbox; DELETE FROM alert_parts')
    for (const s of states) insertState.run(s)
    for (const e of outbox) {
      const row: Record<string, unknown> = Object.fromEntries(columns.map((c) => [c, (e.row as Record<string, unknown>)[c] ?? null]))
      row.status = localStatusOf(e)
      row.attempts = e.row.attempts ?? 0
      row.provider_id = e.providerId ?? e.row.provider_id ?? null
      insertOutbox.run(row)
    }
  })()
}

/**
 * The alert rows changed since the last look, from TEMP triggers on this
 * connection (they leave the registry file's schema alone): what a batch
 * must write to KV.
 */
class DirtyRows {
  private readonly stmts

  constructor(private readonly db: Database.Database) {
    db.exec(`
      CREATE TEMP TABLE IF NOT EXISTS cluster_dirty_states (station TEXT NOT NULL, sensor TEXT NOT NULL, ladder TEXT NOT NULL);
      CREATE TEMP TABLE IF NOT EXISTS cluster_dirty_outbox (id INTEGER NOT NULL);
      DELETE FROM cluster_dirty_states; DELETE FROM cluster_dirty_outbox;
      CREATE TEMP TRIGGER IF NOT EXISTS cluster_states_insert AFTER INSERT ON alert_states BEGIN INSERT INTO cluster_dirty_states VALUES (NEW.station, NEW.sensor, NEW.ladder); END;
      CREATE TEMP TRIGGER IF NOT EXISTS cluster_states_update AFTER UPDATE ON alert_states BEGIN INSERT INTO cluster_dirty_states VALUES (NEW.station, NEW.sensor, NEW.ladder); END;
      CREATE TEMP TRIGGER IF NOT EXISTS cluster_outbox_insert AFTER INSERT ON alert_outbox BEGIN INSERT INTO cluster_dirty_outbox VALUES (NEW.id); END;
      CREATE TEMP TRIGGER IF NOT EXISTS cluster_outbox_update AFTER UPDATE OF status ON alert_outbox BEGIN INSERT INTO cluster_dirty_outbox VALUES (NEW.id); END;
    `)
    this.stmts = {
      states: db.prepare('SELECT * FROM alert_states WHERE (station, sensor, ladder) IN (SELECT station, sensor, ladder FROM cluster_dirty_states)'),
      outbox: db.prepare('SELECT * FROM alert_outbox WHERE id IN (SELECT id FROM cluster_dirty_outbox) ORDER BY id'),
    }
  }

  /** What changed; cleared only after it is written (clear), so a failed write is retried whole. */
  peek(): { states: StateRow[]; outbox: OutboxRow[] } {
    return { states: this.stmts.states.all() as StateRow[], outbox: this.stmts.outbox.all() as OutboxRow[] }
  }

  clear(): void {
    this.db.exec('DELETE FROM cluster_dirty_states; DELETE FROM cluster_dirty_outbox')
  }

  drop(): void {
    this.db.exec('DROP TRIGGER IF EXISTS temp.cluster_states_insert; DROP TRIGGER IF EXISTS temp.cluster_states_update; DROP TRIGGER IF EXISTS temp.cluster_outbox_insert; DROP TRIGGER IF EXISTS temp.cluster_outbox_update')
  }
}

/** The readings log's last sequence now, and how many messages it holds: a new leader has caught up once it has evaluated up to it. */
async function logHead(nc: NatsConnection, stream: string): Promise<{ lastSeq: number; messages: number }> {
  const { state } = await (await jetstreamManager(nc)).streams.info(stream)
  return { lastSeq: state.last_seq, messages: state.messages }
}

/**
 * The rise/trend windows live in memory (single process: warmed from
 * InfluxDB); a new leader reads them back from the live lane up to the
 * cursor, so a rise already firing is not resolved early for want of history.
 */
async function seedRiseWindows(nc: NatsConnection, config: Readonly<Config>, engine: Engine, cursor: number, log: Logger): Promise<void> {
  if (cursor === 0) return
  const n = config.cluster.nats
  const js = jetstream(nc)
  const samples: Array<{ station: string; sensor: string; ts: number; value: number }> = []
  try {
    const consumer = await js.consumers.get(n.stream, {
      filter_subjects: laneSubject(n.subjectPrefix, 'live'),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: Math.max(1, cursor - SEED_MESSAGES + 1),
    })
    for (let done = false; !done; ) {
      const batch = await consumer.fetch({ max_messages: 1000, expires: 1000 })
      let got = 0
      for await (const m of batch) {
        got++
        if (m.seq > cursor) {
          done = true
          break
        }
        for (const r of readingsFromBody(m.string()).readings) for (const v of r.values) samples.push({ station: r.stationId, sensor: v.sensor, ts: r.ts, value: v.value })
        if (m.seq === cursor || m.info.pending === 0) done = true
      }
      if (got === 0) done = true
    }
    engine.seed(samples)
    log.info({ samples: samples.length }, 'warmed the rise windows from the readings log')
  } catch (err) {
    log.warn({ err: (err as Error).message, samples: samples.length }, 'cannot warm the rise windows from the log; rises start from fresh windows')
    engine.seed(samples)
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}
