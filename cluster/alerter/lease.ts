import type { KV, KvEntry } from '@nats-io/kv'
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream'
import type { Logger } from '../../core/log.ts'

/**
 * "Exactly one active evaluator" (issue 16): a lease in a JetStream KV
 * bucket whose max age (the bucket TTL) is the lease time. The holder renews
 * it by compare-and-set on the revision it holds; a renewal that finds
 * another revision means someone else holds it now. A holder that dies stops
 * renewing, the server removes the entry after the TTL, and a standby's
 * create() (which fails while the key exists) succeeds: that standby is the
 * new leader, and the revision it created is its term.
 *
 * The holder's own idea of "I still hold it" is local and conservative:
 * until (start of the last successful renewal) + TTL − margin. The server
 * stored that renewal after it was sent, so the server-side expiry is later
 * than this; a holder whose renewals fail (a cut link) stops acting before a
 * standby can take over, unless its clock runs slower than the server's by
 * more than the margin over one TTL.
 */
export interface LeaseOptions {
  kv: KV
  /** The lease key, one per alerter group (`group.<name>`). */
  key: string
  node: string
  /** The bucket's TTL; the lease lasts this long after the last renewal. */
  ttlMs: number
  /** How often the holder renews (a few per TTL, so one lost renewal is harmless). */
  renewEveryMs: number
  /** How often a standby looks whether the lease is free. */
  pollEveryMs: number
  /** Acts-as-leader ends this long before the local expiry estimate. */
  marginMs: number
  log: Logger
  clock?: () => number
}

export interface Term {
  /** The lease revision this node created: its term, recorded with every claim it makes. */
  readonly revision: number
  readonly acquiredAt: number
  /** When the previous holder's lease ran out, by the server's clock (its last renewal + TTL); null if the key was free or released. */
  readonly previousExpiredAt: number | null
  /** Resolves when the lease is lost (a renewal found another holder, or renewals failed past the margin). */
  readonly lost: Promise<string>
}

export class Lease {
  private readonly clock: () => number
  private revision = 0
  private validUntil = 0
  private stopped = false
  private renewTimer: NodeJS.Timeout | null = null
  private lose: ((why: string) => void) | null = null

  constructor(private readonly opts: LeaseOptions) {
    this.clock = opts.clock ?? Date.now
  }

  /** True while this node may act as the leader: checked before every SMS (fencing). */
  holds(): boolean {
    return this.revision > 0 && this.clock() < this.validUntil
  }

  get term(): number {
    return this.revision
  }

  /** Waits until this node holds the lease; undefined when stopped first. */
  async acquire(): Promise<Term | undefined> {
    const { kv, key, pollEveryMs, ttlMs, log } = this.opts
    let lastSeen: KvEntry | null = null
    while (!this.stopped) {
      const startedAt = this.clock()
      try {
        const current = await kv.get(key)
        if (current && current.operation === 'PUT') {
          lastSeen = current
        } else {
          const revision = await kv.create(key, this.value())
          this.revision = revision
          this.validUntil = startedAt + ttlMs - this.opts.marginMs
          const previousExpiredAt = lastSeen && current === null ? lastSeen.created.getTime() + ttlMs : null
          const lost = new Promise<string>((resolve) => (this.lose = resolve))
          this.scheduleRenewal()
          log.info({ term: revision, previousExpiredAt }, 'took over the alerter lease')
          return { revision, acquiredAt: this.clock(), previousExpiredAt, lost }
        }
      } catch (err) {
        // Another standby created it first (wrong last sequence), or JetStream is electing: look again.
        if (!isWrongSequence(err)) log.warn({ err: (err as Error).message }, 'cannot read the alerter lease yet')
      }
      await sleep(pollEveryMs)
    }
    return undefined
  }

  private scheduleRenewal(): void {
    this.renewTimer = setTimeout(() => void this.renew(), this.opts.renewEveryMs)
  }

  private async renew(): Promise<void> {
    if (this.stopped || this.revision === 0) return
    const startedAt = this.clock()
    try {
      this.revision = await this.opts.kv.update(this.opts.key, this.value(), this.revision, this.opts.renewEveryMs)
      this.validUntil = startedAt + this.opts.ttlMs - this.opts.marginMs
    } catch (err) {
      if (isWrongSequence(err)) return this.drop('another node holds the lease')
      this.opts.log.warn({ err: (err as Error).message }, 'lease renewal failed; retrying')
      if (!this.holds()) return this.drop('renewals failed for longer than the lease')
    }
    this.scheduleRenewal()
  }

  private drop(why: string): void {
    this.opts.log.error({ why, term: this.revision }, 'lost the alerter lease; stopping evaluation')
    this.revision = 0
    this.validUntil = 0
    if (this.renewTimer) clearTimeout(this.renewTimer)
    this.lose?.(why)
    this.lose = null
  }

  /** Gives the lease up now (a clean shutdown, a failed term), so a standby takes over without waiting for the TTL. */
  async release(): Promise<void> {
    if (this.renewTimer) clearTimeout(this.renewTimer)
    const revision = this.revision
    this.revision = 0
    this.validUntil = 0
    if (revision > 0) await this.opts.kv.delete(this.opts.key, { previousSeq: revision }).catch(() => undefined)
    this.lose?.('released')
    this.lose = null
  }

  /** Ends acquire() and gives the lease up: the node shuts down. */
  async stop(): Promise<void> {
    this.stopped = true
    await this.release()
  }

  private value(): string {
    return JSON.stringify({ node: this.opts.node, at: this.clock() })
  }
}

export function isWrongSequence(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  )
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}
