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
  }
}
