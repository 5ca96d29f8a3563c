import type Database from 'better-sqlite3'
import type { AlertsConfig } from '../core/alerts-config.ts'
import type { Logger } from '../core/log.ts'
import { handleInbound, type InboundDeps, type InboundResult } from './inbound.ts'

/**
 * Keyword SMS as the alerter receives them (alerts/inbound.ts), then the
 * outbox pump woken for the reply. A reply goes back on the channel the SMS
 * came in on, or on the configured SMS channel when that one is not running.
 *
 * `receive` is what a channel's session calls. It resolves once the SMS is
 * acted on and its reply is durable (plus `afterCommit`, a cluster leader's
 * write to the shared outbox), and rejects when it could not be: the SMPP
 * session then answers the deliver_sm with a temporary error instead of
 * acknowledging it, and the SMSC delivers it again later (SMPP 3.4 §5.1.3,
 * ESME_RX_T_APPN). Nothing is lost to a crash or an unreachable PostgreSQL;
 * a repeat of a handled SMS at worst answers twice.
 */
export interface InboundSmsDeps extends Omit<InboundDeps, 'defaultDiacritics' | 'unicodeAllowed' | 'replyCap'> {
  db: Database.Database
  config: AlertsConfig
  channels: ReadonlyMap<string, unknown>
  outbox: { kick(): void }
  clock: () => number
  log: Logger
  /** Refuses an SMS before anything is done (a cluster node that does not hold the lease): thrown, so it is delivered again. */
  admit?: () => void
  /** Runs after the SMS is handled, before it is acknowledged (a cluster leader shares its new outbox rows). */
  afterCommit?: () => Promise<void>
  /** Counted here; a cluster node passes one object for all its terms. */
  counters?: InboundCounters
}

export interface InboundCounters {
  handled: number
  /** Refused or failed, so not acknowledged: the SMSC delivers them again. */
  deferred: number
}

export class InboundSms {
  private readonly inbound: InboundDeps
  readonly counters: InboundCounters

  constructor(private readonly deps: InboundSmsDeps) {
    const { config } = deps
    this.counters = deps.counters ?? { handled: 0, deferred: 0 }
    this.inbound = {
      db: deps.db,
      registry: deps.registry,
      subscribers: deps.subscribers,
      writer: deps.writer,
      inboundKey: deps.inboundKey,
      engine: deps.engine,
      rules: deps.rules,
      defaultDiacritics: config.defaultDiacritics,
      unicodeAllowed: (ch) => (ch === 'smpp' ? config.smpp.useUnicode : ch === 'http' ? config.http.useUnicode : true),
      replyCap: config.replyCap,
    }
  }

  async handle(from: string, text: string, channel: string = this.deps.config.smsChannel): Promise<InboundResult> {
    const { channels, config } = this.deps
    this.deps.admit?.()
    const result = await handleInbound(this.inbound, channels.has(channel) ? channel : config.smsChannel, from, text, this.deps.clock())
    await this.deps.afterCommit?.()
    this.counters.handled++
    this.deps.outbox.kick()
    return result
  }

  /** From a channel's session: logged here; the rejection tells the session not to acknowledge the SMS. */
  async receive(from: string, text: string, channel: string): Promise<void> {
    try {
      await this.handle(from, text, channel)
    } catch (err) {
      this.counters.deferred++
      this.deps.log.warn({ err: (err as Error).message, code: (err as { code?: string }).code, from: from.slice(0, -3) + '***' }, 'keyword SMS not handled; left unacknowledged for the SMSC to deliver again')
      throw err
    }
  }
}
