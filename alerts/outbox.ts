import { backoffWindow, equalJitter } from '../core/backoff.ts'
import type Database from 'better-sqlite3'
import type { Logger } from '../core/log.ts'
import type { AlertsConfig } from '../core/alerts-config.ts'
import type { Channel, SendResult } from './channels/types.ts'
import { RateLimiter } from './limiter.ts'
import type { OutboxRow } from './store.ts'

/**
 * The persisted outbox: queued -> sending -> submitted -> delivered | failed,
 * or -> logged when nothing left the machine (log channel, disabled e-mail).
 * A channel says how far a message got (SendResult.final); only a receipt or
 * the receiver's own answer makes it 'delivered'.
 * One pump per channel takes due rows (danger first), respects the channel's
 * rate and window, and records every outcome. A row found in 'sending' after a
 * restart was possibly accepted by the SMSC: over SMPP it becomes 'unknown'
 * (never re-sent, so no duplicate SMS); over HTTP it is re-queued because the
 * gateway deduplicates by Idempotency-Key.
 */
export type StatusListener = (row: OutboxRow, status: 'submitted' | 'delivered' | 'failed' | 'logged') => void

export interface OutboxDeps {
  db: Database.Database
  channels: Map<string, Channel>
  config: AlertsConfig['outbox']
  throttleBackoffMs: number
  clock: () => number
  log: Logger
  onStatus: StatusListener
}

export class Outbox {
  private readonly deps: OutboxDeps
  private readonly stmts
  private readonly pumps = new Map<string, Pump>()
  /** Receipts that overtook their submit_sm_resp (bounded, oldest dropped). */
  private readonly early = new Map<string, { delivered: boolean; detail: string }>()
  readonly counters = { submitted: 0, delivered: 0, failed: 0, retried: 0, throttled: 0, unknown: 0, logged: 0 }

  constructor(deps: OutboxDeps) {
    this.deps = deps
    const db = deps.db
    this.stmts = {
      due: db.prepare(
        `SELECT * FROM alert_outbox WHERE status = 'queued' AND channel = ? AND next_attempt_at <= ?
         ORDER BY CASE severity WHEN 'danger' THEN 0 ELSE 1 END, id LIMIT ?`,
      ),
      nextDue: db.prepare(`SELECT MIN(next_attempt_at) AS at FROM alert_outbox WHERE status = 'queued' AND channel = ?`),
      sending: db.prepare(`UPDATE alert_outbox SET status = 'sending', attempts = attempts + 1 WHERE id = ? AND status = 'queued'`),
      // A receipt may have made the row 'delivered' already; keep that.
      // Parts and encoding as the channel actually sent them (a UCS-2 row sent as GSM-7 by a gateway without Unicode).
      submitted: db.prepare(`UPDATE alert_outbox SET status = CASE status WHEN 'sending' THEN 'submitted' ELSE status END, submitted_at = ?, provider_id = ?, segments = ?, encoding = COALESCE(?, encoding), reason = NULL WHERE id = ?`),
      logged: db.prepare(`UPDATE alert_outbox SET status = 'logged', submitted_at = @now, final_at = @now, provider_id = @provider, segments = @segments, reason = @reason WHERE id = @id AND status = 'sending'`),
      requeue: db.prepare(`UPDATE alert_outbox SET status = 'queued', next_attempt_at = ?, reason = ? WHERE id = ?`),
      failed: db.prepare(`UPDATE alert_outbox SET status = 'failed', final_at = ?, reason = ? WHERE id = ?`),
      delivered: db.prepare(`UPDATE alert_outbox SET status = 'delivered', final_at = ? WHERE id = ? AND status IN ('submitted','sending','unknown')`),
      part: db.prepare(`INSERT OR REPLACE INTO alert_parts (message_id, channel, outbox_id, seq, status) VALUES (?, ?, ?, ?, 'submitted')`),
      partsOf: db.prepare(`SELECT seq, status FROM alert_parts WHERE outbox_id = ?`),
      partByMessage: db.prepare(`SELECT outbox_id FROM alert_parts WHERE channel = ? AND message_id = ?`),
      setPart: db.prepare(`UPDATE alert_parts SET status = ? WHERE channel = ? AND message_id = ?`),
      byId: db.prepare(`SELECT * FROM alert_outbox WHERE id = ?`),
      recoverSmpp: db.prepare(`UPDATE alert_outbox SET status = 'unknown', reason = 'restart while sending' WHERE status = 'sending' AND channel = 'smpp'`),
      recoverOther: db.prepare(`UPDATE alert_outbox SET status = 'queued' WHERE status = 'sending' AND channel != 'smpp'`),
    }
  }

  start(): void {
    const u = this.stmts.recoverSmpp.run()
    this.counters.unknown += u.changes
    this.stmts.recoverOther.run()
    for (const [name, channel] of this.deps.channels) {
      const pump = new Pump(this, name, channel, this.deps)
      this.pumps.set(name, pump)
      pump.start()
    }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.pumps.values()].map((p) => p.stop()))
    this.pumps.clear()
  }

  /** New rows were queued: wake the pumps instead of waiting for a timer. */
  kick(): void {
    for (const p of this.pumps.values()) p.kick()
  }

  limiter(channel: string): RateLimiter | undefined {
    return this.pumps.get(channel)?.limiter
  }

  /** @internal used by Pump */
  due(channel: string, now: number, limit: number): OutboxRow[] {
    return this.stmts.due.all(channel, now, limit) as OutboxRow[]
  }

  /** @internal */
  nextDue(channel: string): number | null {
    return (this.stmts.nextDue.get(channel) as { at: number | null }).at
  }

  /** @internal claims a row for sending; false when another pump or a cancel got it first. */
  claim(id: number): boolean {
    return this.stmts.sending.run(id).changes === 1
  }

  submittedParts(id: number): Set<number> {
    return new Set((this.stmts.partsOf.all(id) as Array<{ seq: number }>).map((p) => p.seq))
  }

  partSubmitted(channel: string, id: number, seq: number, messageId: string): void {
    this.stmts.part.run(messageId, channel, id, seq)
    const early = this.early.get(`${channel}|${messageId}`)
    if (early) {
      this.early.delete(`${channel}|${messageId}`)
      this.receipt(channel, messageId, early.delivered, early.detail)
    }
  }

  /** @internal records a send outcome */
  outcome(row: OutboxRow, channel: string, result: SendResult): void {
    const now = this.deps.clock()
    const cfg = this.deps.config
    if (result.ok) {
      if (result.final === 'logged') {
        this.stmts.logged.run({ now, provider: result.providerId, segments: result.parts, reason: result.note ?? 'logged only', id: row.id })
        this.counters.logged++
        this.deps.onStatus({ ...row, status: 'logged', provider_id: result.providerId, segments: result.parts }, 'logged')
        return
      }
      this.stmts.submitted.run(now, result.providerId, result.parts, result.encoding ?? null, row.id)
      this.counters.submitted++
      this.deps.onStatus({ ...row, status: 'submitted', provider_id: result.providerId, segments: result.parts }, 'submitted')
      if (result.final === 'delivered') this.markDelivered(row.id)
      // Every part's receipt may have come in before this response was handled,
      // while the row still had its rendered part count: settle it now.
      else if (this.allPartsDelivered(row.id, result.parts)) this.markDelivered(row.id)
      return
    }
    const attempts = row.attempts + 1
    if (result.retry && attempts < cfg.maxAttempts) {
      const delay = equalJitter(backoffWindow(attempts - 1, { baseMs: cfg.retryBaseMs, capMs: cfg.retryMaxMs }))
      this.stmts.requeue.run(now + delay, result.reason, row.id)
      this.counters.retried++
      if (result.throttled) this.counters.throttled++
      return
    }
    this.stmts.failed.run(now, result.reason, row.id)
    this.counters.failed++
    this.deps.log.warn({ id: row.id, channel, reason: result.reason }, 'message failed')
    this.deps.onStatus({ ...row, status: 'failed', reason: result.reason }, 'failed')
  }

  private markDelivered(id: number): void {
    if (this.stmts.delivered.run(this.deps.clock(), id).changes) {
      this.counters.delivered++
      const row = this.stmts.byId.get(id) as OutboxRow
      this.deps.onStatus(row, 'delivered')
    }
  }

  /** A delivery receipt for one part; the message is delivered when all its parts are. */
  receipt(channel: string, messageId: string, delivered: boolean, detail: string): void {
    const part = this.stmts.partByMessage.get(channel, messageId) as { outbox_id: number } | undefined
    if (!part) {
      this.early.set(`${channel}|${messageId}`, { delivered, detail })
      if (this.early.size > 10_000) this.early.delete(this.early.keys().next().value!)
      this.deps.log.debug({ channel, messageId }, 'receipt before its submit_sm_resp, or for an unknown id')
      return
    }
    this.stmts.setPart.run(delivered ? 'delivered' : 'failed', channel, messageId)
    const row = this.stmts.byId.get(part.outbox_id) as OutboxRow
    if (!delivered) {
      if (row.status !== 'failed') {
        this.stmts.failed.run(this.deps.clock(), `receipt: ${detail}`, row.id)
        this.counters.failed++
        this.deps.onStatus({ ...row, status: 'failed' }, 'failed')
      }
      return
    }
    if (this.allPartsDelivered(row.id, row.segments)) this.markDelivered(row.id)
  }

  private allPartsDelivered(id: number, segments: number): boolean {
    const parts = this.stmts.partsOf.all(id) as Array<{ status: string }>
    return parts.length > 0 && parts.length >= segments && parts.every((p) => p.status === 'delivered')
  }
}

class Pump {
  readonly limiter: RateLimiter
  private running = false
  private wake: (() => void) | null = null
  private loop: Promise<void> | null = null
  private inFlight = 0
  private readonly idle = new Set<() => void>()

  constructor(
    private readonly outbox: Outbox,
    private readonly name: string,
    private readonly channel: Channel,
    private readonly deps: OutboxDeps,
  ) {
    this.limiter = new RateLimiter(channel.ratePerSec)
  }

  start(): void {
    this.running = true
    this.loop = this.run()
  }

  async stop(): Promise<void> {
    this.running = false
    this.kick()
    await this.loop
    while (this.inFlight > 0) await new Promise<void>((r) => this.idle.add(r))
  }

  kick(): void {
    const w = this.wake
    this.wake = null
    w?.()
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = null
        resolve()
      }, ms)
      this.wake = () => {
        clearTimeout(t)
        resolve()
      }
    })
  }

  private async run(): Promise<void> {
    while (this.running) {
      if (!this.channel.ready()) {
        await this.sleep(200)
        continue
      }
      const now = this.deps.clock()
      const rows = this.outbox.due(this.name, now, this.deps.config.batch)
      if (rows.length === 0) {
        const next = this.outbox.nextDue(this.name)
        await this.sleep(next === null ? 1000 : Math.max(10, Math.min(1000, next - now)))
        continue
      }
      for (const row of rows) {
        if (!this.running) break
        // Bound what is in flight (the SMPP window).
        while (this.inFlight >= this.channel.window && this.running) await new Promise<void>((r) => this.idle.add(r))
        let wait: number
        while ((wait = this.limiter.take(row.segments)) > 0 && this.running) await this.sleep(wait)
        if (!this.running || !this.channel.ready()) break
        if (!this.outbox.claim(row.id)) continue
        this.inFlight++
        const msg = {
          id: row.id,
          key: row.dedupe_key,
          to: row.address,
          text: row.text,
          encoding: row.encoding,
          submittedParts: this.outbox.submittedParts(row.id),
        }
        this.channel
          .send(msg, { partSubmitted: (seq, mid) => this.outbox.partSubmitted(this.name, row.id, seq, mid) })
          .catch((err: Error): SendResult => ({ ok: false, retry: true, reason: err.message }))
          .then((result) => {
            if (!result.ok && result.throttled) this.limiter.slowDown(this.deps.throttleBackoffMs)
            this.outbox.outcome(row, this.name, result)
          })
          .catch((err: Error) => this.deps.log.error({ err: err.message }, 'outbox outcome failed'))
          .finally(() => {
            this.inFlight--
            for (const r of [...this.idle]) {
              this.idle.delete(r)
              r()
            }
            this.kick()
          })
      }
    }
  }
}
