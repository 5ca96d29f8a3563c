import type { Logger } from '../../core/log.ts'
import type { Channel, OutgoingMessage, SendResult } from './types.ts'

/** Development channel: writes the message to the log and reports it submitted. */
export function createLogChannel(name: string, log: Logger): Channel {
  return {
    name,
    ratePerSec: 1000,
    window: 100,
    ready: () => true,
    async send(msg: OutgoingMessage): Promise<SendResult> {
      log.info({ channel: name, to: msg.to, text: msg.text, encoding: msg.encoding }, 'message (log channel)')
      return { ok: true, providerId: `${name}-${msg.id}`, parts: 1 }
    },
    start: () => {},
    stop: async () => {},
  }
}
