/**
 * A station's store-and-forward buffer on disk: what a real logger keeps in
 * flash while the 4G link is down. One directory per station holding
 *
 *   outbox.log  append-only, one JSON record per line: {"id":n,"b":body}
 *   cursor      {"acked":n}: every id <= n is gone (delivered or dropped)
 *
 * Why this shape: an append is a single write(2) and the cursor is replaced
 * with rename(2), which is atomic, so a `kill -9` at any instant leaves either
 * the old or the new state. The worst case is a half-written last line; it is
 * ignored and cut off on open. Records are removed only when the caller acks
 * them (the station does so after the broker's PUBACK), so a crash between
 * publish and PUBACK re-sends instead of losing: duplicates are harmless
 * because the ingest keys points on (station, sensor, device ts).
 *
 * The buffer is bounded (a logger has finite flash). When full it drops the
 * OLDEST record: recent data matters most for alerts, and the oldest is the
 * most likely to be past the ingest's maximum age anyway. Drops are counted
 * and logged.
 *
 * Record ids are strictly increasing and survive restarts, so the station
 * uses them as its reading `seq`.
 *
 * One process per directory; this is not a multi-writer store.
 */
import { closeSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import type { Logger } from '../core/log.ts'

export interface OutboxRecord<T> {
  readonly id: number
  readonly body: T
}

export interface OutboxStats {
  /** Records waiting for an ack. */
  readonly size: number
  readonly capacity: number
  /** Records appended since open. */
  readonly appended: number
  /** Records removed by ack since open. */
  readonly acked: number
  /** Records dropped (oldest first) because the buffer was full, since open. */
  readonly dropped: number
  /** Lines skipped on open because they did not parse (a torn tail counts here too). */
  readonly corruptLines: number
}

export interface Outbox<T> {
  /** Appends a record; make() receives the record's id. Drops the oldest if full. */
  append(make: (id: number) => T): OutboxRecord<T>
  /** Up to max oldest pending records, oldest first. Does not remove them. */
  peek(max: number): OutboxRecord<T>[]
  /** Removes every pending record with id <= throughId. Returns how many were removed. */
  ack(throughId: number): number
  size(): number
  stats(): OutboxStats
  close(): void
}

export interface OutboxOptions {
  /** The station's own directory; created if missing. */
  readonly dir: string
  /** Maximum pending records. Default 20,000 (about 7 months at 15-minute sampling). */
  readonly maxRecords?: number
  /** Rewrite the log once it holds this many dead lines. Default max(1024, maxRecords). */
  readonly compactAfter?: number
  readonly log: Logger
}

interface Pending<T> extends OutboxRecord<T> {
  /** The serialized line, kept so compaction need not re-serialize. */
  readonly line: string
}

const LOG_FILE = 'outbox.log'
const CURSOR_FILE = 'cursor'

/** Log the first drop of an overflow episode, then one line per this many. */
const DROP_LOG_EVERY = 1000

export function openOutbox<T>(options: OutboxOptions): Outbox<T> {
  const maxRecords = options.maxRecords ?? 20_000
  if (!Number.isInteger(maxRecords) || maxRecords < 1) throw new RangeError('maxRecords must be a positive integer')
  const compactAfter = options.compactAfter ?? Math.max(1024, maxRecords)
  const log = options.log
  const dir = options.dir
  mkdirSync(dir, { recursive: true })
  const logPath = join(dir, LOG_FILE)
  const cursorPath = join(dir, CURSOR_FILE)

  let acked = readCursor(cursorPath)
  let corruptLines = 0
  let maxId = acked
  // A deque as array + head index: shift() on a 20k array per ack would be O(n).
  let queue: Pending<T>[] = []
  let head = 0
  let fileLines = 0

  if (existsSync(logPath)) {
    const text = readFileSync(logPath, 'utf8')
    const end = text.lastIndexOf('\n') + 1
    if (end < text.length) {
      // Torn last write (kill -9 or power cut mid-append): cut it off so the
      // next append does not glue a valid line onto the fragment.
      corruptLines++
      const fd = openSync(logPath, 'r+')
      ftruncateSync(fd, Buffer.byteLength(text.slice(0, end)))
      closeSync(fd)
      log.warn({ dir, bytes: Buffer.byteLength(text.slice(end)) }, 'outbox: ignored truncated last line')
    }
    for (const line of text.slice(0, end).split('\n')) {
      if (line === '') continue
      fileLines++
      const rec = parseLine<T>(line)
      if (!rec) {
        corruptLines++
        continue
      }
      maxId = Math.max(maxId, rec.id)
      if (rec.id > acked) queue.push({ id: rec.id, body: rec.body, line })
    }
    queue.sort((a, b) => a.id - b.id)
  }

  let nextId = maxId + 1
  let appended = 0
  let ackedCount = 0
  let dropped = 0
  let dropEpisode = 0
  let fd = openSync(logPath, 'a')

  const size = () => queue.length - head

  function writeCursor(): void {
    const tmp = `${cursorPath}.tmp`
    writeFileSync(tmp, JSON.stringify({ acked }))
    renameSync(tmp, cursorPath)
  }

  function compactQueue(): void {
    if (head > 1024 && head > queue.length / 2) {
      queue = queue.slice(head)
      head = 0
    }
  }

  function maybeCompactFile(): void {
    if (fileLines - size() < compactAfter) return
    const tmp = `${logPath}.tmp`
    const live = queue.slice(head)
    const tfd = openSync(tmp, 'w')
    if (live.length > 0) writeSync(tfd, live.map((r) => `${r.line}\n`).join(''))
    fsyncSync(tfd)
    closeSync(tfd)
    closeSync(fd)
    renameSync(tmp, logPath)
    fd = openSync(logPath, 'a')
    fileLines = live.length
  }

  function dropOldest(): void {
    const victim = queue[head++]!
    acked = Math.max(acked, victim.id)
    dropped++
    if (dropEpisode++ % DROP_LOG_EVERY === 0) {
      log.warn({ dir, dropped, capacity: maxRecords, droppedId: victim.id }, 'outbox full: dropped oldest reading')
    }
  }

  const recovered = size()
  while (size() > maxRecords) dropOldest()
  if (dropped > 0 || recovered > 0) writeCursor()
  if (recovered > 0) log.info({ dir, pending: size(), nextId, corruptLines }, 'outbox: recovered pending readings')

  return {
    append(make) {
      const id = nextId++
      const body = make(id)
      const line = JSON.stringify({ id, b: body })
      writeSync(fd, `${line}\n`)
      fileLines++
      appended++
      queue.push({ id, body, line })
      if (size() > maxRecords) {
        dropOldest()
        writeCursor()
        compactQueue()
        maybeCompactFile()
      }
      return { id, body }
    },

    peek(max) {
      const out: OutboxRecord<T>[] = []
      for (let i = head; i < queue.length && out.length < max; i++) out.push({ id: queue[i]!.id, body: queue[i]!.body })
      return out
    },

    ack(throughId) {
      let removed = 0
      while (head < queue.length && queue[head]!.id <= throughId) {
        head++
        removed++
      }
      if (throughId > acked) {
        acked = throughId
        writeCursor()
      }
      ackedCount += removed
      if (size() < maxRecords) dropEpisode = 0
      compactQueue()
      maybeCompactFile()
      return removed
    },

    size,

    stats: () => ({ size: size(), capacity: maxRecords, appended, acked: ackedCount, dropped, corruptLines }),

    close() {
      closeSync(fd)
    },
  }
}

function readCursor(path: string): number {
  if (!existsSync(path)) return 0
  try {
    const acked = (JSON.parse(readFileSync(path, 'utf8')) as { acked?: unknown }).acked
    return typeof acked === 'number' && Number.isSafeInteger(acked) && acked >= 0 ? acked : 0
  } catch {
    // Unreadable cursor: re-send everything in the log. Duplicates are safe, loss is not.
    return 0
  }
}

function parseLine<T>(line: string): { id: number; body: T } | undefined {
  try {
    const rec = JSON.parse(line) as { id?: unknown; b?: unknown }
    if (typeof rec.id !== 'number' || !Number.isSafeInteger(rec.id) || rec.id < 1 || !('b' in rec)) return undefined
    return { id: rec.id, body: rec.b as T }
  } catch {
    return undefined
  }
}
