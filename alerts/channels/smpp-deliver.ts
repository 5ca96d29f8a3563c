import type { PDU, ShortMessage } from 'smpp'
import type { ChannelEvents } from './types.ts'

/**
 * deliver_sm from the SMSC: a delivery receipt, or a mobile-originated SMS.
 * - Receipts have esm_class MC_DELIVERY_RECEIPT (0x04) and are matched by
 *   receipted_message_id, else by the "id:" of the receipt text (SMPP 3.4 App. B).
 * - A concatenated MO (UDH IE 0x00, [05 00 03 ref total seq]) is reassembled
 *   before it is handed on; incomplete sets are bounded and expire.
 */

/** SMPP 3.4 §5.2.12: esm_class bits 2–5 give the message type; 0x04 is an SMSC delivery receipt. */
const MC_DELIVERY_RECEIPT = 0x04
const MESSAGE_TYPE_BITS = 0x3c
/** SMPP 3.4 §5.2.28: message_state 2 is DELIVERED. */
const MESSAGE_STATE_DELIVERED = 2
/** Concatenated MO sets waiting for parts; beyond this new sets are ignored, not queued. */
const MO_SETS_MAX = 1000
/** A part lost by the network never comes: give up on a set after 5 minutes. */
const MO_SET_TTL_MS = 300_000

export class SmppDeliveries {
  private readonly mo = new Map<string, { parts: string[]; got: number; at: number }>()

  constructor(
    private readonly events: ChannelEvents,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Settles when an MO is handled (rejects: not handled); receipts and parts of a set not yet whole settle at once. */
  onDeliver(pdu: PDU): void | Promise<void> {
    const { text, udh } = textOf(pdu)
    if (((pdu.esm_class ?? 0) & MESSAGE_TYPE_BITS) === MC_DELIVERY_RECEIPT) return this.onReceipt(pdu, text)
    const from = pdu.source_addr ?? ''
    const concat = udh.find((u) => u[0] === 0x00 && u.length >= 5)
    if (!concat) return this.events.onInbound(from, text)
    const [, , ref, total, seq] = concat as unknown as number[]
    this.onPart(from, ref!, total!, seq!, text)
  }

  private onReceipt(pdu: PDU, text: string): void {
    const id = (pdu.receipted_message_id as string | undefined) ?? /id:(\S+)/i.exec(text)?.[1]
    const stat = /stat:(\w+)/i.exec(text)?.[1]?.toUpperCase()
    const state = pdu.message_state as number | undefined
    const delivered = state !== undefined ? state === MESSAGE_STATE_DELIVERED : stat === 'DELIVRD'
    if (id) this.events.onReceipt(id, delivered, stat ?? `state ${state}`)
  }

  /** One part of a concatenated MO; the whole text goes on once every part is in. */
  private onPart(from: string, ref: number, total: number, seq: number, text: string): void | Promise<void> {
    const k = `${from}|${ref}|${total}`
    const now = this.clock()
    for (const [key, v] of this.mo) if (now - v.at > MO_SET_TTL_MS) this.mo.delete(key)
    if (this.mo.size > MO_SETS_MAX) return
    const entry = this.mo.get(k) ?? { parts: new Array<string>(total).fill(''), got: 0, at: now }
    if (!entry.parts[seq - 1]) entry.got++
    entry.parts[seq - 1] = text
    this.mo.set(k, entry)
    if (entry.got === total) {
      this.mo.delete(k)
      return this.events.onInbound(from, entry.parts.join(''))
    }
  }
}

/** The text and UDH of a deliver_sm, from message_payload or short_message. */
function textOf(pdu: PDU): { text: string; udh: Buffer[] } {
  const sm = (pdu.message_payload ?? pdu.short_message) as ShortMessage | string | Buffer | undefined
  if (sm === undefined) return { text: '', udh: [] }
  if (typeof sm === 'string') return { text: sm, udh: [] }
  if (Buffer.isBuffer(sm)) return { text: sm.toString('latin1'), udh: [] }
  const udh = Array.isArray(sm.udh) ? sm.udh : sm.udh ? [sm.udh] : []
  return { text: typeof sm.message === 'string' ? sm.message : sm.message.toString('latin1'), udh }
}
