import type Database from 'better-sqlite3'
import type { AlertsConfig } from '../core/alerts-config.ts'
import type { Logger } from '../core/log.ts'
import { handleInbound, type InboundDeps } from './inbound.ts'

/**
 * Keyword SMS as the alerter receives them: each in one transaction
 * (alerts/inbound.ts), then the outbox pump woken for the reply. A reply
 * goes back on the channel the SMS came in on, or on the configured SMS
 * channel when that one is not running.
 */
export interface InboundSmsDeps extends Omit<InboundDeps, 'defaultDiacritics' | 'unicodeAllowed' | 'replyCap'> {
  db: Database.Database
  config: AlertsConfig
  channels: ReadonlyMap<string, unknown>
  outbox: { kick(): void }
  clock: () => number
  log: Logger
}

export class InboundSms {
  private readonly inbound: InboundDeps

  constructor(private readonly deps: InboundSmsDeps) {
    const { config } = deps
    this.inbound = {
      db: deps.db,
      registry: deps.registry,
      subscribers: deps.subscribers,
      engine: deps.engine,
      rules: deps.rules,
      defaultDiacritics: config.defaultDiacritics,
      unicodeAllowed: (ch) => (ch === 'smpp' ? config.smpp.useUnicode : ch === 'http' ? config.http.useUnicode : true),
      replyCap: config.replyCap,
    }
  }

  handle(from: string, text: string, channel: string = this.deps.config.smsChannel): { command: string; reply: string } {
    const { db, channels, config } = this.deps
    const now = this.deps.clock()
    const result = db.transaction(() => handleInbound(this.inbound, channels.has(channel) ? channel : config.smsChannel, from, text, now))()
    this.deps.outbox.kick()
    return result
  }

  /** From a channel's session: a failure is logged here, never thrown back into the session. */
  receive(from: string, text: string, channel: string): void {
    try {
      this.handle(from, text, channel)
    } catch (err) {
      this.deps.log.error({ err: (err as Error).message, from }, 'inbound sms failed')
    }
  }
}
