import type { Logger } from '../../core/log.ts'
import { segmentInfo } from '../sms/segments.ts'
import type { Channel, OutgoingMessage, SendResult } from './types.ts'

/**
 * Development channel, and the stand-in for a disabled e-mail channel:
 * writes the message to the log. Nothing leaves the machine, so the row ends
 * 'logged', never 'delivered'. As SMS it counts the parts the text would
 * cost (a 2-part UCS-2 text counts 2, as over SMPP); as e-mail, one message.
 */
export function createLogChannel(name: string, log: Logger, role: 'sms' | 'email' = name === 'email' ? 'email' : 'sms'): Channel {
  const note = role === 'email' ? 'alerts.email not enabled: written to the log only' : 'log channel: written to the log only'
  return {
    name,
    ratePerSec: 1000,
    window: 100,
    ready: () => true,
    async send(msg: OutgoingMessage): Promise<SendResult> {
      const parts = role === 'sms' ? segmentInfo(msg.text, msg.encoding).segments : 1
      log.info({ channel: name, to: msg.to, text: msg.text, encoding: msg.encoding, parts }, 'message (log channel)')
      return { ok: true, providerId: `${name}-${msg.id}`, parts, final: 'logged', note }
    },
    start: () => {},
    stop: async () => {},
  }
}
