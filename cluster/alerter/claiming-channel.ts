import type { Logger } from '../../core/log.ts'
import type { Channel, OutgoingMessage, SendContext, SendResult } from '../../alerts/channels/types.ts'
import type { OutboxRow } from '../../alerts/store.ts'
import { isWrongSequence } from './lease.ts'
import type { OutboxEntry, SharedAlerterState } from './shared-state.ts'

/**
 * A channel that sends a message only under a claim in the shared outbox
 * (shared-state.ts), and only while this node holds the lease:
 *
 * 1. fencing: no lease, no send (the outbox retries later; the node stops);
 * 2. the entry is moved to `claimed` by this term with compare-and-set on
 *    its revision (or created claimed): two nodes can never both claim it;
 * 3. entries already `sent` (a predecessor got the submit_sm_resp) are not
 *    sent again; final ones (cancelled, failed, suppressed) are not sent;
 * 4. after the channel's answer (the SMSC's submit_sm_resp for every part)
 *    the entry becomes `sent`, or `queued` again for a retry, or `failed`.
 *
 * An entry found `claimed` by an earlier term means its leader died between
 * claiming and recording the answer: the SMSC may or may not have it. It is
 * sent again (counted in resentAfterFailover): for a salinity alert a
 * duplicate SMS is the lesser harm than a farmer who never hears. The window
 * in which that happens is one submit_sm round trip plus one KV write.
 */
export interface ClaimingDeps {
  inner: Channel
  shared: SharedAlerterState
  /** The lease check (Lease.holds) and the term it gives. */
  holds(): boolean
  term(): number
  node: string
  /** The local outbox row behind a message (the entry holds the whole row). */
  rowOf(id: number): OutboxRow | undefined
  log: Logger
  counters: ClaimCounters
}

export interface ClaimCounters {
  claimed: number
  alreadySent: number
  resentAfterFailover: number
  fencedOff: number
  unrecorded: number
}

export function claimingChannel(deps: ClaimingDeps): Channel {
  const { inner, shared, log, counters } = deps
  return {
    name: inner.name,
    ratePerSec: inner.ratePerSec,
    window: inner.window,
    ready: () => inner.ready() && deps.holds(),
    start: () => inner.start(),
    stop: () => inner.stop(),
    async send(msg: OutgoingMessage, ctx: SendContext): Promise<SendResult> {
      if (!deps.holds()) {
        counters.fencedOff++
        return { ok: false, retry: true, reason: 'not the alerter leader' }
      }
      const row = deps.rowOf(msg.id)
      if (!row) return { ok: false, retry: false, reason: 'outbox row vanished' }
      const term = deps.term()
      let revision: number
      try {
        const have = await shared.getEntry(msg.key)
        if (have?.entry.status === 'sent') {
          counters.alreadySent++
          return { ok: true, providerId: have.entry.providerId ?? null, parts: have.entry.parts ?? row.segments }
        }
        if (have && (have.entry.status === 'cancelled' || have.entry.status === 'failed' || have.entry.status === 'suppressed')) {
          return { ok: false, retry: false, reason: `settled by the shared outbox: ${have.entry.status}` }
        }
        if (have?.entry.status === 'claimed' && have.entry.term !== term) {
          counters.resentAfterFailover++
          log.warn({ key: msg.key, previousTerm: have.entry.term, term }, 'a previous leader claimed this message and died before recording the answer; sending it again')
        }
        const { id: _id, ...rest } = row
        const entry: OutboxEntry = { status: 'claimed', term, node: deps.node, row: rest }
        // Fencing again right before the claim: the read above took a round trip.
        if (!deps.holds()) {
          counters.fencedOff++
          return { ok: false, retry: true, reason: 'not the alerter leader' }
        }
        revision = await shared.claim(msg.key, entry, have?.revision ?? 0)
        counters.claimed++
      } catch (err) {
        // Lost a compare-and-set (someone else moved it) or KV is unreachable: nothing was sent; look again later.
        return { ok: false, retry: true, reason: isWrongSequence(err) ? 'claim raced' : `shared outbox unreachable: ${(err as Error).message}` }
      }
      const result = await inner.send(msg, ctx)
      const { id: _id, ...rest } = row
      const settled: OutboxEntry = result.ok
        ? { status: 'sent', term, node: deps.node, row: rest, providerId: result.providerId, parts: result.parts }
        : { status: result.retry ? 'queued' : 'failed', term, node: deps.node, row: rest }
      for (let attempt = 0; attempt < 5; attempt++) {
        try {
          await shared.settle(msg.key, settled, revision)
          return result
        } catch (err) {
          if (isWrongSequence(err)) break
          await new Promise((r) => setTimeout(r, 100 * 2 ** attempt))
        }
      }
      // The SMSC has it but the shared outbox does not say so: a successor would send it again.
      counters.unrecorded++
      log.error({ key: msg.key, ok: result.ok }, 'could not record the send in the shared outbox')
      return result
    },
  }
}
