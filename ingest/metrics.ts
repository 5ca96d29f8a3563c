import type { MetricFamily } from '../core/metrics.ts'
import type { FeedbackCounters } from './feedback.ts'
import type { IngestCounters } from './ingest.ts'

/**
 * The metric families of the ingest's parts that keep plain counters (the
 * validating Ingest, the quarantine, the feedback publisher). The lanes and
 * the writers report their own (lanes.ts, writers.ts); IngestService.metrics()
 * puts them together.
 */

export function ingestFamilies(c: IngestCounters): MetricFamily[] {
  return [
    { name: 'tidewatch_ingest_payloads_received_total', help: 'MQTT payloads received by the ingest', type: 'counter', samples: [{ value: c.payloads }] },
    { name: 'tidewatch_ingest_readings_accepted_total', help: 'Readings accepted and spooled', type: 'counter', samples: [{ value: c.readingsAccepted }] },
    { name: 'tidewatch_ingest_values_accepted_total', help: 'Sensor values accepted', type: 'counter', samples: [{ value: c.valuesAccepted }] },
    { name: 'tidewatch_ingest_readings_late_total', help: 'Readings accepted but marked late', type: 'counter', samples: [{ value: c.late }] },
    {
      name: 'tidewatch_ingest_rejected_total',
      help: 'Readings or values quarantined, by reason code',
      type: 'counter',
      samples: Object.entries(c.rejectedByReason).map(([reason, value]) => ({ labels: { reason }, value: value ?? 0 })),
    },
    { name: 'tidewatch_ingest_in_flight', help: 'Payloads waiting for the spool fsync', type: 'gauge', samples: [{ value: c.inFlight }] },
    {
      name: 'tidewatch_ingest_slot_waits_total',
      help: 'Payloads that waited, unparsed, for room in the in-flight byte budget (live 4 MiB, batches 16 MiB)',
      type: 'counter',
      samples: [{ value: c.slotWaits }],
    },
  ]
}

export function quarantineFamilies(q: { evicted: number }): MetricFamily[] {
  return [{ name: 'tidewatch_quarantine_evicted_total', help: 'Oldest quarantine rows evicted past the row limit', type: 'counter', samples: [{ value: q.evicted }] }]
}

export function feedbackFamilies(c: FeedbackCounters): MetricFamily[] {
  return [
    { name: 'tidewatch_feedback_published_total', help: 'Feedback messages published to stations/<id>/feedback (payloads with a refusal)', type: 'counter', samples: [{ value: c.published }] },
    {
      name: 'tidewatch_feedback_dropped_total',
      help: 'Feedback not sent, by reason (queue_full, rate_limited, publish_failed)',
      type: 'counter',
      samples: Object.entries(c.dropped).map(([reason, value]) => ({ labels: { reason }, value })),
    },
  ]
}
