import { appendFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { silentLogger } from '../../core/log.ts'
import { batchLines, Spool, SpoolCapacity } from '../../ingest/spool/spool.ts'
import { tempDir } from '../helpers/platform.ts'

const dirs: Array<{ cleanup(): void }> = []
afterEach(() => dirs.splice(0).forEach((d) => d.cleanup()))

async function open(opts: { maxBytes?: number; segmentBytes?: number } = {}, dir?: string) {
  const d = dir ?? (() => {
    const t = tempDir('spool-')
    dirs.push(t)
    return t.dir
  })()
  const spool = await Spool.open({ dir: d, maxBytes: opts.maxBytes ?? 1 << 30, segmentBytes: opts.segmentBytes ?? 1 << 20, log: silentLogger })
  return { spool, dir: d }
}

const rec = (i: number) => ({ receivedAt: 1000 + i, lines: [`reading,sensor=ph,station=s value=${i} ${i}`] })

async function drainAll(spool: Spool, name: string): Promise<string[]> {
  const out: string[] = []
  for (;;) {
    const b = await spool.read(name, 7)
    if (!b) return out
    out.push(...batchLines(b))
    spool.commit(name, b.end)
  }
}

describe('spool', () => {
  it('returns appended lines in order and tracks lag per cursor independently', async () => {
    const { spool } = await open({ segmentBytes: 4096 })
    spool.addCursor('primary')
    spool.addCursor('dr')
    await spool.append(Array.from({ length: 300 }, (_, i) => rec(i)))
    expect(spool.lag('primary')).toBe(300)
    const primary = await drainAll(spool, 'primary')
    expect(primary).toHaveLength(300)
    expect(primary[299]).toContain('value=299 299')
    expect(spool.lag('primary')).toBe(0)
    expect(spool.lag('dr')).toBe(300)
    expect(await spool.oldestPending('dr')).toBe(1000)
    expect(await drainAll(spool, 'dr')).toEqual(primary)
    await spool.close()
  })

  it('deletes segments only once every cursor has passed them', async () => {
    const { spool, dir } = await open({ segmentBytes: 4096 })
    spool.addCursor('primary')
    spool.addCursor('dr')
    for (let i = 0; i < 50; i++) await spool.append([rec(i), rec(i + 1000)])
    const segments = () => readdirSync(dir).filter((f) => f.startsWith('seg-')).length
    const before = segments()
    expect(before).toBeGreaterThan(1)
    await drainAll(spool, 'primary')
    await spool.settled()
    expect(segments()).toBe(before)
    await drainAll(spool, 'dr')
    // Deleted off the event loop, once the cursors that passed them are saved.
    await spool.settled()
    expect(segments()).toBeLessThan(before)
    await spool.close()
  })

  it('survives a crash: a torn last line is cut, cursors resume where they were', async () => {
    const { spool, dir } = await open()
    spool.addCursor('primary')
    await spool.append([rec(1), rec(2), rec(3)])
    const b = await spool.read('primary', 1)
    spool.commit('primary', b!.end)
    // The cursor is saved off the event loop; a crash before that only re-sends.
    await spool.settled()
    // Simulate kill -9 in the middle of a write: no close, half a line on disk.
    const seg = readdirSync(dir).find((f) => f.startsWith('seg-'))!
    appendFileSync(join(dir, seg), '4\t1004\treading,sensor=ph,station=s val')
    const { spool: reopened } = await open({}, dir)
    reopened.addCursor('primary')
    expect(reopened.headSeq).toBe(3)
    expect(await drainAll(reopened, 'primary')).toEqual([rec(2).lines[0], rec(3).lines[0]])
    await reopened.append([rec(4)])
    expect(reopened.headSeq).toBe(4)
    expect(await drainAll(reopened, 'primary')).toEqual([rec(4).lines[0]])
    await reopened.close()
  })

  it('a batch is the points as bytes, with the seq of its last record and the arrival time of its first', async () => {
    const { spool } = await open()
    spool.addCursor('primary')
    await spool.append([rec(1), rec(2), rec(3), rec(4), rec(5)])
    const first = (await spool.read('primary', 3))!
    expect(first.count).toBe(3)
    expect(first.body.toString()).toBe([rec(1), rec(2), rec(3)].map((r) => r.lines[0]).join('\n'))
    expect(first.lastSeq).toBe(3)
    expect(first.oldestReceivedAt).toBe(rec(1).receivedAt)
    spool.commit('primary', first.end)
    expect(spool.lag('primary')).toBe(2)
    const rest = (await spool.read('primary', 100))!
    expect([rest.count, rest.lastSeq, rest.oldestReceivedAt]).toEqual([2, 5, rec(4).receivedAt])
    spool.commit('primary', rest.end)
    expect(spool.lag('primary')).toBe(0)
    await spool.close()
  })

  it('reads over several chunks and segments give the points byte for byte, Vietnamese text included', async () => {
    const { spool } = await open({ segmentBytes: 256 * 1024 })
    spool.addCursor('primary')
    // ~1.6 MB: more than one 1 MiB read, over several segments; multi-byte UTF-8 in every point.
    const point = (i: number) => `alert_notification,station=cm-${i % 7} text="CẢNH BÁO độ mặn ${i} ‰ — ruộng lúa nguy hiểm",seq=${i}i ${1_700_000_000_000 + i}`
    const expected: string[] = []
    for (let i = 0; i < 20_000; i++) expected.push(point(i))
    for (let i = 0; i < expected.length; i += 500) await spool.append(expected.slice(i, i + 500).map((line, k) => ({ receivedAt: 5000 + i + k, lines: [line] })))
    const got: string[] = []
    let batches = 0
    for (let b = await spool.read('primary', 15_000); b; b = await spool.read('primary', 15_000)) {
      batches++
      expect(b.count).toBe(batchLines(b).length)
      expect(b.lastSeq).toBe(got.length + b.count)
      expect(b.oldestReceivedAt).toBe(5000 + got.length)
      got.push(...batchLines(b))
      spool.commit('primary', b.end)
    }
    expect(batches).toBe(2)
    expect(got).toEqual(expected)
    await spool.close()
  })

  it('a crash before a cursor is saved re-sends from the one saved before, never skips', async () => {
    const { spool, dir } = await open()
    spool.addCursor('primary')
    await spool.settled()
    await spool.append([rec(1), rec(2), rec(3)])
    const b = await spool.read('primary', 2)
    spool.commit('primary', b!.end)
    // kill -9 right after the commit: the cursor write may not have happened.
    const { spool: reopened } = await open({}, dir)
    reopened.addCursor('primary')
    const resent = await drainAll(reopened, 'primary')
    expect(resent.slice(-1)).toEqual([rec(3).lines[0]])
    expect([[rec(3).lines[0]], [rec(1).lines[0], rec(2).lines[0], rec(3).lines[0]]]).toContainEqual(resent)
    await reopened.close()
    await spool.close()
  })

  it('applies backpressure when full: append waits until a target drains, and nothing is dropped', async () => {
    const { spool } = await open({ maxBytes: 16 * 1024, segmentBytes: 4096 })
    spool.addCursor('primary')
    const big = (i: number) => ({ receivedAt: i, lines: [`reading,sensor=ph,station=s value=${i},pad="${'x'.repeat(900)}" ${i}`] })
    let n = 0
    while (!spool.full) await spool.append([big(n++)])
    let done = false
    const pending = spool.append([big(n++)]).then(() => (done = true))
    await new Promise((r) => setTimeout(r, 50))
    expect(done).toBe(false)
    expect(spool.stats().backpressureWaits).toBe(1)
    const lines = await drainAll(spool, 'primary')
    await pending
    expect(done).toBe(true)
    lines.push(...(await drainAll(spool, 'primary')))
    expect(lines).toHaveLength(n)
    await spool.close()
  })

  it('closes while full: the waiting append is rejected once, the parked group commit ends quietly (no unhandled rejection)', async () => {
    const unhandled: unknown[] = []
    const onUnhandled = (err: unknown): void => void unhandled.push(err)
    process.on('unhandledRejection', onUnhandled)
    try {
      const { spool } = await open({ maxBytes: 16 * 1024, segmentBytes: 4096 })
      spool.addCursor('primary')
      const big = (i: number) => ({ receivedAt: i, lines: [`reading,sensor=ph,station=s value=${i},pad="${'x'.repeat(900)}" ${i}`] })
      let n = 0
      while (!spool.full) await spool.append([big(n++)])
      const waiting = spool.append([big(n++)])
      const outcome = waiting.then(
        () => 'acknowledged',
        (err: Error) => err.message,
      )
      await new Promise((r) => setTimeout(r, 50))
      await spool.close()
      await new Promise((r) => setTimeout(r, 50))
      expect(await outcome).toBe('spool closed')
      expect(unhandled).toEqual([])
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
  })

  it('shares one byte limit between lanes: the backlog lane filling it holds the live lane, and its drain releases it', async () => {
    const capacity = new SpoolCapacity(16 * 1024)
    const lanes = []
    for (const name of ['backlog', 'live']) {
      const t = tempDir(`spool-${name}-`)
      dirs.push(t)
      const spool = await Spool.open({ dir: t.dir, maxBytes: 0, capacity, segmentBytes: 4096, log: silentLogger })
      spool.addCursor('primary')
      lanes.push(spool)
    }
    const [backlog, live] = lanes as [Spool, Spool]
    const big = (i: number) => ({ receivedAt: i, lines: [`reading,sensor=ph,station=s value=${i},pad="${'x'.repeat(900)}" ${i}`] })
    let n = 0
    while (!backlog.full) await backlog.append([big(n++)])
    expect(live.full).toBe(true)
    let done = false
    const pending = live.append([rec(1)]).then(() => (done = true))
    await new Promise((r) => setTimeout(r, 50))
    expect(done).toBe(false)
    expect(live.stats().backpressureWaits).toBe(1)
    expect(await drainAll(backlog, 'primary')).toHaveLength(n)
    await pending
    expect(await drainAll(live, 'primary')).toEqual(rec(1).lines)
    await Promise.all(lanes.map((l) => l.close()))
  })
})
