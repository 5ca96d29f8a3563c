import type { Client, Subscription } from 'aedes'
import type { Logger } from '../../core/log.ts'
import { parseStationTopic, topics } from '../../core/protocol.ts'
import type { Identities } from '../identity.ts'
import type { BrokerCounters } from '../metrics.ts'
import type { SecurityLog } from '../../core/security-log.ts'

const SERVICE_TOPICS = new Set<string>([topics.allReadings, topics.allStatus])

/**
 * Stations may subscribe only to their own config and feedback topics;
 * services to the station readings and status wildcards. A wildcard never
 * names a station (`+` fails STATION_ID_PATTERN), so no station can read
 * another's feedback. A refused subscription gets a 0x80 return code in
 * SUBACK (MQTT 3.1.1 §3.9.3) rather than a disconnect.
 */
export function createAuthorizeSubscribe(deps: { identities: Identities; counters: BrokerCounters; log: Logger; security: SecurityLog }) {
  return function authorizeSubscribe(
    client: Client,
    sub: Subscription,
    callback: (error: Error | null, subscription?: Subscription | null) => void,
  ): void {
    const identity = deps.identities.get(client)
    let allowed = false
    if (identity?.kind === 'service') allowed = SERVICE_TOPICS.has(sub.topic)
    if (identity?.kind === 'station') {
      const t = parseStationTopic(sub.topic)
      allowed = (t?.kind === 'config' || t?.kind === 'feedback') && t.stationId === identity.stationId
    }
    if (allowed) return callback(null, sub)
    deps.counters.subscribeDenied++
    deps.security.event(
      'mqtt.acl.denied',
      { action: 'subscribe', ...(identity?.kind === 'station' ? { station: identity.stationId } : { service: identity?.name }), topic: sub.topic.slice(0, 200) },
      'subscribe denied',
    )
    callback(null, null)
  }
}
