import type { SmsEncoding } from '../sms/segments.ts'

/** One message leaving through a channel (an outbox row, reduced). */
export interface OutgoingMessage {
  /** Outbox id; also the base of the concatenation reference. */
  id: number
  /** Stable per message; HTTP gateways get it as the Idempotency-Key. */
  key: string
  to: string
  text: string
  encoding: SmsEncoding
  /** Parts already accepted by the SMSC in an earlier attempt (resumed, not re-sent). */
  submittedParts: ReadonlySet<number>
}

export interface SendContext {
  /** Persist one accepted part before the next one is sent. */
  partSubmitted(seq: number, messageId: string): void
}

export type SendResult =
  | {
      ok: true
      providerId: string | null
      /** SMS parts (PDUs) this message cost on this channel, in the encoding it actually went in; 1 for e-mail and webhooks. */
      parts: number
      /** The encoding it actually went in, when the channel changed it (a gateway without Unicode sends GSM-7). */
      encoding?: SmsEncoding
      /**
       * Known final state at once: 'delivered' when the receiver itself answered
       * (a webhook's 2xx); 'logged' when nothing left the machine (log channel,
       * disabled e-mail). Absent: submitted, awaiting receipts if any.
       */
      final?: 'delivered' | 'logged'
      /** Why, for 'logged' (kept as the row's reason). */
      note?: string
    }
  | { ok: false; retry: boolean; throttled?: boolean; reason: string }

export interface ChannelEvents {
  /** A delivery receipt for a provider message id (one part of an SMS). */
  onReceipt(messageId: string, delivered: boolean, detail: string): void
  /** A mobile-originated SMS (keywords); a rejection leaves it unacknowledged, for the SMSC to deliver again. */
  onInbound(from: string, text: string): void | Promise<void>
}

export interface Channel {
  readonly name: string
  /** Sustained messages (PDUs) per second this channel may carry. */
  readonly ratePerSec: number
  /** Messages that may be in flight at once. */
  readonly window: number
  ready(): boolean
  send(msg: OutgoingMessage, ctx: SendContext): Promise<SendResult>
  start(): void
  stop(): Promise<void>
}
