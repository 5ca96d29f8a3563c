import type { HttpGatewayConfig } from '../../core/alerts-config.ts'
import { segmentInfo } from '../sms/segments.ts'
import { toGsm } from '../templates.ts'
import type { Channel, OutgoingMessage, SendResult } from './types.ts'

/**
 * An HTTP SMS gateway: POST of a configurable JSON body. The outbox key is
 * sent as Idempotency-Key, so a retry after a lost response is not a second
 * SMS on gateways that honour it. 2xx: submitted; 429, 5xx, network: retry;
 * other 4xx: failed with the gateway's reason.
 */
export function renderBody(template: string, vars: Record<string, string | boolean>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    const v = vars[name]
    if (v === undefined) return ''
    if (typeof v === 'boolean') return String(v)
    return JSON.stringify(v).slice(1, -1) // JSON-escaped, without the quotes
  })
}

export async function postJson(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<SendResult> {
  let res: Response
  try {
    res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body, signal: AbortSignal.timeout(timeoutMs) })
  } catch (err) {
    return { ok: false, retry: true, reason: `network: ${(err as Error).message}` }
  }
  const text = await res.text().catch(() => '')
  if (res.ok) {
    let providerId: string | null = null
    try {
      const j = JSON.parse(text) as Record<string, unknown>
      const id = j.messageId ?? j.id
      if (typeof id === 'string' || typeof id === 'number') providerId = String(id)
    } catch {
      // A gateway may answer with plain text; the message is still accepted.
    }
    return { ok: true, providerId, parts: 1 }
  }
  const retry = res.status === 429 || res.status >= 500
  return { ok: false, retry, throttled: res.status === 429, reason: `http ${res.status}: ${text.slice(0, 200)}` }
}

export function createHttpGatewayChannel(config: HttpGatewayConfig): Channel {
  return {
    name: 'http',
    ratePerSec: config.ratePerSec,
    window: 10,
    ready: () => true,
    async send(msg: OutgoingMessage): Promise<SendResult> {
      const encoding = config.useUnicode ? msg.encoding : 'gsm7'
      const text = encoding === msg.encoding ? msg.text : toGsm(msg.text)
      const body = renderBody(config.bodyTemplate, { to: msg.to, text, sender: config.sourceAddr, id: msg.key, unicode: encoding === 'ucs2' })
      const headers: Record<string, string> = { 'idempotency-key': msg.key }
      if (config.authHeader) headers.authorization = config.authHeader
      // The gateway splits a long text itself and bills every part: count them as SMPP does.
      const parts = segmentInfo(text, encoding).segments
      const result = await postJson(config.url, body, headers, config.timeoutMs)
      return result.ok ? { ...result, parts, encoding } : result
    },
    start: () => {},
    stop: async () => {},
  }
}

/** Staff webhooks: the message as JSON to the subscriber's URL (the address). */
export function createWebhookChannel(timeoutMs = 10_000): Channel {
  return {
    name: 'webhook',
    ratePerSec: 50,
    window: 10,
    ready: () => true,
    async send(msg: OutgoingMessage): Promise<SendResult> {
      const result = await postJson(msg.to, JSON.stringify({ id: msg.key, text: msg.text }), { 'idempotency-key': msg.key }, timeoutMs)
      // A 2xx comes from the receiver itself: the message is delivered, one message.
      return result.ok ? { ...result, parts: 1, final: 'delivered' } : result
    },
    start: () => {},
    stop: async () => {},
  }
}
