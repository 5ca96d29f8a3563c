/**
 * Store-and-forward from the outbox to the broker, one pump per connection:
 * first the retained "online" status, then the outbox oldest first in
 * payloads of up to MAX_BATCH_READINGS (core/protocol.ts, batched by reading.ts), one payload in flight, each
 * record removed only after its PUBACK (QoS 1). What is not acknowledged
 * stays in the outbox for the next connection.
 */
import type { Logger } from '../core/log.ts'
import { MAX_BATCH_READINGS, STATUS_ONLINE } from '../core/protocol.ts'
import type { Connection } from './link.ts'
import type { Outbox } from './outbox.ts'
import { nextPayload, type OutboxBody } from './reading.ts'

export interface PublisherOptions {
  readonly readingsTopic: string
  readonly statusTopic: string
  /** The open outbox; undefined once the station has stopped. */
  readonly outbox: () => Outbox<OutboxBody> | undefined
  /** True once the station is stopping: the pump ends after the payload in flight. */
  readonly stopping: () => boolean
  /** A publish failed on a connection that still looks open. */
  readonly onFailure: (conn: Connection) => void
  readonly log: Logger
}

export class OutboxPublisher {
  readonly counters = { published: 0, acked: 0, payloads: 0, batches: 0 }

  constructor(private readonly options: PublisherOptions) {}

  /** Starts the pump for this connection unless it is already running. */
  kick(conn: Connection): void {
    if (conn.pumping || conn.closed) return
    conn.pumping = this.pump(conn).finally(() => {
      conn.pumping = undefined
    })
  }

  private async pump(conn: Connection): Promise<void> {
    const { options, counters } = this
    try {
      if (!conn.up) return
      // Announce first: retained, so dashboards see the station online even
      // if they subscribe later; the will flips it back on an unclean drop.
      if (!conn.announced) {
        await conn.publish(options.statusTopic, STATUS_ONLINE, { qos: 1, retain: true })
        conn.announced = true
      }
      // Re-check after every await: the connection or the station may have gone meanwhile.
      for (let outbox = options.outbox(); !conn.closed && !options.stopping() && outbox; outbox = options.outbox()) {
        const payload = nextPayload(outbox.peek(MAX_BATCH_READINGS))
        if (!payload) break
        const n = payload.records.length
        counters.published += n
        await conn.publish(options.readingsTopic, payload.text, { qos: 1 })
        // PUBACK received: the broker owns these now.
        outbox.ack(payload.records[n - 1]!.id)
        counters.acked += n
        counters.payloads++
        if (n > 1) counters.batches++
        if (n > 1) options.log.info({ readings: n, left: outbox.size() }, 'sent backlog batch')
      }
    } catch (err) {
      if (!conn.closed) {
        // Unacked records stay in the outbox; the link reconnects.
        options.log.warn({ err }, 'publish failed; reconnecting')
        options.onFailure(conn)
      }
    }
  }
}
