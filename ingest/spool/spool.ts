import { EventEmitter } from 'node:events'
import { closeSync, fsyncSync, mkdirSync, writeSync, openSync, readdirSync, readFileSync, readSync, statSync, ftruncateSync } from 'node:fs'
import { open, rename, unlink, writeFile, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from '../../core/log.ts'

/**
 * Group commits whose fdatasync may be in flight at once. A group's write is
 * quick (the page cache); its fdatasync waits for the disk, tens of ms while
 * InfluxDB writes to the same disk. With one commit at a time the next group
 * waited for that whole sync while the platform sat idle (docs/PERFORMANCE.md,
 * "Night round"); writes stay one at a time, so the log keeps its order.
 */
const SYNCS_IN_FLIGHT = 2

/**
 * A group's write goes to the page cache: 0.2–1.7 ms for ~1 MB under load on
 * the bench machine (docs/PERFORMANCE.md). Ten times the worst of those means
 * the kernel is throttling this writer for a disk that cannot keep up.
 */
export const SLOW_WRITE_MS = 20
/** A repeated warning (slow writes, failed cursor saves) is logged at most once per this long; the counts are in the stats. */
const REPEAT_LOG_EVERY_MS = 10_000

/** Whether a repeated warning is due again: true at most once per REPEAT_LOG_EVERY_MS. */
class RepeatLog {
  private loggedAt = Number.NEGATIVE_INFINITY

  due(): boolean {
    const now = performance.now()
    if (now - this.loggedAt < REPEAT_LOG_EVERY_MS) return false
    this.loggedAt = now
    return true
  }
}

/**
 * The durable spool between "a station's PUBACK" and "the point is in
 * InfluxDB". An append-only log of line-protocol points split into segment
 * files, fsync'd in groups: append() resolves only once its bytes are on
 * disk, which is what lets the broker acknowledge.
 *
 * Each InfluxDB target (primary, dr, ...) has its own cursor in the log and
 * drains at its own pace, so a slow or dead target never holds back another.
 * A segment is deleted once every cursor has passed it.
 *
 * Overflow policy: when the retained bytes reach `maxBytes`, append() waits
 * (backpressure) instead of dropping; the broker then stops acknowledging and
 * stations keep readings in their own buffers. Every wait is counted. Spools
 * given the same `capacity` (the ingest's live and backlog lanes) share one
 * `maxBytes` between them.
 *
 * On-disk line: `<seq>\t<receivedAtMs>\t<line protocol>\n`. Several lines of
 * one reading share a seq. A torn last line after a crash has no newline and
 * is cut off on open; it was never acknowledged.
 */
export interface SpoolRecord {
  receivedAt: number
  lines: readonly string[]
}

/** A byte limit shared by several spools: space freed by one wakes the others' appends. */
export class SpoolCapacity {
  used = 0
  private readonly members = new Set<Spool>()

  constructor(readonly maxBytes: number) {}

  get full(): boolean {
    return this.used >= this.maxBytes
  }

  join(spool: Spool): void {
    this.members.add(spool)
  }

  freed(): void {
    if (this.full) return
    for (const m of this.members) m.spaceFreed()
  }
}

export interface SpoolOptions {
  dir: string
  maxBytes: number
  /** Share the byte limit with other spools (then `maxBytes` is ignored). */
  capacity?: SpoolCapacity
  segmentBytes: number
  log: Logger
}

export interface SpoolBatch {
  /**
   * Line-protocol points in log order, one per line, as the bytes a write
   * sends: never decoded into strings and joined again (docs/PERFORMANCE.md,
   * "Unrouted publishes and a lighter ingest").
   */
  body: Buffer
  /** How many points (lines) the body holds. */
  count: number
  /** Seq of the last record in the batch. */
  lastSeq: number
  /** Arrival time of the oldest record in the batch. */
  oldestReceivedAt: number
  /** Opaque position to pass to commit(). */
  end: Position
}

interface Position {
  segment: number // startSeq of the segment file
  offset: number
  seq: number
}

interface Segment {
  startSeq: number
  file: string
  size: number
}

export interface SpoolStats {
  bytes: number
  segments: number
  headSeq: number
  appendedRecords: number
  fsyncs: number
  backpressureWaits: number
  /** Group writes that held the event loop for SLOW_WRITE_MS or more. */
  slowWrites: number
  /** Target cursors that could not be saved (the target re-sends more after a restart). */
  cursorSaveFailures: number
  full: boolean
}

/** A target's cursor save in flight, and the newest position to save after it. */
interface CursorWrite {
  next: Position | undefined
  done: Promise<void>
}

const SEGMENT_RE = /^seg-(\d{16})\.log$/
const READ_CHUNK = 1 << 20

function segName(startSeq: number): string {
  return `seg-${String(startSeq).padStart(16, '0')}.log`
}

/**
 * The appends waiting for the next write, settled together: one promise for
 * the group rather than one per append. Under load every message in flight
 * waits here for a whole group commit, so what each holds is what the
 * collector copies (docs/PERFORMANCE.md, "Night round").
 */
interface PendingGroup {
  /** The group's bytes, written one record after another; `size` of them are used. */
  bytes: Buffer
  size: number
  firstSeq: number
  done: Promise<void>
  resolve: () => void
  reject: (err: Error) => void
  /** Set when the group's own fdatasync has answered: undefined while in flight, null when durable. */
  synced?: Error | null
}

function openGroup(firstSeq: number): PendingGroup {
  let resolve!: () => void
  let reject!: (err: Error) => void
  const done = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { bytes: EMPTY, size: 0, firstSeq, done, resolve, reject, synced: undefined }
}

const EMPTY = Buffer.alloc(0)

/**
 * The unsigned decimal in bytes [start, end) of a spool line (a seq or an
 * arrival time), read without a string per line. Lines are whole: recover()
 * cuts a torn last line before anything reads.
 */
function decimalAt(buf: Buffer, start: number, end: number): number {
  let n = 0
  for (let i = start; i < end; i++) n = n * 10 + (buf[i]! - 0x30)
  return n
}

/** A batch's points as strings, for readers that need them one by one (the cluster's fallback forwarder, tests); writers send `body` as it is. */
export function batchLines(batch: SpoolBatch): string[] {
  return batch.body.toString('utf8').split('\n')
}

/** The least a group's buffer starts with; it doubles when full. */
const MIN_GROUP_BYTES = 4096
/**
 * The most a group's buffer starts with, whatever the last group held: a
 * group that grew while the spool was full (up to the ingest's 20 MiB of
 * payloads in flight, ingest/ingest.ts) must not make every later one start
 * that large. Twice the ~750 KB of a full-load group.
 */
const MAX_GROUP_START_BYTES = 2 * 1024 * 1024
/** UTF-8 takes at most 3 bytes per UTF-16 code unit (a surrogate pair: 4 bytes for 2 units). */
const MAX_UTF8_PER_UNIT = 3

/**
 * Room for `maxBytes` more bytes at the end of the group, copying into a
 * buffer twice as large when needed. A new group starts at `hint`: a group
 * holds what one loop turn appended, ~750 KB at full load and a few hundred
 * bytes when quiet (docs/PERFORMANCE.md, "The group commit in one turn").
 */
function reserve(group: PendingGroup, maxBytes: number, hint: number): void {
  const needed = group.size + maxBytes
  if (needed <= group.bytes.length) return
  const grown = Buffer.allocUnsafeSlow(Math.max(MIN_GROUP_BYTES, needed, group.bytes.length * 2, group.size === 0 ? hint : 0))
  group.bytes.copy(grown, 0, 0, group.size)
  group.bytes = grown
}

export class Spool extends EventEmitter {
  private readonly opts: SpoolOptions
  private readonly segments: Segment[] = []
  private readonly cursors = new Map<string, Position>()
  private active: FileHandle | undefined
  private nextSeq = 1
  private totalBytes = 0
  private readonly capacity: SpoolCapacity
  private pending: PendingGroup | undefined
  private flushing = false
  private flushScheduled = false
  /** Written groups whose fdatasync is in flight or whose elders' is, oldest first: settled strictly in order. */
  private readonly syncing: PendingGroup[] = []
  /** The flush loop is parked in waitForSpace: it holds `flushing` but is not writing. */
  private waitingForSpace = false
  private rolling = false
  private closed = false
  private spaceWaiters: Array<() => void> = []
  /** Per target: the cursor write in flight, and the newest position to write after it. */
  private readonly cursorWrites = new Map<string, CursorWrite>()
  /** The size of the last group written: the next one's first buffer is a quarter larger. */
  private lastGroupBytes = 0
  /** Consumed segments being deleted. */
  private readonly unlinking = new Set<Promise<void>>()
  private readonly slowWritesLog = new RepeatLog()
  private readonly counters = { appendedRecords: 0, fsyncs: 0, backpressureWaits: 0, slowWrites: 0, cursorSaveFailures: 0 }
  private readonly cursorFailuresLog = new RepeatLog()

  private constructor(opts: SpoolOptions) {
    super()
    this.setMaxListeners(0)
    // A segment larger than a quarter of the limit could never be freed in time.
    this.capacity = opts.capacity ?? new SpoolCapacity(opts.maxBytes)
    this.capacity.join(this)
    const maxBytes = this.capacity.maxBytes
    this.opts = { ...opts, maxBytes, segmentBytes: Math.max(4096, Math.min(opts.segmentBytes, Math.floor(maxBytes / 4))) }
  }

  private addBytes(n: number): void {
    this.totalBytes += n
    this.capacity.used += n
  }

  static async open(opts: SpoolOptions): Promise<Spool> {
    const spool = new Spool(opts)
    await spool.recover()
    return spool
  }

  private async recover(): Promise<void> {
    mkdirSync(this.opts.dir, { recursive: true })
    const names = readdirSync(this.opts.dir).filter((n) => SEGMENT_RE.test(n)).sort()
    for (const name of names) {
      const file = join(this.opts.dir, name)
      this.segments.push({ startSeq: Number(SEGMENT_RE.exec(name)![1]), file, size: statSync(file).size })
    }
    const last = this.segments.at(-1)
    if (last) {
      const lastSeq = this.repairTail(last)
      this.nextSeq = (lastSeq ?? last.startSeq - 1) + 1
    }
    for (const s of this.segments) this.addBytes(s.size)
    for (const name of readdirSync(this.opts.dir)) {
      const m = /^cursor-(.+)\.json$/.exec(name)
      if (!m) continue
      try {
        this.cursors.set(m[1]!, JSON.parse(readFileSync(join(this.opts.dir, name), 'utf8')) as Position)
      } catch (err) {
        this.opts.log.error({ err, cursor: name }, 'unreadable spool cursor; target restarts from the oldest retained segment')
      }
    }
    if (this.segments.length === 0) await this.roll(this.nextSeq)
    else this.active = await open(last!.file, 'a')
    this.opts.log.info({ segments: this.segments.length, bytes: this.totalBytes, headSeq: this.nextSeq - 1 }, 'spool opened')
  }

  /** Cuts a torn last line and returns the seq of the last complete line. */
  private repairTail(seg: Segment): number | undefined {
    if (seg.size === 0) return undefined
    const fd = openSync(seg.file, 'r+')
    try {
      const chunk = Math.min(seg.size, 64 * 1024)
      let lastSeq: number | undefined
      // Walk back until we find the newline that ends the last complete line.
      for (let start = Math.max(0, seg.size - chunk); ; start = Math.max(0, start - chunk)) {
        const len = Math.min(chunk, seg.size - start)
        const buf = Buffer.alloc(len)
        readSync(fd, buf, 0, len, start)
        const nl = buf.lastIndexOf(0x0a)
        if (nl >= 0) {
          const completeEnd = start + nl + 1
          if (completeEnd !== seg.size) {
            this.opts.log.warn({ file: seg.file, cut: seg.size - completeEnd }, 'spool: cutting torn last line (never acknowledged)')
            ftruncateSync(fd, completeEnd)
            fsyncSync(fd)
            seg.size = completeEnd
          }
          lastSeq = this.seqOfLineEndingAt(fd, completeEnd)
          break
        }
        if (start === 0) {
          ftruncateSync(fd, 0)
          seg.size = 0
          break
        }
      }
      return lastSeq
    } finally {
      closeSync(fd)
    }
  }

  private seqOfLineEndingAt(fd: number, end: number): number | undefined {
    const len = Math.min(end, 64 * 1024)
    const buf = Buffer.alloc(len)
    readSync(fd, buf, 0, len, end - len)
    const text = buf.toString('utf8', 0, len - 1)
    const lineStart = text.lastIndexOf('\n') + 1
    const seq = Number(text.slice(lineStart, text.indexOf('\t', lineStart)))
    return Number.isFinite(seq) ? seq : undefined
  }

  private async roll(startSeq: number): Promise<void> {
    await this.active?.close()
    const file = join(this.opts.dir, segName(startSeq))
    this.active = await open(file, 'a')
    this.segments.push({ startSeq, file, size: 0 })
  }

  get headSeq(): number {
    return this.nextSeq - 1
  }

  /** Appends records; resolves when they are fsync'd. Waits while the spool is full. */
  append(records: readonly SpoolRecord[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('spool closed'))
    if (records.length === 0) return Promise.resolve()
    const group = (this.pending ??= openGroup(this.nextSeq))
    let text = ''
    for (const r of records) {
      const seq = this.nextSeq++
      for (const line of r.lines) text += `${seq}\t${r.receivedAt}\t${line}\n`
    }
    this.counters.appendedRecords += records.length
    // Bytes off the JS heap while they wait, in one buffer per group: no
    // Buffer object per message for the collector to move, and no copy into
    // one at the flush.
    reserve(group, text.length * MAX_UTF8_PER_UNIT, Math.min(MAX_GROUP_START_BYTES, this.lastGroupBytes + (this.lastGroupBytes >> 2)))
    group.size += group.bytes.write(text, group.size, 'utf8')
    this.scheduleFlush()
    return group.done
  }

  /**
   * A group commit starts once the event loop has run every callback that
   * was ready: setImmediate runs after the poll phase, so the group holds
   * all that turn read and its write completes early in the next turn.
   * Started by the first append instead, a group held one station's
   * messages and the rest of the turn waited for that write and then their
   * own: two turns in the heap for every message (docs/PERFORMANCE.md,
   * "Night round").
   */
  private scheduleFlush(): void {
    if (this.flushScheduled || this.flushing || this.syncing.length >= SYNCS_IN_FLIGHT) return
    this.flushScheduled = true
    setImmediate(this.startFlush)
  }

  private readonly startFlush = (): void => {
    this.flushScheduled = false
    void this.flush()
  }

  get full(): boolean {
    return this.capacity.full
  }

  private async waitForSpace(): Promise<void> {
    if (!this.full) return
    this.counters.backpressureWaits++
    this.opts.log.warn({ bytes: this.totalBytes, sharedBytes: this.capacity.used, maxBytes: this.opts.maxBytes }, 'spool full: holding acknowledgements until a target drains (backpressure)')
    this.emit('full')
    this.waitingForSpace = true
    try {
      while (this.full && !this.closed) {
        await new Promise<void>((resolve) => this.spaceWaiters.push(resolve))
        // Woken by a roll still in progress: wait for it to finish before writing.
        while (this.rolling) await new Promise<void>((resolve) => this.spaceWaiters.push(resolve))
      }
    } finally {
      this.waitingForSpace = false
    }
  }

  private async flush(): Promise<void> {
    if (this.flushing || this.syncing.length >= SYNCS_IN_FLIGHT) return
    this.flushing = true
    try {
      // One group per call; the next is scheduled when this one is done.
      if (this.pending !== undefined && !this.closed) {
        await this.waitForSpace()
        // close() may have run while this flush waited for space: it has
        // rejected the pending group already.
        const batch = this.pending
        if (batch === undefined || this.closed) return
        this.pending = undefined
        let seg: Segment | undefined
        let written = 0
        try {
          const buf = batch.bytes.subarray(0, batch.size)
          this.lastGroupBytes = batch.size
          seg = this.segments.at(-1)!
          if (seg.size > 0 && seg.size + buf.length > this.opts.segmentBytes) {
            await this.roll(batch.firstSeq)
            seg = this.segments.at(-1)!
          }
          // Written synchronously, in this check phase: into the page cache,
          // 0.2–1.7 ms for a group of ~1 MB under load, against 24–56 ms for
          // the thread pool's answer, which the loop sees only after a whole
          // poll phase of other stations' messages (docs/PERFORMANCE.md,
          // "The group commit in one turn"). Only the fdatasync, which waits
          // for the disk, goes to the thread pool. Redis' appendfsync does
          // the same in its beforeSleep. The price: a disk so far behind
          // that the kernel throttles writers stalls the loop here, so such
          // writes are counted and logged.
          const started = performance.now()
          while (written < buf.length) written += writeSync(this.active!.fd, buf, written, buf.length - written)
          this.noteWriteTime(performance.now() - started, buf.length)
          seg.size += buf.length
          this.addBytes(buf.length)
          this.syncing.push(batch)
          this.counters.fsyncs++
          // Not awaited: the next group may be written while this one syncs.
          // FileHandle.close (a roll, close()) waits for it.
          this.active!.datasync().then(
            () => this.settleSynced(batch, null),
            (err: unknown) => this.settleSynced(batch, err as Error),
          )
          this.emit('append')
        } catch (err) {
          this.opts.log.error({ err }, 'spool write failed; acknowledgements withheld')
          // A write cut short (ENOSPC after part of the group) leaves bytes
          // the segment does not count; the next group must start where
          // readers expect it, so they are cut off.
          if (seg && written > 0) this.cutBack(seg)
          batch.reject(err as Error)
        }
      }
    } finally {
      this.flushing = false
      if (this.pending !== undefined && !this.closed) this.scheduleFlush()
    }
  }

  private cutBack(seg: Segment): void {
    try {
      ftruncateSync(this.active!.fd, seg.size)
    } catch (err) {
      this.opts.log.error({ err, file: seg.file, size: seg.size }, 'spool: cannot cut a partly written group; later groups in this segment may be unreadable')
    }
  }

  private noteWriteTime(ms: number, bytes: number): void {
    if (ms < SLOW_WRITE_MS) return
    this.counters.slowWrites++
    if (!this.slowWritesLog.due()) return
    this.opts.log.warn({ ms: Math.round(ms), bytes, slowWrites: this.counters.slowWrites }, 'spool write held the event loop: the disk is not keeping up')
  }

  /**
   * Settles groups in log order: a group whose sync answered first still
   * waits for its elders' to answer, so no record is acknowledged while one
   * ahead of it in the log may still reach the disk or fail to.
   */
  private settleSynced(group: PendingGroup, err: Error | null): void {
    group.synced = err
    if (err) this.opts.log.error({ err }, 'spool fdatasync failed; acknowledgements withheld')
    while (this.syncing.length > 0 && this.syncing[0]!.synced !== undefined) {
      const done = this.syncing.shift()!
      if (done.synced) done.reject(done.synced)
      else done.resolve()
    }
    if (this.pending !== undefined && !this.closed) this.scheduleFlush()
  }

  // ---- readers ------------------------------------------------------------

  /** Registers a target; a new target starts at the oldest retained record. */
  addCursor(name: string): void {
    if (this.cursors.has(name)) {
      const c = this.cursors.get(name)!
      // The segment it pointed into was deleted (all targets passed it): resume at the oldest retained.
      if (!this.segments.some((s) => s.startSeq === c.segment)) {
        const first = this.segments[0]!
        this.cursors.set(name, { segment: first.startSeq, offset: 0, seq: first.startSeq - 1 })
      }
      return
    }
    const first = this.segments[0]!
    const pos = { segment: first.startSeq, offset: 0, seq: first.startSeq - 1 }
    this.cursors.set(name, pos)
    this.persistCursor(name, pos)
  }

  /**
   * Atomic replace, off the event loop. No fsync: a stale cursor only
   * re-sends points, and re-sent points overwrite themselves in InfluxDB
   * (stable identity). A rename waits for the file system's journal, ~1 ms
   * while the spool and InfluxDB sync: done on the loop after every batch a
   * target wrote, it was ~1 % of the ingest thread at full load
   * (docs/PERFORMANCE.md). One write per target at a time; positions that
   * arrive meanwhile collapse into the newest.
   */
  private persistCursor(name: string, pos: Position): void {
    const inFlight = this.cursorWrites.get(name)
    if (inFlight) {
      inFlight.next = pos
      return
    }
    const write: CursorWrite = { next: pos, done: Promise.resolve() }
    this.cursorWrites.set(name, write)
    write.done = this.writeCursors(name, write)
  }

  private async writeCursors(name: string, write: CursorWrite): Promise<void> {
    const file = join(this.opts.dir, `cursor-${name}.json`)
    try {
      for (let pos = write.next; pos !== undefined; pos = write.next) {
        write.next = undefined
        try {
          await writeFile(`${file}.tmp`, JSON.stringify(pos))
          await rename(`${file}.tmp`, file)
        } catch (err) {
          // Every batch tries again; a full or read-only disk would otherwise log each time.
          this.counters.cursorSaveFailures++
          if (this.cursorFailuresLog.due()) {
            this.opts.log.error({ err, cursor: name, failures: this.counters.cursorSaveFailures }, 'spool: cannot save a target cursor; after a restart it re-sends from an older one')
          }
        }
      }
    } finally {
      this.cursorWrites.delete(name)
    }
  }

  private segmentIndex(startSeq: number): number {
    return this.segments.findIndex((s) => s.startSeq === startSeq)
  }

  /** Pending records for a target: readings spooled but not yet committed. */
  lag(name: string): number {
    const c = this.cursors.get(name)
    return c ? Math.max(0, this.headSeq - c.seq) : 0
  }

  /**
   * Reads up to `maxLines` committed lines after the target's cursor, or
   * after `after` (the end of a batch still in flight). Returns undefined
   * when there is nothing more.
   */
  async read(name: string, maxLines: number, after?: Position): Promise<SpoolBatch | undefined> {
    const committed = this.cursors.get(name)
    if (!committed) throw new Error(`unknown spool cursor ${name}`)
    // A position in a segment that was freed meanwhile is behind the cursor.
    const cursor = after && this.segmentIndex(after.segment) >= 0 && after.seq >= committed.seq ? after : committed
    let idx = this.segmentIndex(cursor.segment)
    let offset = cursor.offset
    let seq = cursor.seq
    const parts: Buffer[] = []
    let count = 0
    let oldestReceivedAt = 0
    // A one-line read (the lag probe behind /health) needs no 1 MiB chunk.
    let chunk = maxLines === 1 ? 64 * 1024 : READ_CHUNK
    while (idx >= 0 && idx < this.segments.length && count < maxLines) {
      const seg = this.segments[idx]!
      if (offset >= seg.size) {
        if (idx === this.segments.length - 1) break
        idx++
        offset = 0
        continue
      }
      const len = Math.min(chunk, seg.size - offset)
      const fh = await open(seg.file, 'r')
      const buf = Buffer.allocUnsafe(len)
      try {
        await fh.read(buf, 0, len, offset)
      } finally {
        await fh.close()
      }
      // Each line is `seq \t receivedAt \t point \n`: the points are moved
      // to the front of the chunk just read, in place (Buffer#copy moves
      // overlapping bytes correctly).
      let pos = 0
      let kept = 0
      while (count < maxLines) {
        const nl = buf.indexOf(0x0a, pos)
        if (nl < 0) break
        const t1 = buf.indexOf(0x09, pos)
        const t2 = buf.indexOf(0x09, t1 + 1)
        // Read before the point moves over them.
        seq = decimalAt(buf, pos, t1)
        if (oldestReceivedAt === 0) oldestReceivedAt = decimalAt(buf, t1 + 1, t2)
        kept += buf.copy(buf, kept, t2 + 1, nl + 1)
        count++
        pos = nl + 1
      }
      if (pos === 0 && chunk < READ_CHUNK && len === chunk) {
        chunk = READ_CHUNK
        continue
      }
      if (pos === 0) {
        // A single line longer than the chunk cannot happen: payloads are capped far below 1 MiB.
        throw new Error(`spool line longer than ${READ_CHUNK} bytes in ${seg.file}`)
      }
      // A batch waits for InfluxDB, through retries while it is down: it holds
      // a copy of its points rather than a whole read chunk for a few lines.
      parts.push(kept < len >> 1 ? Buffer.from(buf.subarray(0, kept)) : buf.subarray(0, kept))
      offset += pos
    }
    if (count === 0) return undefined
    const joined = parts.length === 1 ? parts[0]! : Buffer.concat(parts)
    // Without the last newline, as lines joined by '\n' would be.
    return { body: joined.subarray(0, joined.length - 1), count, lastSeq: seq, oldestReceivedAt, end: { segment: this.segments[idx]!.startSeq, offset, seq } }
  }

  /** Marks a batch as written to the target and frees fully consumed segments. */
  commit(name: string, end: Position): void {
    this.cursors.set(name, end)
    this.persistCursor(name, end)
    this.gc()
  }

  /** Arrival time of the oldest record a target has not written yet, or undefined when caught up. */
  async oldestPending(name: string): Promise<number | undefined> {
    const batch = await this.read(name, 1)
    return batch?.oldestReceivedAt
  }

  private gc(): void {
    if (this.cursors.size === 0) return
    let minSegment = Infinity
    for (const c of this.cursors.values()) minSegment = Math.min(minSegment, c.segment)
    let freed = false
    // Never delete the active (last) segment.
    while (this.segments.length > 1 && this.segments[0]!.startSeq < minSegment) {
      const seg = this.segments.shift()!
      // Off the loop: freeing a segment's blocks takes the file system
      // milliseconds. Only once the cursors that passed it are saved, so a
      // restart never finds a saved cursor inside a deleted segment (it would
      // start the target over from the oldest segment). A segment left behind
      // by a crash is older than every cursor and goes at the next commit.
      const deleting: Promise<void> = Promise.all([...this.cursorWrites.values()].map((w) => w.done))
        .then(() => unlink(seg.file))
        .catch((err: unknown) => this.opts.log.error({ err, file: seg.file }, 'spool: cannot delete consumed segment'))
        .finally(() => this.unlinking.delete(deleting))
      this.unlinking.add(deleting)
      this.addBytes(-seg.size)
      freed = true
    }
    // Everyone is caught up inside a full active segment: start a new one so it can go.
    const active = this.segments.at(-1)!
    const allCaughtUp = [...this.cursors.values()].every((c) => c.segment === active.startSeq && c.offset === active.size)
    // The flush loop parked in waitForSpace is not writing, so rolling is
    // safe then too; without this a spool that is full with everything in
    // the active segment would wait for space forever.
    if (allCaughtUp && active.size > 0 && (this.full || active.size >= this.opts.segmentBytes) && (!this.flushing || this.waitingForSpace)) {
      void this.rollEmpty()
    }
    if (freed) this.capacity.freed()
  }

  private async rollEmpty(): Promise<void> {
    if (this.closed || this.rolling || (this.flushing && !this.waitingForSpace)) return
    const ownsFlush = !this.flushing
    this.rolling = true
    if (ownsFlush) this.flushing = true
    try {
      // Appends parked by backpressure already hold their seqs; the new
      // segment must start at the first of them so segment names stay in log order.
      const startSeq = this.pending?.firstSeq ?? this.nextSeq
      await this.roll(startSeq)
      for (const [name, c] of this.cursors) {
        const pos = { segment: startSeq, offset: 0, seq: c.seq }
        this.cursors.set(name, pos)
        this.persistCursor(name, pos)
      }
    } finally {
      this.rolling = false
      if (ownsFlush) this.flushing = false
    }
    this.gc()
    this.capacity.freed()
    if (this.pending) void this.flush()
  }

  /** Called by the shared capacity when any spool freed space. */
  spaceFreed(): void {
    this.wakeSpaceWaiters()
  }

  private wakeSpaceWaiters(): void {
    const waiters = this.spaceWaiters
    this.spaceWaiters = []
    for (const w of waiters) w()
  }

  stats(): SpoolStats {
    return { bytes: this.totalBytes, segments: this.segments.length, headSeq: this.headSeq, ...this.counters, full: this.full }
  }

  /** Waits for pending appends to be fsync'd, then closes. */
  async close(): Promise<void> {
    while (this.flushing || this.rolling || this.pending || this.syncing.length > 0) {
      if (this.full && !this.rolling) break // nothing will drain while closing; the pending appends were never acknowledged
      await new Promise((r) => setTimeout(r, 5))
    }
    this.closed = true
    this.pending?.reject(new Error('spool closed'))
    this.pending = undefined
    this.wakeSpaceWaiters()
    await this.active?.close()
    this.active = undefined
    await this.settled()
  }

  /** Resolves once every cursor asked for is on disk and every consumed segment is deleted. */
  async settled(): Promise<void> {
    // Writes started while waiting are waited for too.
    while (this.cursorWrites.size > 0 || this.unlinking.size > 0) {
      await Promise.all([...[...this.cursorWrites.values()].map((w) => w.done), ...this.unlinking])
    }
  }
}
