import type { Logger } from '../../core/log.ts'
import type { AlertsConfig } from '../../core/alerts-config.ts'
import { createEmailChannel } from './email.ts'
import { createHttpGatewayChannel, createWebhookChannel } from './http-gateway.ts'
import { createLogChannel } from './log.ts'
import { createSmppChannel } from './smpp.ts'
import type { Channel, ChannelEvents } from './types.ts'

/**
 * The channels the config asks for, by name. 'log' is always there (the
 * development SMS channel); 'email' falls back to the log when SMTP is off,
 * so a staff member's message is still recorded as 'logged'.
 */
export function createChannels(config: AlertsConfig, events: ChannelEvents, opts: { staffHaveEmail: () => boolean; log: Logger }): Map<string, Channel> {
  const { log } = opts
  const channels = new Map<string, Channel>()
  if (config.smsChannel === 'smpp' || config.smpp.enabled) channels.set('smpp', createSmppChannel(config.smpp, events, log.child({ channel: 'smpp' })))
  if (config.smsChannel === 'http' || config.http.enabled) channels.set('http', createHttpGatewayChannel(config.http))
  channels.set('log', createLogChannel('log', log))
  if (config.email.enabled) channels.set('email', createEmailChannel(config.email, log))
  else {
    channels.set('email', createLogChannel('email', log))
    if (opts.staffHaveEmail()) log.warn('staff have e-mail addresses but alerts.email is not enabled: e-mails are only logged')
  }
  channels.set('webhook', createWebhookChannel())
  return channels
}
