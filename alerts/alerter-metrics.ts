import type Database from 'better-sqlite3'
import type { MetricFamily } from '../core/metrics.ts'
import type { Channel } from './channels/types.ts'
import type { Engine } from './engine.ts'
import type { Outbox } from './outbox.ts'
import type { PointsWriter } from './points-writer.ts'
import type { ReadingQueue } from './reading-queue.ts'

/** The alerter's parts its metrics read from. */
export interface AlerterMetricsSource {
  db: Database.Database
  queue: ReadingQueue
  engine: Engine
  points: PointsWriter
  outbox: Outbox
  channels: ReadonlyMap<string, Channel>
}

/**
 * The alerter's metric families (core/metrics.ts renders them). Counters are
 * the parts' own counts since start; gauges are read when scraped, the
 * outbox and open incidents from SQLite.
 */
export function alerterMetrics({ db, queue, engine, points, outbox, channels }: AlerterMetricsSource): MetricFamily[] {
  const c = engine.counters
  const outboxRows = db.prepare('SELECT channel, status, COUNT(*) AS n FROM alert_outbox GROUP BY channel, status').all() as Array<{ channel: string; status: string; n: number }>
  const openIncidents = (db.prepare('SELECT COUNT(*) AS n FROM alert_incidents WHERE closed_at IS NULL').get() as { n: number }).n
  return [
    { name: 'tidewatch_alerts_queue_depth', type: 'gauge', help: 'Accepted readings waiting for evaluation', samples: [{ value: queue.depth }] },
    { name: 'tidewatch_alerts_queue_dropped_total', type: 'counter', help: 'Readings dropped, oldest first, because the evaluation queue was full (alerts.queueMax)', samples: [{ value: queue.dropped }] },
    { name: 'tidewatch_alerts_values_evaluated_total', type: 'counter', help: 'Sensor values evaluated against the rules', samples: [{ value: c.evaluated }] },
    {
      name: 'tidewatch_alerts_readings_skipped_total',
      type: 'counter',
      help: 'Readings not evaluated: late (backlog) or stale (older than alerts.staleAfterSec)',
      samples: [
        { labels: { reason: 'late' }, value: c.skippedLate },
        { labels: { reason: 'stale' }, value: c.skippedStale },
      ],
    },
    { name: 'tidewatch_alerts_transitions_total', type: 'counter', help: 'Alert state changes', samples: [{ value: c.transitions }] },
    { name: 'tidewatch_alerts_points_dropped_total', type: 'counter', help: 'alert_event and notification points not written to InfluxDB (buffer full or write failed)', samples: [{ value: points.dropped }] },
    {
      name: 'tidewatch_alerts_messages_total',
      type: 'counter',
      help: 'Outbox sends by outcome',
      samples: Object.entries(outbox.counters).map(([outcome, value]) => ({ labels: { outcome }, value })),
    },
    {
      name: 'tidewatch_alerts_outbox',
      type: 'gauge',
      help: 'Outbox rows by channel and status',
      samples: outboxRows.map((r) => ({ labels: { channel: r.channel, status: r.status }, value: r.n })),
    },
    { name: 'tidewatch_alerts_incidents_open', type: 'gauge', help: 'Incidents not yet closed', samples: [{ value: openIncidents }] },
    {
      name: 'tidewatch_alerts_channel_ready',
      type: 'gauge',
      help: '1 when the channel can send now (SMPP: bound)',
      samples: [...channels].map(([channel, ch]) => ({ labels: { channel }, value: ch.ready() ? 1 : 0 })),
    },
    {
      name: 'tidewatch_alerts_channel_rate',
      type: 'gauge',
      help: 'Messages per second the channel is allowed now (lowered after throttling)',
      samples: [...channels.keys()].map((channel) => ({ labels: { channel }, value: outbox.limiter(channel)?.current() ?? 0 })),
    },
  ]
}
