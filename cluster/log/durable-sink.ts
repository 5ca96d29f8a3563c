import { backoffWindow, equalJitter, type Backoff } from '../../core/backoff.ts'
import type { Logger } from '../../core/log.ts'
import type { RecordSink } from '../../ingest/ingest.ts'
import { batchLines, type Spool, type SpoolRecord } from '../../ingest/spool/spool.ts'
import type { LogLane, LogPublisher } from './readings-stream.ts'

/**
 * An edge's durable hand-off: the replicated log when it answers, the local
 * fsync'd spool when it does not. Either way append() resolves only once the
 * records are durable, so the PUBACK keeps its meaning (docs/DURABILITY.md):
 * committed by the log's quorum, or on this edge's disk.
 *
 * A failed or timed-out publish (cluster.nats.publishTimeoutMs) switches the
 * sink to fallback: later appends go straight to the spool instead of each
 * waiting out the timeout. The forwarder drains the spool into the log and
 * advances its cursor only after the PubAck; its first success switches the
 * sink back. A record can reach the log twice (a publish that timed out but
 * was stored, then forwarded): its points overwrite themselves in InfluxDB.
 */
export const FORWARDER_CURSOR = 'log'

/** Lines per forwarded message: ~110 bytes each, well inside NATS's 1 MiB max_payload. */
const FORWARD_LINES = 2000

/**
 * Forwarder retries: one client retrying one peer, so equal jitter; 5 s caps
 * the time from "the log is back" to "the backlog moves".
 */
const FORWARD_RETRY: Backoff = { baseMs: 100, capMs: 5000 }

export interface DurableSinkStats {
  /** Whether appends currently go to the spool. */
  fallback: boolean
  /** Since when (ms), while in fallback. */
  fallbackSince?: number
  /** Records (readings, and quarantine entries) committed to the log directly. */
  publishedRecords: number
  publishedMessages: number
  /** Records that went to the local spool instead. */
  fallbackRecords: number
  /** Publishes that failed or timed out (each sends its records to the spool). */
  publishFailures: number
  forwardedLines: number
  forwardedMessages: number
  forwardFailures: number
  /** Records in the spool not yet forwarded. */
  spoolLagRecords: number
  spoolBytes: number
  lastError?: string
}

export interface DurableSinkDeps {
  /** The publisher once connected and the stream ensured; undefined before. */
  publisher: () => LogPublisher | undefined
  /** Resolves when the log would take a publish now (stream info from its leader); used while in fallback with nothing to forward. */
  probe: () => Promise<void>
  spool: Spool
  log: Logger
  random?: () => number
}

export interface DurableSink {
  /** The sink for one lane, to give the Ingest. */
  lane(lane: Exclude<LogLane, 'spooled'>): RecordSink
  /** Sends appends to the spool now (the NATS connection reported a disconnect). */
  fallBack(reason: string): void
  /** Wakes the forwarder (the NATS connection is back). */
  poke(): void
  stats(): DurableSinkStats
  /** Arrival time of the oldest record not yet forwarded, or undefined. */
  oldestPending(): Promise<number | undefined>
  /** Stops the forwarder; what is left stays in the spool for the next start. */
  stop(): Promise<void>
}

export function startDurableSink(deps: DurableSinkDeps): DurableSink {
  const { spool, log } = deps
  const random = deps.random ?? Math.random
  spool.addCursor(FORWARDER_CURSOR)
  const counters = { publishedRecords: 0, publishedMessages: 0, fallbackRecords: 0, publishFailures: 0, forwardedLines: 0, forwardedMessages: 0, forwardFailures: 0 }
  let fallbackSince: number | undefined
  let lastError: string | undefined
  let running = true
  let wake: (() => void) | undefined

  const fallBack = (reason: string): void => {
    lastError = reason
    if (fallbackSince !== undefined) return
    fallbackSince = Date.now()
    log.warn({ err: reason }, 'replicated log unavailable: acknowledging from the local spool, forwarding later')
    wake?.()
  }

  const recover = (): void => {
    if (fallbackSince === undefined) return
    log.info({ fallbackMs: Date.now() - fallbackSince, fallbackRecords: counters.fallbackRecords, spoolLag: spool.lag(FORWARDER_CURSOR) }, 'replicated log reachable again: publishing directly')
    fallbackSince = undefined
  }

  const append = async (lane: LogLane, records: readonly SpoolRecord[]): Promise<void> => {
    const publisher = deps.publisher()
    if (fallbackSince === undefined && publisher) {
      try {
        counters.publishedMessages += await publisher.publish(lane, records)
        counters.publishedRecords += records.length
        return
      } catch (err) {
        counters.publishFailures++
        fallBack((err as Error).message)
      }
    } else if (!publisher) fallBack('not connected to NATS yet')
    // Rejects when the disk fails: then no PUBACK, and the station re-sends.
    await spool.append(records)
    counters.fallbackRecords += records.length
  }

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      function done(): void {
        clearTimeout(timer)
        wake = undefined
        resolve()
      }
      wake = done
    })

  const onAppend = (): void => wake?.()
  spool.on('append', onAppend)

  const forward = async (): Promise<void> => {
    let failures = 0
    while (running) {
      const publisher = deps.publisher()
      const batch = publisher ? await spool.read(FORWARDER_CURSOR, FORWARD_LINES) : undefined
      if (!publisher || !batch) {
        // Nothing to forward; a failed publish that set fallback with an empty spool still needs a probe.
        if (publisher && fallbackSince !== undefined && spool.lag(FORWARDER_CURSOR) === 0) {
          await sleep(equalJitter(backoffWindow(failures, FORWARD_RETRY), random))
          if (running && (await probe())) failures = 0
          else failures++
          continue
        }
        await sleep(publisher ? 1000 : 250)
        continue
      }
      try {
        counters.forwardedMessages += await publisher.publishLines('spooled', batchLines(batch), batch.oldestReceivedAt)
        spool.commit(FORWARDER_CURSOR, batch.end)
        counters.forwardedLines += batch.count
        failures = 0
        recover()
        if (spool.lag(FORWARDER_CURSOR) === 0) log.info({ forwardedLines: counters.forwardedLines }, 'fallback spool forwarded to the log')
      } catch (err) {
        counters.forwardFailures++
        lastError = (err as Error).message
        if (failures === 0) log.warn({ err: lastError, spoolLag: spool.lag(FORWARDER_CURSOR) }, 'cannot forward the fallback spool yet; retrying')
        await sleep(equalJitter(backoffWindow(failures++, FORWARD_RETRY), random))
      }
    }
  }

  const probe = async (): Promise<boolean> => {
    try {
      await deps.probe()
      recover()
      return true
    } catch (err) {
      lastError = (err as Error).message
      return false
    }
  }

  const loop = forward()

  return {
    lane: (lane) => ({ append: (records) => append(lane, records) }),
    fallBack,
    poke: () => wake?.(),
    stats: () => ({
      fallback: fallbackSince !== undefined,
      fallbackSince,
      ...counters,
      spoolLagRecords: spool.lag(FORWARDER_CURSOR),
      spoolBytes: spool.stats().bytes,
      lastError,
    }),
    oldestPending: () => spool.oldestPending(FORWARDER_CURSOR),
    async stop() {
      running = false
      spool.off('append', onAppend)
      wake?.()
      await loop
    },
  }
}
