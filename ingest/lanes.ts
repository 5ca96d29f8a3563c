import { join } from 'node:path'
import type { Config } from '../core/config.ts'
import type { Logger } from '../core/log.ts'
import type { MetricFamily } from '../core/metrics.ts'
import { SLOW_WRITE_MS, Spool, SpoolCapacity, type SpoolStats } from './spool/spool.ts'

/** Both spool lanes together; a sequence number means nothing across lanes, so there is none. */
export type LanesStats = Omit<SpoolStats, 'headSeq'>

export type LaneName = 'live' | 'backlog'

/**
 * The ingest's two spool lanes under one byte limit. The live lane holds
 * single readings on time, alert points and self-monitoring; the backlog lane
 * holds batches and late readings. Two lanes so that a replayed backlog never
 * delays the live reading stored behind it; one limit (`spoolMaxBytes`,
 * shared through SpoolCapacity) so that two lanes take no more disk than one
 * did (docs/DURABILITY.md, docs/PERFORMANCE.md).
 */
export class IngestLanes {
  private constructor(
    readonly live: Spool,
    readonly backlog: Spool,
    private readonly capacity: SpoolCapacity,
  ) {}

  static async open(config: Readonly<Config>, log: Logger): Promise<IngestLanes> {
    const capacity = new SpoolCapacity(config.ingest.spoolMaxBytes)
    const open = (dirName: string, lane: LaneName): Promise<Spool> =>
      Spool.open({
        dir: join(config.dataDir, dirName),
        maxBytes: config.ingest.spoolMaxBytes,
        capacity,
        segmentBytes: config.ingest.spoolSegmentBytes,
        log: log.child({ component: 'spool', lane }),
      })
    const backlog = await open('spool', 'backlog')
    const live = await open('spool-live', 'live')
    return new IngestLanes(live, backlog, capacity)
  }

  /** Live first: where an order matters (writers started, stats read), the live lane goes ahead. */
  get all(): ReadonlyArray<{ name: LaneName; spool: Spool }> {
    return [
      { name: 'live', spool: this.live },
      { name: 'backlog', spool: this.backlog },
    ]
  }

  stats(): LanesStats {
    const [a, b] = [this.live.stats(), this.backlog.stats()]
    return {
      bytes: a.bytes + b.bytes,
      segments: a.segments + b.segments,
      appendedRecords: a.appendedRecords + b.appendedRecords,
      fsyncs: a.fsyncs + b.fsyncs,
      backpressureWaits: a.backpressureWaits + b.backpressureWaits,
      slowWrites: a.slowWrites + b.slowWrites,
      cursorSaveFailures: a.cursorSaveFailures + b.cursorSaveFailures,
      full: this.capacity.full,
    }
  }

  /** Both lanes summed: one disk, one limit. */
  metrics(): MetricFamily[] {
    const s = this.stats()
    return [
      { name: 'tidewatch_spool_bytes', help: 'Bytes held in the on-disk spool, both lanes (queue depth)', type: 'gauge', samples: [{ value: s.bytes }] },
      { name: 'tidewatch_spool_full', help: '1 while the spool is full and acknowledgements are held', type: 'gauge', samples: [{ value: s.full ? 1 : 0 }] },
      { name: 'tidewatch_spool_backpressure_waits_total', help: 'Times appends waited for spool space', type: 'counter', samples: [{ value: s.backpressureWaits }] },
      { name: 'tidewatch_spool_fsyncs_total', help: 'Group commits (fsync) of the spool', type: 'counter', samples: [{ value: s.fsyncs }] },
      { name: 'tidewatch_spool_cursor_save_failures_total', help: 'Target cursors that could not be saved (a restart re-sends from an older one)', type: 'counter', samples: [{ value: s.cursorSaveFailures }] },
      { name: 'tidewatch_spool_slow_writes_total', help: `Group writes that held the event loop ${SLOW_WRITE_MS} ms or more (a disk that cannot keep up)`, type: 'counter', samples: [{ value: s.slowWrites }] },
    ]
  }

  /** Readings spooled for a target and not yet written, both lanes. */
  lag(target: string): number {
    return this.live.lag(target) + this.backlog.lag(target)
  }

  /** Arrival time of the oldest reading not yet written to the target, in either lane. */
  async oldestPending(target: string): Promise<number | undefined> {
    const oldest = (await Promise.all([this.live.oldestPending(target), this.backlog.oldestPending(target)])).filter((x): x is number => x !== undefined)
    return oldest.length ? Math.min(...oldest) : undefined
  }

  async close(): Promise<void> {
    await Promise.all([this.live.close(), this.backlog.close()])
  }
}
