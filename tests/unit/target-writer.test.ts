import { afterEach, describe, expect, it } from 'vitest'
import { silentLogger } from '../../core/log.ts'
import type { WriteTransport } from '../../influx/write-transport.ts'
import { TargetWriter } from '../../ingest/sink/target-writer.ts'
import { Spool } from '../../ingest/spool/spool.ts'
import { tempDir } from '../helpers/platform.ts'

const dirs: Array<{ cleanup(): void }> = []
afterEach(() => dirs.splice(0).forEach((d) => d.cleanup()))

/**
 * The commit order of pipelined writes, which a real InfluxDB cannot be made
 * to exercise on cue: the transport is scripted (no InfluxDB), so the second
 * batch can succeed while the first is still pending and then fails.
 */
describe('target writer with two writes in flight (scripted transport, no InfluxDB)', () => {
  it('never commits past a failed batch, re-sends it, and ends with every line written', async () => {
    const t = tempDir('writer-')
    dirs.push(t)
    const spool = await Spool.open({ dir: t.dir, maxBytes: 1 << 30, segmentBytes: 1 << 20, log: silentLogger })
    const stored = new Set<string>()
    const commitsSeen: number[] = []
    let call = 0
    let releaseFirst: (() => void) | undefined
    const transport: WriteTransport = {
      name: 'primary',
      async ensureDatabase() {},
      async write(lines) {
        call++
        if (call === 1) {
          // The oldest batch hangs, the next one succeeds meanwhile, then the oldest fails.
          await new Promise<void>((r) => (releaseFirst = r))
          throw new Error('connection reset')
        }
        if (call === 2) setTimeout(() => releaseFirst?.(), 20)
        for (const l of lines) stored.add(l)
      },
      writeBody(body) {
        return this.write(body.toString('utf8').split('\n'))
      },
    }
    const writer = new TargetWriter(spool, transport, { batchPoints: 10, flushIntervalMs: 5, writesInFlight: 2, minBackoffMs: 1, maxBackoffMs: 5, random: () => 0.5 }, silentLogger)
    const commit = spool.commit.bind(spool)
    spool.commit = (name, end) => {
      commitsSeen.push(end.seq)
      commit(name, end)
    }
    await spool.append(Array.from({ length: 35 }, (_, i) => ({ receivedAt: 1000 + i, lines: [`reading,station=s value=${i} ${i}`] })))
    writer.start()
    expect(await writer.drained(5000)).toBe(true)
    await writer.stop()
    await spool.close()

    expect(stored.size).toBe(35)
    // Commits only move forward, and the first commit covers the first batch, after its re-send.
    expect(commitsSeen).toEqual([...commitsSeen].sort((a, b) => a - b))
    expect(commitsSeen[0]).toBe(10)
    expect(call).toBeGreaterThan(4)
    expect(writer.stats()).toMatchObject({ writeErrors: 1, writtenPoints: 35, lagReadings: 0 })
  })
})
