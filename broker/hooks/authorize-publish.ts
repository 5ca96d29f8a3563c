import type { AedesPublishPacket, Client, PublishPacket } from 'aedes'
import type { Logger } from '../../core/log.ts'
import { parseStationTopic } from '../../core/protocol.ts'
import type { Identities } from '../identity.ts'
import type { BrokerCounters } from '../metrics.ts'
import type { SecurityLog } from '../../core/security-log.ts'

/**
 * What a client may publish, and the hand-off that makes a PUBACK mean
 * "durable". In aedes 1.2 a QoS 1 PUBACK is written right after this hook
 * calls back (before `published` runs), so the embedded ingest's spool write
 * happens here: the station is acknowledged only once its reading is on disk.
 */
export type DurableGate = (stationId: string, payload: Buffer) => Promise<unknown>
export type RefusalSink = (refusal: { stationId: string; reason: 'PAYLOAD_TOO_LARGE' | 'TOPIC_INVALID' | 'READING_RETAINED'; detail: string; excerpt: string }) => void

/**
 * Where a refused retained reading is sent instead of its topic. No client
 * can subscribe to it (authorize-subscribe.ts allows no `$` topic, and `#`
 * never matches a `$` topic, [MQTT-4.7.2-1]), so it reaches nobody.
 */
export const REFUSED_TOPIC = '$tidewatch/refused'

export function createAuthorizePublish(deps: {
  identities: Identities
  counters: BrokerCounters
  maxPayloadBytes: number
  log: Logger
  security: SecurityLog
  gate?: DurableGate
  onRefused?: RefusalSink
}) {
  return function authorizePublish(client: Client | null, packet: PublishPacket | AedesPublishPacket, callback: (error?: Error | null) => void): void {
    const identity = deps.identities.get(client)
    // Deny by default: a client without an identity never got past CONNECT.
    if (!identity) return callback(new Error('not authenticated'))
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload ?? '')
    const target = parseStationTopic(packet.topic)

    if (identity.kind === 'service') {
      // Services (the ingest) push configuration to stations and tell them
      // what was refused (docs/PROTOCOL.md, "Feedback"); nothing else.
      if (target?.kind === 'config' || target?.kind === 'feedback') return callback(null)
      deps.counters.publishDenied++
      deps.security.event('mqtt.acl.denied', { action: 'publish', service: identity.name, topic: packet.topic.slice(0, 200) }, 'publish denied')
      return callback(new Error(`service may not publish to ${packet.topic}`))
    }

    const stationId = identity.stationId
    // Only the data center writes to config and feedback topics: a station
    // that could publish feedback could tell another station its readings
    // were refused, and that firmware would then keep or drop the wrong data.
    if (!target || target.stationId !== stationId || target.kind === 'config' || target.kind === 'feedback') {
      deps.counters.publishDenied++
      deps.security.event('mqtt.acl.denied', { action: 'publish', station: stationId, topic: packet.topic.slice(0, 200) }, 'publish denied: station may only publish to its own readings and status topics')
      deps.onRefused?.({ stationId, reason: 'TOPIC_INVALID', detail: `station ${stationId} published to "${packet.topic.slice(0, 200)}"`, excerpt: payload.subarray(0, 200).toString('utf8') })
      // MQTT 3.1.1 has no negative PUBACK; aedes closes the connection, which
      // is what a spoofing client deserves and what a buggy one notices.
      return callback(new Error('topic not allowed'))
    }
    if (payload.length > deps.maxPayloadBytes) {
      deps.counters.oversized++
      deps.log.warn({ station: stationId, bytes: payload.length, max: deps.maxPayloadBytes }, 'payload too large; refused')
      deps.onRefused?.({ stationId, reason: 'PAYLOAD_TOO_LARGE', detail: `payload is ${payload.length} bytes, maximum is ${deps.maxPayloadBytes}`, excerpt: payload.subarray(0, 200).toString('utf8') })
      return callback(new Error('payload too large'))
    }
    if (target.kind === 'readings' && packet.retain) {
      // docs/PROTOCOL.md: readings are never retained. A retained reading
      // would greet every later subscriber as if it were current. It is
      // acknowledged (the station must stop re-sending it) and quarantined
      // as READING_RETAINED, but neither stored as a retained message nor
      // delivered: aedes publishes whatever this hook lets through, so the
      // packet is sent where nobody listens. Not awaited, like the other
      // broker refusals: the quarantine is a record, not the reading.
      deps.counters.retainedRefused++
      deps.security.event('mqtt.retained.refused', { station: stationId, topic: packet.topic, bytes: payload.length }, 'retained reading refused')
      deps.onRefused?.({ stationId, reason: 'READING_RETAINED', detail: 'readings must be published with retain = false', excerpt: payload.subarray(0, 200).toString('utf8') })
      packet.retain = false
      packet.topic = REFUSED_TOPIC
      return callback(null)
    }
    deps.counters.publishes++
    if (target.kind === 'readings' && deps.gate) {
      deps.gate(stationId, payload).then(
        () => callback(null),
        (err: unknown) => {
          deps.log.error({ err, station: stationId }, 'durable hand-off failed; not acknowledging')
          callback(err as Error)
        },
      )
      return
    }
    callback(null)
  }
}
