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
  | { ok: true; providerId: string | null; parts: number }
  | { ok: false; retry: boolean; throttled?: boolean; reason: string }

export interface ChannelEvents {
  /** A delivery receipt for a provider message id (one part of an SMS). */
  onReceipt(messageId: string, delivered: boolean, detail: string): void
  /** A mobile-originated SMS (keywords). */
  onInbound(from: string, text: string): void
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
