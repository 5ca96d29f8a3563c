import { backoffWindow, equalJitter } from '../../core/backoff.ts'
import smpp, { type PDU, type Session, type ShortMessage } from 'smpp'
import type { Logger } from '../../core/log.ts'
import type { SmppConfig } from '../../core/alerts-config.ts'
import { splitSms } from '../sms/segments.ts'
import { toGsm } from '../templates.ts'
import type { Channel, ChannelEvents, OutgoingMessage, SendContext, SendResult } from './types.ts'

/**
 * SMPP 3.4 ESME over one bind_transceiver session.
 * - submit_sm with data_coding 8 (UCS-2) or 0 (SMSC default alphabet, GSM-7);
 *   long texts as UDH concatenation [05 00 03 ref total seq] (SMPP 3.4 §5.2.12, esm_class 0x40).
 * - Delivery receipts: deliver_sm with esm_class MC_DELIVERY_RECEIPT (0x04),
 *   matched by receipted_message_id, else by the "id:" of the receipt text (SMPP 3.4 App. B).
 * - enquire_link every enquireLinkMs; no answer within responseTimeoutMs drops the session.
 * - Reconnect with exponential backoff and jitter; every response has a timeout.
 * - ESME_RTHROTTLED (0x58) and ESME_RMSGQFUL (0x14) are reported as throttled, so the
 *   outbox slows down and retries.
 */
const RETRYABLE = new Set([0x58, 0x14, 0x08, 0x45 /* submit failed */, 0x64 /* ESME_RX_T_APPN */])
const THROTTLED = new Set([0x58, 0x14])
const MC_DELIVERY_RECEIPT = 0x04

interface Waiter {
  resolve: (pdu: PDU | null) => void
  timer: NodeJS.Timeout
}

export interface SmppChannel extends Channel {
  /** Number of successful binds so far (tests observe reconnects). */
  binds(): number
}

export function createSmppChannel(config: SmppConfig, events: ChannelEvents, log: Logger): SmppChannel {
  let session: Session | null = null
  let bound = false
  let stopped = true
  let attempt = 0
  let bindCount = 0
  let reconnectTimer: NodeJS.Timeout | null = null
  let enquireTimer: NodeJS.Timeout | null = null
  const waiters = new Set<Waiter>()
  const mo = new Map<string, { parts: string[]; got: number; at: number }>()

  /** Sends a PDU and waits for its response, or null on timeout or connection loss. */
  function request(s: Session, command: string, options: Record<string, unknown>): Promise<PDU | null> {
    return new Promise((resolve) => {
      const waiter: Waiter = {
        resolve: (pdu) => {
          clearTimeout(waiter.timer)
          waiters.delete(waiter)
          resolve(pdu)
        },
        timer: setTimeout(() => {
          waiter.resolve(null)
          // No answer: the session is not trustworthy any more (SMPP 3.4 §2.9 timers).
          if (session === s) drop(s, `${command} response timeout`)
        }, config.responseTimeoutMs),
      }
      waiters.add(waiter)
      const sent = s.send(new smpp.PDU(command, options), (pdu) => waiter.resolve(pdu))
      if (!sent) waiter.resolve(null)
    })
  }

  function drop(s: Session, why: string): void {
    if (session !== s) return
    log.warn({ why }, 'smpp session dropped')
    session = null
    bound = false
    if (enquireTimer) clearInterval(enquireTimer)
    enquireTimer = null
    for (const w of [...waiters]) w.resolve(null)
    s.removeAllListeners()
    s.on('error', () => {})
    s.destroy()
    scheduleReconnect()
  }

  function scheduleReconnect(): void {
    if (stopped || reconnectTimer) return
    // Equal jitter: one session to one SMSC, where a near-zero delay would only hammer it.
    const delay = equalJitter(backoffWindow(attempt, { baseMs: config.reconnectMinMs, capMs: config.reconnectMaxMs }))
    attempt++
    reconnectTimer = setTimeout(() => {
      reconnectTimer = null
      connect()
    }, delay)
  }

  function connect(): void {
    if (stopped) return
    const s = smpp.connect({ host: config.host, port: config.port })
    session = s
    // The smpp package stops reading a session after a PDU parse error, so any
    // error means the session is unusable: drop it and reconnect rather than
    // time out submits the SMSC actually accepted (which would then be resent).
    s.on('error', (err: Error) => {
      log.warn({ err: err.message }, 'smpp session error; reconnecting')
      drop(s, `error: ${err.message}`)
    })
    s.on('close', () => drop(s, 'closed'))
    s.on('connect', async () => {
      const resp = await request(s, 'bind_transceiver', {
        system_id: config.systemId,
        password: config.password,
        system_type: config.systemType,
        interface_version: 0x34,
      })
      if (!resp || resp.command_status !== 0) {
        log.error({ code: 'SMPP_BIND_FAILED', status: resp?.command_status }, 'smpp bind_transceiver failed')
        drop(s, 'bind failed')
        return
      }
      bound = true
      attempt = 0
      bindCount++
      log.info({ host: config.host, port: config.port }, 'smpp bound (transceiver)')
      enquireTimer = setInterval(() => {
        void request(s, 'enquire_link', {})
      }, config.enquireLinkMs)
    })
    s.on('enquire_link', (pdu: PDU) => s.send(pdu.response()))
    s.on('unbind', (pdu: PDU) => {
      s.send(pdu.response())
      drop(s, 'unbind by SMSC')
    })
    s.on('deliver_sm', (pdu: PDU) => {
      s.send(pdu.response())
      onDeliver(pdu)
    })
  }

  function textOf(pdu: PDU): { text: string; udh: Buffer[] } {
    const sm = (pdu.message_payload ?? pdu.short_message) as ShortMessage | string | Buffer | undefined
    if (sm === undefined) return { text: '', udh: [] }
    if (typeof sm === 'string') return { text: sm, udh: [] }
    if (Buffer.isBuffer(sm)) return { text: sm.toString('latin1'), udh: [] }
    const udh = Array.isArray(sm.udh) ? sm.udh : sm.udh ? [sm.udh] : []
    return { text: typeof sm.message === 'string' ? sm.message : sm.message.toString('latin1'), udh }
  }

  function onDeliver(pdu: PDU): void {
    const { text, udh } = textOf(pdu)
    if (((pdu.esm_class ?? 0) & 0x3c) === MC_DELIVERY_RECEIPT) {
      const id = (pdu.receipted_message_id as string | undefined) ?? /id:(\S+)/i.exec(text)?.[1]
      const stat = /stat:(\w+)/i.exec(text)?.[1]?.toUpperCase()
      const state = pdu.message_state as number | undefined
      const delivered = state !== undefined ? state === 2 : stat === 'DELIVRD'
      if (id) events.onReceipt(id, delivered, stat ?? `state ${state}`)
      return
    }
    const from = pdu.source_addr ?? ''
    const concat = udh.find((u) => u[0] === 0x00 && u.length >= 5)
    if (!concat) return events.onInbound(from, text)
    // Concatenated MO: reassemble (bounded; incomplete sets expire after 5 min).
    const [, , ref, total, seq] = concat as unknown as number[]
    const k = `${from}|${ref}|${total}`
    const now = Date.now()
    for (const [key, v] of mo) if (now - v.at > 300_000) mo.delete(key)
    if (mo.size > 1000) return
    const entry = mo.get(k) ?? { parts: new Array<string>(total!).fill(''), got: 0, at: now }
    if (!entry.parts[seq! - 1]) entry.got++
    entry.parts[seq! - 1] = text
    mo.set(k, entry)
    if (entry.got === total) {
      mo.delete(k)
      events.onInbound(from, entry.parts.join(''))
    }
  }

  async function send(msg: OutgoingMessage, ctx: SendContext): Promise<SendResult> {
    const s = session
    if (!s || !bound) return { ok: false, retry: true, reason: 'not bound' }
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
      const resp = await request(s, 'submit_sm', {
        source_addr_ton: 5, // alphanumeric brandname
        source_addr_npi: 0,
        source_addr: config.sourceAddr,
        dest_addr_ton: 1, // international
        dest_addr_npi: 1, // ISDN E.164
        destination_addr: msg.to.replace(/^\+/, ''),
        registered_delivery: config.deliveryReceipts ? 1 : 0,
        data_coding: gsm ? 0 : 8,
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

  return {
    name: 'smpp',
    ratePerSec: config.ratePerSec,
    window: config.window,
    ready: () => bound,
    send,
    binds: () => bindCount,
    start() {
      if (!stopped) return
      stopped = false
      connect()
    },
    async stop() {
      stopped = true
      if (reconnectTimer) clearTimeout(reconnectTimer)
      reconnectTimer = null
      const s = session
      if (!s) return
      if (bound) await request(s, 'unbind', {})
      if (session === s) {
        session = null
        bound = false
        if (enquireTimer) clearInterval(enquireTimer)
        for (const w of [...waiters]) w.resolve(null)
        s.removeAllListeners()
        s.on('error', () => {})
        s.destroy()
      }
    },
  }
}
