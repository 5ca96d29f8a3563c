import type { Logger } from '../../core/log.ts'
import type { SmppConfig } from '../../core/alerts-config.ts'
import { SmppDeliveries } from './smpp-deliver.ts'
import { SmppLink } from './smpp-session.ts'
import { submitMessage } from './smpp-submit.ts'
import type { Channel, ChannelEvents } from './types.ts'

/**
 * SMPP 3.4 ESME over one bind_transceiver session. Its parts:
 * - SmppLink (smpp-session.ts): connect, bind, enquire_link, response
 *   timeouts, reconnect with exponential backoff and jitter;
 * - submitMessage (smpp-submit.ts): segmenting and submit_sm, with
 *   ESME_RTHROTTLED / ESME_RMSGQFUL reported as throttled so the outbox
 *   slows down and retries;
 * - SmppDeliveries (smpp-deliver.ts): delivery receipts and MO messages.
 */
export interface SmppChannel extends Channel {
  /** Number of successful binds so far (tests observe reconnects). */
  binds(): number
}

export function createSmppChannel(config: SmppConfig, events: ChannelEvents, log: Logger): SmppChannel {
  const deliveries = new SmppDeliveries(events)
  const link = new SmppLink(config, log, (pdu) => deliveries.onDeliver(pdu))
  return {
    name: 'smpp',
    ratePerSec: config.ratePerSec,
    window: config.window,
    ready: () => link.ready(),
    async send(msg, ctx) {
      const session = link.session()
      if (!session) return { ok: false, retry: true, reason: 'not bound' }
      return submitMessage(session.request, config, msg, ctx)
    },
    binds: () => link.binds(),
    start: () => link.start(),
    stop: () => link.stop(),
  }
}
