import type { ShortMessage } from 'smpp'
import type { SmppConfig } from '../../core/alerts-config.ts'
import { splitSms } from '../sms/segments.ts'
import { toGsm } from '../templates.ts'
import type { SmppRequest } from './smpp-session.ts'
import type { OutgoingMessage, SendContext, SendResult } from './types.ts'

/**
 * One message as submit_sm PDUs on a bound session.
 * - data_coding 8 (UCS-2), or 0 (SMSC default alphabet, GSM-7) when the
 *   message or the gateway is without diacritics;
 * - long texts as UDH concatenation [05 00 03 ref total seq] (SMPP 3.4 §5.2.12, esm_class 0x40);
 * - parts the SMSC accepted in an earlier attempt are skipped, each new one
 *   is recorded before the next is sent, so a retry never duplicates a part.
 * How many may be in flight at once, and how fast, is the outbox's business
 * (the channel's `window` and `ratePerSec`).
 */

/** ESME_RTHROTTLED (0x58) and ESME_RMSGQFUL (0x14): the outbox slows down and retries. */
const THROTTLED = new Set([0x58, 0x14])
/** Worth another attempt: throttling, ESME_RSYSERR (0x08), ESME_RSUBMITFAIL (0x45), ESME_RX_T_APPN (0x64). */
const RETRYABLE = new Set([...THROTTLED, 0x08, 0x45, 0x64])

/** SMPP 3.4 §5.2.5–5.2.6: TON 5 alphanumeric (the brandname), TON 1 international with NPI 1 ISDN E.164. */
const TON_ALPHANUMERIC = 5
const TON_INTERNATIONAL = 1
const NPI_UNKNOWN = 0
const NPI_ISDN = 1
/** SMPP 3.4 §5.2.19: data_coding 0 SMSC default alphabet, 8 UCS-2. */
const DATA_CODING_DEFAULT = 0
const DATA_CODING_UCS2 = 8

export async function submitMessage(request: SmppRequest, config: SmppConfig, msg: OutgoingMessage, ctx: SendContext): Promise<SendResult> {
  const gsm = msg.encoding === 'gsm7' || !config.useUnicode
  const text = gsm && msg.encoding !== 'gsm7' ? toGsm(msg.text) : msg.text
  const parts = splitSms(text, gsm ? 'gsm7' : 'ucs2')
  const ref = msg.id % 256
  let first: string | null = null
  for (let i = 0; i < parts.length; i++) {
    const seq = i + 1
    if (msg.submittedParts.has(seq)) continue
    const short_message: ShortMessage | string =
      parts.length === 1 ? parts[0]! : { udh: Buffer.from([0x05, 0x00, 0x03, ref, parts.length, seq]), message: parts[i]! }
    const resp = await request('submit_sm', {
      source_addr_ton: TON_ALPHANUMERIC,
      source_addr_npi: NPI_UNKNOWN,
      source_addr: config.sourceAddr,
      dest_addr_ton: TON_INTERNATIONAL,
      dest_addr_npi: NPI_ISDN,
      destination_addr: msg.to.replace(/^\+/, ''),
      registered_delivery: config.deliveryReceipts ? 1 : 0,
      data_coding: gsm ? DATA_CODING_DEFAULT : DATA_CODING_UCS2,
      short_message,
    })
    if (!resp) return { ok: false, retry: true, reason: 'submit_sm response timeout or connection lost' }
    if (resp.command_status !== 0) {
      const st = resp.command_status
      return { ok: false, retry: RETRYABLE.has(st), throttled: THROTTLED.has(st), reason: `submit_sm status 0x${st.toString(16).padStart(2, '0')}` }
    }
    const id = resp.message_id ?? ''
    ctx.partSubmitted(seq, id)
    first ??= id
  }
  return { ok: true, providerId: first, parts: parts.length, encoding: gsm ? 'gsm7' : 'ucs2' }
}
