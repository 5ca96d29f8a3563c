import { nanos, type NatsConnection } from '@nats-io/transport-node'
import { jetstream, type Consumer, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream'
import { backoffWindow, fullJitter, type Backoff } from '../core/backoff.ts'
import type { Config, InfluxTarget } from '../core/config.ts'
import { TidewatchError } from '../core/errors.ts'
import type { Logger } from '../core/log.ts'
import { targetTransport } from '../influx/target-transport.ts'
import { classifyWriteError, type WriteTransport } from '../influx/write-transport.ts'
import { connectLog, consumerName, DEFAULT_ACK_WAIT_MS, ensureReadingsLogRetrying, nodeIdOf, requireLogConfig } from './log/readings-stream.ts'

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
}

export interface WriterHandle {
  readonly target: string
  stats(): WriterStats
  /** Messages of this target's consumer not yet delivered, and delivered but not yet acknowledged (all writers). */
  backlog(): Promise<{ pending: number; ackPending: number }>
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

/** Throws CLUSTER_TARGET_UNKNOWN unless the target is configured. */
export function requireTarget(config: Readonly<Config>, target: string): InfluxTarget {
  const t = config.influx.targets.find((x) => x.name === target)
  if (!t) {
    const known = config.influx.targets.map((x) => x.name).join(', ') || 'none'
    throw new TidewatchError('CLUSTER_TARGET_UNKNOWN', { target, known }, `unknown InfluxDB target "${target}" (configured: ${known})`)
  }
  return t
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
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
  const jsm = (await ensureReadingsLogRetrying(nc, config, { log, targets: [target], ackWaitMs: deps.ackWaitMs }))!
  const consumer: Consumer = await jetstream(nc).consumers.get(stream, name)
  // The consumer's, not ours: whoever created it chose it.
  const ackWaitMs = ((await jsm.consumers.info(stream, name)).config.ack_wait ?? nanos(DEFAULT_ACK_WAIT_MS)) / 1e6
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

  const run = async (): Promise<void> => {
    let attempt = 0
    while (running) {
      try {
        // Pull requests of 5 s (heartbeats every 2.5 s) instead of 30 s: a
        // writer whose server or consumer leader died notices within seconds
        // and pulls again, instead of idling for a minute.
        messages = await consumer.consume({ max_bytes: BUFFER_BYTES, expires: 5000 })
        let batch: JsMsg[] = []
        let points = 0
        for await (const m of messages) {
          attempt = 0
          batch.push(m)
          points += countLines(m.string())
          // Group commit: write as soon as nothing more is buffered, or a full batch is.
          if (points < config.influx.batchPoints && messages.getPending() > 0) continue
          const pause = await flush(batch)
          batch = []
          points = 0
          if (pause > 0 && running) await sleep(pause)
          if (!running) break
        }
        // Stopped mid-batch: hand the rest back at once instead of after ack_wait.
        for (const m of batch) m.nak()
      } catch (err) {
        if (!running) break
        log.warn({ err: (err as Error).message }, 'consumer interrupted; resubscribing')
        await sleep(fullJitter(backoffWindow(attempt++, RETRY), random))
      }
    }
  }
  const loop = run()
  // After a reconnect the old pull requests are gone with their server; the
  // client notices only when heartbeats stop. Pull again at once instead.
  void (async () => {
    for await (const st of nc.status()) {
      if (!running) break
      if (st.type === 'reconnect') void messages?.close().catch(() => undefined)
    }
  })()
  log.info({ consumer: name, ackWaitMs }, 'writer started')

  return {
    target,
    stats: () => ({ target, up, ...counters, lastError, lastWriteAt }),
    async backlog() {
      const info = await jsm.consumers.info(stream, name)
      return { pending: info.num_pending, ackPending: info.num_ack_pending }
    },
    async stop() {
      running = false
      await messages?.close().catch(() => undefined)
      await loop
      if (ownConnection) await nc.drain().catch(() => nc.close())
      else await nc.flush().catch(() => undefined)
    },
  }
}

function countLines(body: string): number {
  if (!body) return 0
  let n = 1
  for (let i = body.indexOf('\n'); i >= 0; i = body.indexOf('\n', i + 1)) n++
  return n
}
