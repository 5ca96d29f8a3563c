import smpp, { type PDU, type Session } from 'smpp'
import type { AddressInfo } from 'node:net'

/**
 * A real SMSC peer for tests, built on smpp.createServer: binds, answers
 * submit_sm with message ids, sends delivery receipts, can throttle (0x58),
 * stay silent, or drop sessions; and can originate MO messages (deliver_sm).
 */
export interface Submit {
  to: string
  from: string
  dataCoding: number
  esmClass: number
  udh: Buffer | null
  text: string
  messageId: string
  at: number
}

export interface SmscOptions {
  /** Answer the first n submit_sm with ESME_RTHROTTLED. */
  throttleFirst?: number
  /** Do not answer the first n submit_sm at all. */
  ignoreFirst?: number
  receipts?: boolean
  /** A non-zero command_status to answer a submit_sm to this destination with (e.g. 0x0B ESME_RINVDSTADR), asked per submit. */
  refuse?: (to: string) => number | undefined
}

export async function startSmsc(opts: SmscOptions = {}) {
  let n = 0
  let throttle = opts.throttleFirst ?? 0
  let ignore = opts.ignoreFirst ?? 0
  const submits: Submit[] = []
  const throttled: number[] = []
  let binds = 0
  let enquireLinks = 0
  const sessions = new Set<Session>()
  /** Sessions that completed bind_transceiver, in bind order (an SMSC delivers MO only to a bound ESME). */
  const bound = new Set<Session>()
  const server = smpp.createServer((session: Session) => {
    sessions.add(session)
    session.on('error', () => {})
    session.on('close', () => {
      sessions.delete(session)
      bound.delete(session)
    })
    session.on('bind_transceiver', (pdu: PDU) => {
      binds++
      bound.add(session)
      session.send(pdu.response({ system_id: 'SMSC' }))
    })
    session.on('enquire_link', (pdu: PDU) => {
      enquireLinks++
      session.send(pdu.response())
    })
    session.on('unbind', (pdu: PDU) => {
      session.send(pdu.response())
      session.close()
    })
    session.on('submit_sm', (pdu: PDU) => {
      if (ignore > 0) {
        ignore--
        return
      }
      const refused = opts.refuse?.(pdu.destination_addr ?? '')
      if (refused) {
        session.send(pdu.response({ command_status: refused }))
        return
      }
      if (throttle > 0) {
        throttle--
        throttled.push(Date.now())
        session.send(pdu.response({ command_status: smpp.ESME_RTHROTTLED }))
        return
      }
      const messageId = `m${++n}`
      const sm = pdu.short_message as { message: string; udh?: Buffer[] }
      submits.push({
        to: pdu.destination_addr ?? '',
        from: pdu.source_addr ?? '',
        dataCoding: pdu.data_coding ?? -1,
        esmClass: pdu.esm_class ?? 0,
        udh: sm.udh && sm.udh.length ? sm.udh[0]! : null,
        text: sm.message,
        messageId,
        at: Date.now(),
      })
      session.send(pdu.response({ message_id: messageId }))
      if (opts.receipts !== false && pdu.registered_delivery) {
        setTimeout(() => {
          session.deliver_sm({
            source_addr: pdu.destination_addr,
            destination_addr: pdu.source_addr,
            esm_class: smpp.ESM_CLASS.MC_DELIVERY_RECEIPT,
            receipted_message_id: messageId,
            message_state: smpp.MESSAGE_STATE.DELIVERED,
            short_message: `id:${messageId} sub:001 dlvrd:001 submit date:2603121430 done date:2603121430 stat:DELIVRD err:000 text:`,
          })
        }, 5)
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    port,
    submits,
    throttled,
    binds: () => binds,
    enquireLinks: () => enquireLinks,
    sessions,
    /** Mobile-originated SMS towards the ESME. */
    mo(from: string, text: string): void {
      for (const s of sessions) s.deliver_sm({ source_addr: from, destination_addr: 'TIDEWATCH', data_coding: 8, short_message: text })
    },
    /**
     * A mobile-originated SMS delivered as an SMSC does, store and forward:
     * to one bound session at a time, delivered again after `retryMs` until a
     * deliver_sm_resp with status 0 comes back (an error status, no answer
     * within `answerMs`, or no bound session all mean "again"). Resolves
     * with every attempt's outcome.
     */
    async moUntilAcked(from: string, text: string, opts: { retryMs?: number; answerMs?: number; attempts?: number } = {}): Promise<Array<number | 'no session' | 'no answer'>> {
      const outcomes: Array<number | 'no session' | 'no answer'> = []
      for (let i = 0; i < (opts.attempts ?? 200); i++) {
        const s = [...bound].at(-1)
        if (!s) outcomes.push('no session')
        else {
          const status = await new Promise<number | 'no answer'>((resolve) => {
            const timer = setTimeout(() => resolve('no answer'), opts.answerMs ?? 10_000)
            s.once('close', () => resolve('no answer'))
            s.deliver_sm({ source_addr: from, destination_addr: 'TIDEWATCH', data_coding: 8, short_message: text }, (resp: PDU) => {
              clearTimeout(timer)
              resolve(resp.command_status ?? 0)
            })
          })
          outcomes.push(status)
          if (status === 0) return outcomes
        }
        await new Promise((r) => setTimeout(r, opts.retryMs ?? 200))
      }
      throw new Error(`MO from ${from} never acknowledged: ${JSON.stringify(outcomes)}`)
    },
    /** A concatenated MO, its parts sent in the given order (UDH [05 00 03 ref total seq]). */
    moParts(from: string, parts: readonly string[], ref: number, order: readonly number[] = parts.map((_, i) => i)): void {
      for (const s of sessions) {
        for (const i of order) {
          const udh = Buffer.from([0x05, 0x00, 0x03, ref, parts.length, i + 1])
          s.deliver_sm({ source_addr: from, destination_addr: 'TIDEWATCH', data_coding: 8, short_message: { udh, message: parts[i]! } })
        }
      }
    },
    /** Kills every connection (network failure). */
    dropAll(): void {
      for (const s of sessions) s.destroy()
    },
    /** Reassembled messages per destination (concatenated parts joined in order). */
    messages(): Map<string, string[]> {
      const out = new Map<string, string[]>()
      const partial = new Map<string, string[]>()
      for (const s of submits) {
        const list = out.get(s.to) ?? []
        out.set(s.to, list)
        if (!s.udh) {
          list.push(s.text)
          continue
        }
        const [, , ref, total, seq] = [...s.udh]
        const k = `${s.to}|${ref}`
        const parts = partial.get(k) ?? new Array<string>(total!).fill('')
        parts[seq! - 1] = s.text
        partial.set(k, parts)
        if (parts.every(Boolean)) {
          list.push(parts.join(''))
          partial.delete(k)
        }
      }
      return out
    },
    async close(): Promise<void> {
      for (const s of sessions) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

export type Smsc = Awaited<ReturnType<typeof startSmsc>>

export async function waitFor(cond: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const start = Date.now()
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
