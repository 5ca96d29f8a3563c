/** Counters the broker's hooks increment; exposed on /metrics. */
export interface BrokerCounters {
  connectsAccepted: number
  connectsRefused: Record<'bad_credentials' | 'disabled' | 'anonymous' | 'error', number>
  publishDenied: number
  subscribeDenied: number
  oversized: number
  publishes: number
}

export function newBrokerCounters(): BrokerCounters {
  return {
    connectsAccepted: 0,
    connectsRefused: { bad_credentials: 0, disabled: 0, anonymous: 0, error: 0 },
    publishDenied: 0,
    subscribeDenied: 0,
    oversized: 0,
    publishes: 0,
  }
}
