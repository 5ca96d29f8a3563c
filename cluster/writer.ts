import { setTimeout as delay } from 'node:timers/promises'
import { nanos, type NatsConnection } from '@nats-io/transport-node'
import { jetstream, type Consumer, type ConsumerInfo, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream'
import { backoffWindow, fullJitter, type Backoff } from '../core/backoff.ts'
import type { Config, InfluxTarget } from '../core/config.ts'
import { TidewatchError } from '../core/errors.ts'
import type { Logger } from '../core/log.ts'
import type { CounterFamily } from '../core/metrics.ts'
import { targetTransport } from '../influx/target-transport.ts'
import { classifyWriteError, type WriteTransport } from '../influx/write-transport.ts'
import { connectLog, consumerName, DEFAULT_ACK_WAIT_MS, ensureReadingsLogRetrying, nodeIdOf, notFound, requireLogConfig } from './log/readings-stream.ts'

/**
 * A writer (`tidewatch writer --target primary|dr`): drains one InfluxDB
 * target's durable consumer of the readings log into that InfluxDB. Any
 * number of writer processes share a target's consumer; JetStream hands each
 * message to one of them. Each target has its own consumer, so one target
 * being down never holds back another.
 *
 * A message is acknowledged only after InfluxDB answered 2xx for the write
 * that carried it. A writer that dies leaves its messages unacknowledged and
 * JetStream re-delivers them after ack_wait; a point carries its identity
 * (station and sensor tags, device timestamp; quarantine and alert points a
 * unique ms from UniqueMsClock), so a re-delivered batch overwrites the same
 * points (docs/DURABILITY.md, "Duplicates collapse").
 *
 * Failures follow ingest/sink/target-writer.ts: network errors, 5xx, 429,
 * 401/403 are retried with exponential backoff and full jitter (nak with
 * that delay, and the writer pauses as long); a 400 partial write stored the
 * good lines, so the batch is acknowledged and the refused lines counted.
 *
 * Pulling is @nats-io/jetstream's `consume()`, which heals some failures by
 * itself and leaves others to us (read in its lib/consumer.js, 3.4.0):
 * - it re-pulls after a reconnect and after two missed idle heartbeats, once
 *   `consumer.info()` answers (`resetPending`);
 * - a consumer that is gone (409 "Consumer Deleted", or "consumer not found"
 *   on those info calls) is only reported, retried forever, never re-created:
 *   "your code should attempt to recreate the consumer" (ConsumerEvents docs);
 * - any message on its inbox, a heartbeat included, counts as life, so a pull
 *   the server keeps alive but serves nothing from is never replaced.
 * So the writer starts a fresh `consume()` (bounded backoff, full jitter,
 * logged and counted by reason in `consumerRestarts`) on a reconnect, on
 * heartbeats still missing after the client's own re-pull, on a missing
 * consumer (after re-creating it), on an iterator error, and when a
 * watchdog sees the consumer hand nothing to anyone while it has messages or
 * no pull request waiting. Restarting never acknowledges anything: what a
 * lost pull held comes back after ack_wait, so at-least-once is unchanged.
 */
export interface WriterDeps {
  config: Readonly<Config>
  /** The InfluxDB target's name (influx.targets[].name). */
  target: string
  log: Logger
  /** A connection to share; otherwise the writer opens (and closes) its own. */
  nc?: NatsConnection
  /** Replaces the InfluxDB transport (tests). */
  transport?: WriteTransport
  random?: () => number
  /** ack_wait of the consumer when this writer creates it (default DEFAULT_ACK_WAIT_MS). */
  ackWaitMs?: number
  /** Ends a start still waiting for the readings stream (the command's Ctrl-C); startWriter then throws its reason. */
  signal?: AbortSignal
}

export interface WriterStats {
  target: string
  up: boolean
  writtenPoints: number
  writtenMessages: number
  writeBatches: number
  writeErrors: number
  /** Lines InfluxDB refused in a partial write (type conflicts), acknowledged and counted. */
  rejectedLines: number
  /** Messages that reached this writer more than once (after a nak, a dead writer, a lost ack). */
  redelivered: number
  lastError?: string
  lastWriteAt?: number
  /** Fresh `consume()` iterators started after the first (recoveries), in all and by reason. */
  consumerRestarts: number
  consumerRestartsByReason: Record<ConsumerRestartReason, number>
}

/**
 * Why the writer dropped its pull iterator and started another:
 * - reconnect: the NATS connection came back; its pull requests died with the old server.
 * - heartbeats_missed: still no heartbeat after the client's own re-pull.
 * - consumer_missing: the consumer (or its stream) was deleted or is not found; re-created first.
 * - stalled: the watchdog saw the consumer deliver nothing while it had work or no waiting pull.
 * - error: the iterator failed (e.g. a 400 from the server).
 */
export type ConsumerRestartReason = 'reconnect' | 'heartbeats_missed' | 'consumer_missing' | 'stalled' | 'error'

const RESTART_REASONS: readonly ConsumerRestartReason[] = ['reconnect', 'heartbeats_missed', 'consumer_missing', 'stalled', 'error']

export interface WriterHandle {
  readonly target: string
  stats(): WriterStats
  /** Messages of this target's consumer not yet delivered, and delivered but not yet acknowledged (all writers). */
  backlog(): Promise<{ pending: number; ackPending: number }>
  /**
   * tidewatch_writer_consumer_restarts_total{target,reason} (core/metrics.ts
   * contract), for a process that serves /metrics. `tidewatch writer` serves
   * none: the same figures are in its periodic "writer stats" log line, as
   * stats().consumerRestarts and consumerRestartsByReason.
   */
  metrics(): CounterFamily[]
  stop(): Promise<void>
}

/**
 * Bytes of messages a writer holds from its consumer at once (the client
 * takes a bound in messages or in bytes, not both). Bytes, because a message
 * is one reading (~450 B) or a replayed batch (up to ~1 MiB): 4 MiB is ~9,000
 * live readings, more than one InfluxDB batch (influx.batchPoints, 5,000
 * points), and what waits ack_wait for another writer if this one dies.
 */
const BUFFER_BYTES = 4 * 1024 * 1024

/** Same caps as the single-process writer (ingest/sink/target-writer.ts): prompt after an outage, no load on a down InfluxDB. */
const RETRY: Backoff = { baseMs: 100, capMs: 5000 }

/**
 * Pull requests of 5 s (the client sends idle heartbeats at half that,
 * 2.5 s) instead of its default 30 s: a writer whose server or consumer
 * leader died notices within seconds and pulls again, instead of idling
 * for a minute.
 */
const PULL_EXPIRES_MS = 5000

/**
 * The client reports missed heartbeats from 2 on, and then re-pulls by
 * itself (consumer.js, IdleHeartbeatMonitor maxOut 2); the count goes on
 * rising by one per interval. At 4 its own re-pull has brought nothing
 * either, for two more intervals: start afresh.
 */
const HEARTBEATS_MISSED_RESTART = 4

/** How long (ms) the missed heartbeats must have been this writer's own wait on the pull: HEARTBEATS_MISSED_RESTART intervals of half a pull lifetime. */
const HEARTBEATS_MISSED_IDLE_MS = (HEARTBEATS_MISSED_RESTART * PULL_EXPIRES_MS) / 2

/**
 * The watchdog looks this often, and calls the consumer stalled when this
 * writer has received nothing for two looks and the consumer's delivered
 * sequence has not moved for two more: two pull lifetimes, so an expired
 * pull being renewed is never taken for a stall.
 */
const WATCH_EVERY_MS = PULL_EXPIRES_MS
const STALL_MS = 2 * PULL_EXPIRES_MS

/** Stalled restarts in a row without a message in between before the writer logs an error: fresh pulls are not helping (server side). */
const STALLS_BEFORE_ERROR = 3

/**
 * Backoff between fresh iterators: full jitter, because every writer of
 * every target restarts after the same outage; capped at two pull lifetimes
 * so a recovered server is used again within seconds.
 */
const RESTART: Backoff = { baseMs: 250, capMs: 2 * PULL_EXPIRES_MS }

/** Two "not found" answers (the client's, a backoff apart) before re-creating: right after a restart of every server the meta layer may answer one before it has recovered. */
const NOT_FOUND_BEFORE_RECREATE = 2

/** Throws CLUSTER_TARGET_UNKNOWN unless the target is configured. */
export function requireTarget(config: Readonly<Config>, target: string): InfluxTarget {
  const t = config.influx.targets.find((x) => x.name === target)
  if (!t) {
    const known = config.influx.targets.map((x) => x.name).join(', ') || 'none'
    throw new TidewatchError('CLUSTER_TARGET_UNKNOWN', { target, known }, `unknown InfluxDB target "${target}" (configured: ${known})`)
  }
  return t
}

export async function startWriter(deps: WriterDeps): Promise<WriterHandle> {
  const { config, target } = deps
  requireLogConfig(config)
  const t = requireTarget(config, target)
  const log = deps.log.child({ component: 'writer', target })
  const random = deps.random ?? Math.random
  const transport = deps.transport ?? targetTransport(config, t)
  const ownConnection = !deps.nc
  const nc = deps.nc ?? (await connectLog(config, { name: `writer:${target}:${nodeIdOf(config)}`, log, waitOnFirstConnect: true }))
  const stream = config.cluster.nats.stream
  const name = consumerName(target)
  const jsm = await ensureReadingsLogRetrying(nc, config, { log, targets: [target], ackWaitMs: deps.ackWaitMs, signal: deps.signal })
  if (!jsm) {
    if (ownConnection) await nc.close().catch(() => undefined)
    throw deps.signal?.reason ?? new Error('writer start aborted')
  }
  const js = jetstream(nc)
  let consumer: Consumer = await js.consumers.get(stream, name)
  const startInfo = await jsm.consumers.info(stream, name)
  // The consumer's, not ours: whoever created it chose it.
  const ackWaitMs = (startInfo.config.ack_wait ?? nanos(DEFAULT_ACK_WAIT_MS)) / 1e6
  /**
   * Where a re-created consumer starts: the highest ack floor (stream
   * sequence) any consumers.info showed for the consumer as it is now (its
   * `created`; a new incarnation starts over). Every message up to it is
   * stored in InfluxDB, so starting at floor + 1 skips nothing; a floor read a
   * while ago only re-delivers what was acknowledged since (idempotent
   * writes). `streamCreated` tells a re-created stream, whose sequences are
   * not these.
   */
  const ackFloor = { consumerCreated: '', streamSeq: 0 }
  const noteAckFloor = (info: ConsumerInfo): void => {
    if (info.created !== ackFloor.consumerCreated) {
      ackFloor.consumerCreated = info.created
      ackFloor.streamSeq = 0
    }
    ackFloor.streamSeq = Math.max(ackFloor.streamSeq, info.ack_floor.stream_seq)
  }
  noteAckFloor(startInfo)
  let streamCreated = (await jsm.streams.info(stream)).created
  await transport.ensureDatabase().catch((err: Error) => log.warn({ err: err.message }, 'cannot create the database yet; will retry on write'))

  const counters = { writtenPoints: 0, writtenMessages: 0, writeBatches: 0, writeErrors: 0, rejectedLines: 0, redelivered: 0 }
  let up = true
  let lastError: string | undefined
  let lastWriteAt: number | undefined
  let failures = 0
  let running = true
  let messages: ConsumerMessages | undefined

  /** Writes one batch; acks on success, naks with backoff on failure. Returns the pause before the next batch. */
  const flush = async (batch: JsMsg[]): Promise<number> => {
    const bodies: string[] = []
    let points = 0
    for (const m of batch) {
      if (m.info.deliveryCount > 1) counters.redelivered++
      const body = m.string()
      if (!body) continue
      bodies.push(body)
      points += countLines(body)
    }
    if (bodies.length === 0) {
      for (const m of batch) m.ack()
      return 0
    }
    // Keep the messages ours while InfluxDB is slow: without this a write
    // longer than ack_wait would be handed to another writer too.
    const keepAlive = setInterval(() => batch.forEach((m) => m.working()), Math.max(250, ackWaitMs / 3))
    let err: unknown
    try {
      await transport.write(bodies)
    } catch (e) {
      err = e ?? new Error('write failed')
    } finally {
      clearInterval(keepAlive)
    }
    const kind = err === undefined ? 'ok' : classifyWriteError(err)
    if (kind === 'ok' || kind === 'partial') {
      let dropped = 0
      if (kind === 'partial') {
        counters.writeErrors++
        lastError = (err as Error).message
        dropped = Number(/dropped=(\d+)/.exec((err as { body?: string }).body ?? '')?.[1] ?? 0)
        counters.rejectedLines += dropped
        log.error({ err: lastError, dropped }, 'InfluxDB rejected some lines (type conflict); the rest were stored')
      }
      for (const m of batch) m.ack()
      if (!up) log.info({ failures }, 'InfluxDB writes recovered; draining the log')
      up = true
      failures = 0
      counters.writtenPoints += points - dropped
      counters.writtenMessages += batch.length
      counters.writeBatches++
      lastWriteAt = Date.now()
      return 0
    }
    counters.writeErrors++
    lastError = (err as Error).message
    if (kind === 'missing_db') {
      log.warn('database missing; creating it')
      await transport.ensureDatabase().catch((e: Error) => log.warn({ err: e.message }, 'cannot prepare the database yet'))
    } else if (up) {
      log.warn({ err: lastError }, 'InfluxDB write failed; the log keeps the readings, retrying')
    }
    up = false
    const delay = fullJitter(backoffWindow(failures++, RETRY), random)
    for (const m of batch) m.nak(delay)
    return delay
  }

  const restarts = Object.fromEntries(RESTART_REASONS.map((r) => [r, 0])) as Record<ConsumerRestartReason, number>
  /** Set by restart(); cleared once run() has started the fresh iterator it asks for. */
  let restartReason: ConsumerRestartReason | undefined
  /** Restarts since this writer last stored a batch: the backoff attempt. Not reset on a message received: after a restart the same held messages come back, and a restart loop would never back off. */
  let attempt = 0
  /** When this writer last received a message, finished a write or started an iterator. */
  let lastActivityAt = Date.now()
  /** Writing or pausing after a failed write: not waiting on the pull, so not stalled. */
  let busy = false
  let stallsInARow = 0
  /** Aborted by stop(): ends every pause at once, and leaves no timer behind. */
  const stopping = new AbortController()
  const pause = (ms: number): Promise<void> => delay(ms, undefined, { signal: stopping.signal }).catch(() => undefined)

  /**
   * Where a re-created consumer starts: after the last ack floor seen, unless
   * the stream itself is not the one that floor belongs to (re-created: its
   * `created` changed), or has dropped what follows the floor (max_age), when
   * its first message is where to start anyway.
   */
  const restartSeq = async (): Promise<number | undefined> => {
    const s = await jsm.streams.info(stream)
    if (s.created !== streamCreated) {
      log.warn({ stream, was: streamCreated, now: s.created }, 'the readings stream was re-created; its consumer starts at its first message')
      streamCreated = s.created
      ackFloor.streamSeq = 0
      return undefined
    }
    if (ackFloor.streamSeq === 0 || s.state.first_seq > ackFloor.streamSeq + 1) return undefined
    return ackFloor.streamSeq + 1
  }

  /** Drops the current iterator; run() starts another after a backoff. The first reason stands until then. */
  const restart = (reason: ConsumerRestartReason, detail: Record<string, unknown> = {}): void => {
    if (!running || restartReason) return
    restartReason = reason
    // A reconnect is routine after any server restart; the rest mean something went wrong.
    if (reason === 'reconnect') log.info({ reason, ...detail }, 'restarting the consumer iterator')
    else log.warn({ reason, ...detail }, 'restarting the consumer iterator')
    void messages?.close().catch(() => undefined)
  }

  /** What consume() reports about its pulls, acted on where it leaves the healing to us. */
  const watchStatus = (iterator: ConsumerMessages): void => {
    // The client counts consumer_not_found itself (reset once info answers); stream_not_found carries no count.
    let streamNotFoundInARow = 0
    void (async () => {
      for await (const st of iterator.status()) {
        switch (st.type) {
          case 'heartbeats_missed':
            if (st.count === 2) log.info({ count: st.count }, 'pull heartbeats missed; the client pulls again')
            // The client queues its re-pull behind the messages it holds, so
            // while flush() writes (a slow or hung InfluxDB) no pull goes out
            // and heartbeats go missing by our doing: not a lost pull. Only
            // when this writer has waited on the pull itself for as long.
            if (st.count >= HEARTBEATS_MISSED_RESTART && !busy && Date.now() - lastActivityAt >= HEARTBEATS_MISSED_IDLE_MS) restart('heartbeats_missed', { count: st.count })
            break
          case 'consumer_deleted':
            restart('consumer_missing', { event: st.type, description: st.description })
            break
          case 'consumer_not_found':
            if (st.count >= NOT_FOUND_BEFORE_RECREATE) restart('consumer_missing', { event: st.type, count: st.count })
            break
          case 'stream_not_found':
            if (++streamNotFoundInARow >= NOT_FOUND_BEFORE_RECREATE) restart('consumer_missing', { event: st.type })
            break
          case 'next':
            // A pull went out: the client's info call answered, or it refilled.
            streamNotFoundInARow = 0
            break
          case 'no_responders':
          case 'exceeded_limits':
            // No consumer leader yet (503), or a server limit: the client stalls until heartbeats are missed, handled above.
            log.debug({ event: st.type }, 'pull refused')
            break
          default:
          // heartbeat, next, discard, debug: routine. reset and ordered_consumer_recreated are for ordered consumers, not a durable one.
        }
      }
    })().catch(() => undefined)
  }

  /** Hands the iterator's messages to flush() in batches; returns when the iterator ends (restart or stop). */
  const drain = async (iterator: ConsumerMessages): Promise<void> => {
    const it = iterator[Symbol.asyncIterator]()
    let batch: JsMsg[] = []
    let points = 0
    let next = it.next()
    try {
      for (;;) {
        const r = await next
        if (r.done) break
        stallsInARow = 0
        lastActivityAt = Date.now()
        batch.push(r.value)
        points += countLines(r.value.string())
        next = it.next()
        // Group commit: write once a full batch is in hand or no further message is buffered already.
        if (points < config.influx.batchPoints && (await settlesAtOnce(next))) continue
        busy = true
        try {
          const backoffMs = await flush(batch)
          batch = []
          points = 0
          if (backoffMs === 0) attempt = 0
          else if (running) await pause(backoffMs)
        } finally {
          busy = false
          lastActivityAt = Date.now()
        }
        if (!running) break
      }
    } finally {
      // Ended mid-batch: hand the rest back at once instead of after ack_wait.
      for (const m of batch) m.nak()
      void next.catch(() => undefined)
    }
  }

  const run = async (): Promise<void> => {
    while (running) {
      const reason = restartReason
      try {
        if (reason) {
          await pause(fullJitter(backoffWindow(attempt++, RESTART), random))
          if (!running) break
          if (reason === 'consumer_missing') {
            // Re-created as it was, with the ack_wait it had, after the last ack floor seen (see restartSeq).
            const startSeq = await restartSeq()
            await ensureReadingsLogRetrying(nc, config, { log, targets: [target], ackWaitMs, startSeq, stopped: () => !running, signal: stopping.signal })
            if (!running) break
            consumer = await js.consumers.get(stream, name)
          }
        }
        // stop() may have come while consumers.get was pending: a consume() started now would never be closed.
        if (!running) break
        messages = await consumer.consume({ max_bytes: BUFFER_BYTES, expires: PULL_EXPIRES_MS })
        // Counted once the fresh iterator exists: a failed attempt is retried for the same reason, not counted again.
        if (reason) restarts[reason]++
        // This iterator is the fresh start that any restart asked for meanwhile wanted.
        restartReason = undefined
        lastActivityAt = Date.now()
        watchStatus(messages)
        await drain(messages)
        if (running && !restartReason) {
          // The client ended the iterator by itself (its connection closed, its subscription drained).
          if (nc.isClosed()) {
            up = false
            lastError = 'the NATS connection is closed'
            log.error({ code: 'CLUSTER_LOG_CLOSED' }, 'the NATS connection is closed; the writer stops draining')
            break
          }
          restart('error', { err: 'the consumer iterator ended' })
        }
      } catch (err) {
        if (!running) break
        // A failed recovery (the consumer still missing, JetStream not answering) is tried again for the same reason.
        if (restartReason) log.warn({ reason: restartReason, err: (err as Error).message }, 'restarting the consumer iterator failed; retrying')
        else restart('error', { err: (err as Error).message })
      }
    }
  }

  /**
   * The watchdog: a pull the server forgot, or keeps alive (heartbeats) but
   * serves nothing from, looks like an idle stream to the client. When this
   * writer has received nothing for STALL_MS, it asks the consumer: if two
   * looks a watch interval apart see its delivered sequence unmoved while
   * it has messages pending, or no pull request waiting (not even ours),
   * nobody is being served: start a fresh iterator. It asks on every look
   * while not writing, stalled or not, to keep the ack floor a re-created
   * consumer starts after (noteAckFloor) at most a look old: one JetStream
   * API request per writer every WATCH_EVERY_MS.
   */
  let starving: { deliveredSeq: number; at: number } | undefined
  let notFoundLooks = 0
  let looking = false
  const lookForStall = async (): Promise<void> => {
    if (!running || busy || restartReason || !messages || nc.isClosed()) return
    let info: ConsumerInfo
    try {
      info = await jsm.consumers.info(stream, name)
    } catch (err) {
      // Unreachable or electing: the reconnect and the client's heartbeats handle those.
      if (notFound(err) && ++notFoundLooks >= NOT_FOUND_BEFORE_RECREATE) {
        notFoundLooks = 0
        restart('consumer_missing', { err: (err as Error).message })
      }
      return
    }
    notFoundLooks = 0
    noteAckFloor(info)
    // Read again: a write may have started, or a message come, while info was pending.
    if (!running || busy || restartReason || Date.now() - lastActivityAt < STALL_MS) {
      starving = undefined
      return
    }
    const deliveredSeq = info.delivered.consumer_seq
    const now = Date.now()
    if (!(info.num_pending > 0 || info.num_waiting === 0)) {
      starving = undefined
      return
    }
    if (!starving || starving.deliveredSeq !== deliveredSeq) {
      starving = { deliveredSeq, at: now }
      return
    }
    if (now - starving.at < WATCH_EVERY_MS) return
    starving = undefined
    const state = consumerState(info)
    if (++stallsInARow >= STALLS_BEFORE_ERROR) {
      log.error({ code: 'CLUSTER_CONSUMER_STALLED', ...state, stallsInARow }, 'the consumer hands out nothing although it has messages or no pull waiting, and fresh pulls did not help')
    }
    restart('stalled', state)
  }
  const watchdog = setInterval(() => {
    if (looking) return
    looking = true
    void lookForStall()
      .catch(() => undefined)
      .finally(() => (looking = false))
  }, WATCH_EVERY_MS)
  watchdog.unref()

  const loop = run()
  // After a reconnect the old pull requests are gone with their server; the
  // client re-pulls once consumer.info() answers, or when heartbeats stop.
  // Start afresh at once instead.
  void (async () => {
    for await (const st of nc.status()) {
      if (!running) break
      if (st.type === 'reconnect') restart('reconnect', { server: st.server })
    }
  })()
  log.info({ consumer: name, ackWaitMs }, 'writer started')

  return {
    target,
    stats: () => ({
      target,
      up,
      ...counters,
      lastError,
      lastWriteAt,
      consumerRestarts: RESTART_REASONS.reduce((sum, r) => sum + restarts[r], 0),
      consumerRestartsByReason: { ...restarts },
    }),
    async backlog() {
      const info = await jsm.consumers.info(stream, name)
      noteAckFloor(info)
      return { pending: info.num_pending, ackPending: info.num_ack_pending }
    },
    metrics: () => [
      {
        type: 'counter',
        name: 'tidewatch_writer_consumer_restarts_total',
        help: 'Fresh JetStream pull iterators the writer started after the first, by reason (reconnect, heartbeats_missed, consumer_missing, stalled, error).',
        samples: RESTART_REASONS.map((reason) => ({ labels: { target, reason }, value: restarts[reason] })),
      },
    ],
    async stop() {
      running = false
      stopping.abort()
      clearInterval(watchdog)
      await messages?.close().catch(() => undefined)
      await loop
      if (ownConnection) await nc.drain().catch(() => nc.close())
      else await nc.flush().catch(() => undefined)
    },
  }
}

/**
 * True when `next` settles before the event loop's next turn: the client
 * had the message buffered already. Not `ConsumerMessages.getPending()`: in
 * 3.4.0 it counts the client's own queued pull calls as messages once they
 * ran (QueuedIteratorImpl.inflight is not decremented for functions), so
 * after a refill it said "more buffered" when nothing was, and a batch
 * waited for the next message, or for its own re-delivery after ack_wait.
 */
function settlesAtOnce(next: Promise<unknown>): Promise<boolean> {
  return Promise.race([next.then(() => true, () => true), new Promise<boolean>((r) => setImmediate(() => r(false)))])
}

/**
 * A consumer's state for a log line (and the cluster tests' diagnostics): a
 * lost pull request (numWaiting 0), a consumer that delivers nothing
 * (delivered stuck, numPending > 0), writers holding messages (numAckPending).
 */
export function consumerState(info: ConsumerInfo): Record<string, unknown> {
  return {
    numPending: info.num_pending,
    numAckPending: info.num_ack_pending,
    numWaiting: info.num_waiting,
    numRedelivered: info.num_redelivered,
    delivered: info.delivered.consumer_seq,
    ackFloor: info.ack_floor.consumer_seq,
    ackFloorStreamSeq: info.ack_floor.stream_seq,
    leader: info.cluster?.leader,
  }
}

function countLines(body: string): number {
  if (!body) return 0
  let n = 1
  for (let i = body.indexOf('\n'); i >= 0; i = body.indexOf('\n', i + 1)) n++
  return n
}
