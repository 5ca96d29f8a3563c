/**
 * Regression for a wedge the chaos suite's spool-full scenario points at:
 * when the spool was full and every target had caught up inside the active
 * segment, the flush loop (parked waiting for space) blocked the roll that
 * would free that segment, so the spool stayed full and no PUBACK was ever
 * sent again. Real spool on a real disk; no fakes.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { silentLogger } from '../../core/log.ts'
import { batchLines, Spool } from '../../ingest/spool/spool.ts'

const dir = mkdtempSync(join(tmpdir(), 'tidewatch-spool-full-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

it('a full spool recovers once the target drains, with live appends still arriving, and keeps log order', async () => {
  const spool = await Spool.open({ dir, maxBytes: 64 * 1024, segmentBytes: 16 * 1024, log: silentLogger })
  spool.addCursor('primary')
  const line = (n: number): string => `reading,station=s,sensor=salinity value=1 ${String(n).padStart(13, '0')}${'x'.repeat(40)}`
  let n = 0
  // InfluxDB down: fill the spool.
  while (!spool.full) await spool.append([{ receivedAt: Date.now(), lines: [line(n++)] }])
  // Stations keep publishing while it is full; none of these may be lost or stuck.
  const acks: Array<Promise<void>> = []
  for (let i = 0; i < 600; i++) acks.push(spool.append([{ receivedAt: Date.now(), lines: [line(n++)] }]))
  // InfluxDB back: the writer drains while live traffic continues.
  const seen: number[] = []
  let settled = 0
  const track = (p: Promise<void>): void => void p.then(() => settled++)
  acks.forEach(track)
  for (let round = 0; round < 200 && settled < acks.length; round++) {
    for (let i = 0; i < 50 && round < 100; i++) {
      const p = spool.append([{ receivedAt: Date.now(), lines: [line(n++)] }])
      acks.push(p)
      track(p)
    }
    const batch = await spool.read('primary', 5000)
    if (batch) {
      for (const l of batchLines(batch)) seen.push(Number(l.split(' ')[2]!.slice(0, 13)))
      spool.commit('primary', batch.end)
    }
    await new Promise((r) => setTimeout(r, 10))
  }
  expect(settled).toBe(acks.length)
  for (;;) {
    const batch = await spool.read('primary', 5000)
    if (!batch) break
    for (const l of batchLines(batch)) seen.push(Number(l.split(' ')[2]!.slice(0, 13)))
    spool.commit('primary', batch.end)
  }
  expect(seen).toEqual(Array.from({ length: n }, (_, i) => i))
  await spool.close()
  // Segment names (their first seq) stay in log order across the roll.
  const names = readdirSync(dir).filter((f) => f.startsWith('seg-'))
  expect([...names].sort()).toEqual(names)
})
