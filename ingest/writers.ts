import type { Config } from '../core/config.ts'
import type { Logger } from '../core/log.ts'
import type { MetricFamily } from '../core/metrics.ts'
import type { WriteTransport } from '../influx/write-transport.ts'
import { targetTransport } from '../influx/target-transport.ts'
import type { IngestLanes } from './lanes.ts'
import { TargetWriter, type TargetStats } from './sink/target-writer.ts'

/** One row per target, both lanes summed; lag in seconds is the older lane's. */
export type TargetRow = TargetStats & { lagSeconds: number }

/** One transport per configured InfluxDB target (influx/target-transport.ts). */
export function targetTransports(config: Readonly<Config>): WriteTransport[] {
  return config.influx.targets.map((t) => targetTransport(config, t))
}

/**
 * The writers that drain the lanes into InfluxDB: two per target, one per
 * lane, each with its own cursor, so a slow target or a long backlog never
 * holds back another target or the live lane.
 */
export class TargetWriters {
  readonly all: TargetWriter[]

  constructor(
    private readonly transports: readonly WriteTransport[],
    private readonly lanes: IngestLanes,
    config: Readonly<Config>,
    log: Logger,
  ) {
    const options = { batchPoints: config.influx.batchPoints, flushIntervalMs: config.influx.flushIntervalMs, writesInFlight: config.influx.writesInFlight }
    this.all = transports.flatMap((t) => lanes.all.map((lane) => new TargetWriter(lane.spool, t, options, log.child({ component: 'writer', target: t.name, lane: lane.name }))))
    if (this.all.length === 0) log.warn('no InfluxDB target configured: readings are validated and spooled but not written anywhere')
  }

  /** Creates each database when it can (a target down now is retried on write), then starts writing. */
  async start(log: Logger): Promise<void> {
    for (const t of this.transports) {
      await t.ensureDatabase().catch((err: Error) => log.warn({ target: t.name, err: err.message }, 'cannot create database yet; will retry on write'))
    }
    for (const w of this.all) w.start()
  }

  async stats(clock: () => number): Promise<TargetRow[]> {
    return Promise.all(
      this.transports.map(async (t) => {
        const oldestPendingAt = await this.lanes.oldestPending(t.name)
        return sumLanes(t.name, this.all.filter((w) => w.name === t.name).map((w) => w.stats()), oldestPendingAt, clock())
      }),
    )
  }

  /** Per target, both lanes summed (the names predate the lanes and stay). */
  async metrics(clock: () => number): Promise<MetricFamily[]> {
    const rows = await this.stats(clock)
    const perTarget = (value: (r: TargetRow) => number) => rows.map((r) => ({ labels: { target: r.target }, value: value(r) }))
    return [
      { name: 'tidewatch_write_batches_total', help: 'Batches written to InfluxDB', type: 'counter', samples: perTarget((r) => r.writeBatches) },
      { name: 'tidewatch_write_points_total', help: 'Points written to InfluxDB', type: 'counter', samples: perTarget((r) => r.writtenPoints) },
      { name: 'tidewatch_write_errors_total', help: 'Failed InfluxDB write attempts (retried)', type: 'counter', samples: perTarget((r) => r.writeErrors) },
      { name: 'tidewatch_write_rejected_lines_total', help: 'Lines InfluxDB refused in partial writes', type: 'counter', samples: perTarget((r) => r.rejectedLines) },
      { name: 'tidewatch_target_up', help: '1 when the last write to the target succeeded', type: 'gauge', samples: perTarget((r) => (r.up ? 1 : 0)) },
      { name: 'tidewatch_target_lag_readings', help: 'Readings spooled but not yet written to the target', type: 'gauge', samples: perTarget((r) => r.lagReadings) },
      { name: 'tidewatch_target_lag_seconds', help: 'Age of the oldest reading not yet written to the target', type: 'gauge', samples: perTarget((r) => r.lagSeconds) },
      {
        name: 'tidewatch_write_duration_seconds',
        help: 'Successful InfluxDB write time: quantiles over the last 1,024 writes of the slower lane (1 = max), count and sum since start',
        type: 'summary',
        samples: rows.map((r) => ({
          labels: { target: r.target },
          quantiles: [
            [0.5, r.writeMs.p50 / 1000],
            [0.99, r.writeMs.p99 / 1000],
            [1, r.writeMs.max / 1000],
          ],
          sum: r.writeMs.sumMs / 1000,
          count: r.writeMs.count,
        })),
      },
    ]
  }

  /** Waits until every target has written everything spooled so far. */
  async drained(timeoutMs: number): Promise<boolean> {
    const results = await Promise.all(this.all.map((w) => w.drained(timeoutMs)))
    return results.every(Boolean)
  }

  /** Each stops after its in-flight batch; what is left stays in the spool for the next start. */
  async stop(): Promise<void> {
    await Promise.all(this.all.map((w) => w.stop()))
  }
}

/** A target's row from its lanes' writers: counts add up; state and timings are the worse lane's (a tail anywhere is a tail). */
function sumLanes(target: string, parts: readonly TargetStats[], oldestPendingAt: number | undefined, now: number): TargetRow {
  const sum = (f: (s: TargetStats) => number): number => parts.reduce((a, p) => a + f(p), 0)
  const lastWrites = parts.map((p) => p.lastWriteAt).filter((x): x is number => x !== undefined)
  return {
    target,
    up: parts.every((p) => p.up),
    writtenPoints: sum((p) => p.writtenPoints),
    writeBatches: sum((p) => p.writeBatches),
    writeErrors: sum((p) => p.writeErrors),
    rejectedLines: sum((p) => p.rejectedLines),
    lagReadings: sum((p) => p.lagReadings),
    lastError: parts.find((p) => !p.up)?.lastError ?? parts.find((p) => p.lastError)?.lastError,
    lastWriteAt: lastWrites.length ? Math.max(...lastWrites) : undefined,
    writeMs: {
      p50: Math.max(...parts.map((p) => p.writeMs.p50)),
      p99: Math.max(...parts.map((p) => p.writeMs.p99)),
      max: Math.max(...parts.map((p) => p.writeMs.max)),
      count: sum((p) => p.writeMs.count),
      sumMs: sum((p) => p.writeMs.sumMs),
    },
    lagSeconds: oldestPendingAt === undefined ? 0 : Math.max(0, (now - oldestPendingAt) / 1000),
  }
}
