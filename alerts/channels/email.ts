import nodemailer from 'nodemailer'
import type { Logger } from '../../core/log.ts'
import type { EmailConfig } from '../../core/alerts-config.ts'
import type { Channel, OutgoingMessage, SendResult } from './types.ts'

/**
 * Staff e-mail over SMTP (nodemailer). The outbox row's key becomes the
 * Message-ID, so a retried message is recognisable as the same one. SMTP 4xx
 * and network errors are retried by the outbox; 5xx is final. An accepted
 * mail stays 'submitted': the server took it (RFC 5321 §4.2.5, 250 after
 * DATA), but no delivery report comes back, so 'delivered' would be a guess.
 */
export function createEmailChannel(config: EmailConfig, log: Logger): Channel {
  const transport = nodemailer.createTransport({
    host: config.host,
    port: config.port,
    secure: config.secure,
    auth: config.user ? { user: config.user, pass: config.password } : undefined,
    connectionTimeout: config.timeoutMs,
    greetingTimeout: config.timeoutMs,
    socketTimeout: config.timeoutMs,
  })
  return {
    name: 'email',
    ratePerSec: config.ratePerSec,
    window: 4,
    ready: () => true,
    async send(msg: OutgoingMessage): Promise<SendResult> {
      const firstLine = msg.text.split('\n')[0]!
      try {
        const info = await transport.sendMail({
          from: config.from,
          to: msg.to,
          subject: `[tidewatch] ${firstLine.length > 90 ? `${firstLine.slice(0, 89)}…` : firstLine}`,
          text: msg.text,
          messageId: `<${msg.key.replace(/[^A-Za-z0-9._-]/g, '.')}@tidewatch>`,
        })
        return { ok: true, providerId: info.messageId ?? null, parts: 1 }
      } catch (err) {
        const code = (err as { responseCode?: number }).responseCode
        log.warn({ err: (err as Error).message, code }, 'e-mail not sent')
        return { ok: false, retry: code === undefined || code < 500, reason: `smtp: ${(err as Error).message}` }
      }
    },
    start: () => {},
    stop: async () => transport.close(),
  }
}
