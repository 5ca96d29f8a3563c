import type Database from 'better-sqlite3'
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

/** Prometheus text exposition lines (format 0.0.4) for the alerter. */
export function alerterMetrics({ db, queue, engine, points, outbox, channels }: AlerterMetricsSource): string[] {
  const c = engine.counters
  return [
    '# TYPE tidewatch_alerts_queue_depth gauge',
    `tidewatch_alerts_queue_depth ${queue.depth}`,
    '# TYPE tidewatch_alerts_queue_dropped_total counter',
    `tidewatch_alerts_queue_dropped_total ${queue.dropped}`,
    '# TYPE tidewatch_alerts_values_evaluated_total counter',
    `tidewatch_alerts_values_evaluated_total ${c.evaluated}`,
    '# TYPE tidewatch_alerts_readings_skipped_total counter',
    `tidewatch_alerts_readings_skipped_total{reason="late"} ${c.skippedLate}`,
    `tidewatch_alerts_readings_skipped_total{reason="stale"} ${c.skippedStale}`,
    '# TYPE tidewatch_alerts_transitions_total counter',
    `tidewatch_alerts_transitions_total ${c.transitions}`,
    '# TYPE tidewatch_alerts_points_dropped_total counter',
    `tidewatch_alerts_points_dropped_total ${points.dropped}`,
    '# TYPE tidewatch_alerts_messages_total counter',
    ...Object.entries(outbox.counters).map(([k, v]) => `tidewatch_alerts_messages_total{outcome="${k}"} ${v}`),
    '# TYPE tidewatch_alerts_outbox gauge',
    ...(db.prepare('SELECT channel, status, COUNT(*) AS n FROM alert_outbox GROUP BY channel, status').all() as Array<{ channel: string; status: string; n: number }>).map(
      (r) => `tidewatch_alerts_outbox{channel="${r.channel}",status="${r.status}"} ${r.n}`,
    ),
    '# TYPE tidewatch_alerts_incidents_open gauge',
    `tidewatch_alerts_incidents_open ${(db.prepare('SELECT COUNT(*) AS n FROM alert_incidents WHERE closed_at IS NULL').get() as { n: number }).n}`,
    '# TYPE tidewatch_alerts_channel_ready gauge',
    ...[...channels].map(([name, ch]) => `tidewatch_alerts_channel_ready{channel="${name}"} ${ch.ready() ? 1 : 0}`),
    '# TYPE tidewatch_alerts_channel_rate gauge',
    ...[...channels.keys()].map((name) => `tidewatch_alerts_channel_rate{channel="${name}"} ${outbox.limiter(name)?.current() ?? 0}`),
  ]
}
