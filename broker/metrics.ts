import type { MetricFamily } from '../core/metrics.ts'
import { SESSION_REVOCATION_REASONS, type SessionRevocationReason } from './session-guard.ts'

/** Counters the broker's hooks increment; exposed on /metrics. */
export interface BrokerCounters {
  connectsAccepted: number
  /**
   * bad_credentials, disabled, anonymous, error: judged. client_id: named
   * another station's session. throttled, locked, busy: refused before the
   * password was checked (docs/SECURITY.md). cert: a client certificate
   * refused or revoked (device certificates).
   */
  connectsRefused: Record<'bad_credentials' | 'disabled' | 'anonymous' | 'error' | 'client_id' | 'throttled' | 'locked' | 'busy' | 'cert', number>
  /** Lockouts started (of an address or a username). */
  lockouts: number
  publishDenied: number
  subscribeDenied: number
  oversized: number
  /** Retained publishes to a readings topic: acknowledged, never retained or delivered. */
  retainedRefused: number
  publishes: number
  /** Publishes nobody subscribed to, answered without aedes' publish pipeline (unrouted-publish.ts). */
  unrouted: number
  /** Live station sessions closed because the registry no longer entitles them (session-guard.ts), by reason. */
  sessionsRevoked: Record<SessionRevocationReason, number>
  /** Session re-checks that could not read the registry; the sessions were kept. */
  sessionChecksFailed: number
}

export function newBrokerCounters(): BrokerCounters {
  return {
    connectsAccepted: 0,
    connectsRefused: { bad_credentials: 0, disabled: 0, anonymous: 0, error: 0, client_id: 0, throttled: 0, locked: 0, busy: 0, cert: 0 },
    lockouts: 0,
    publishDenied: 0,
    subscribeDenied: 0,
    oversized: 0,
    retainedRefused: 0,
    publishes: 0,
    unrouted: 0,
    sessionsRevoked: Object.fromEntries(SESSION_REVOCATION_REASONS.map((r) => [r, 0])) as Record<SessionRevocationReason, number>,
    sessionChecksFailed: 0,
  }
}

/** The broker's metric families: its counters and the connections open now. */
export function brokerFamilies(counters: BrokerCounters, connectedClients: number): MetricFamily[] {
  const c = counters
  return [
    { name: 'tidewatch_mqtt_connected_clients', help: 'Connected MQTT clients', type: 'gauge', samples: [{ value: connectedClients }] },
    { name: 'tidewatch_mqtt_connects_accepted_total', help: 'Accepted MQTT connections', type: 'counter', samples: [{ value: c.connectsAccepted }] },
    {
      name: 'tidewatch_mqtt_connects_refused_total',
      help: 'Refused MQTT connections by reason',
      type: 'counter',
      samples: Object.entries(c.connectsRefused).map(([reason, value]) => ({ labels: { reason }, value })),
    },
    { name: 'tidewatch_mqtt_lockouts_total', help: 'Lockouts started, of an address or a username (docs/SECURITY.md)', type: 'counter', samples: [{ value: c.lockouts }] },
    { name: 'tidewatch_mqtt_publishes_total', help: 'Publishes from clients the broker let through to a topic', type: 'counter', samples: [{ value: c.publishes }] },
    { name: 'tidewatch_mqtt_unrouted_publishes_total', help: 'Publishes no subscriber matched, answered without the broker publish pipeline', type: 'counter', samples: [{ value: c.unrouted }] },
    { name: 'tidewatch_mqtt_publish_denied_total', help: 'Publishes to a topic the client may not use', type: 'counter', samples: [{ value: c.publishDenied }] },
    { name: 'tidewatch_mqtt_retained_refused_total', help: 'Retained publishes to a readings topic: acknowledged, never retained or delivered', type: 'counter', samples: [{ value: c.retainedRefused }] },
    { name: 'tidewatch_mqtt_subscribe_denied_total', help: 'Refused subscriptions', type: 'counter', samples: [{ value: c.subscribeDenied }] },
    {
      name: 'tidewatch_mqtt_sessions_revoked_total',
      help: 'Live station sessions closed because the station was removed, disabled, rotated or its certificate revoked',
      type: 'counter',
      samples: Object.entries(c.sessionsRevoked).map(([reason, value]) => ({ labels: { reason }, value })),
    },
    { name: 'tidewatch_mqtt_session_check_errors_total', help: 'Re-checks of live station sessions that could not read the registry (sessions kept)', type: 'counter', samples: [{ value: c.sessionChecksFailed }] },
    { name: 'tidewatch_mqtt_payload_too_large_total', help: 'Publishes refused for exceeding the payload limit', type: 'counter', samples: [{ value: c.oversized }] },
  ]
}
