import { appendFileSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openOutbox } from '../../firmware-sim/outbox.ts'
import { log, tempDir } from './helpers.ts'

type Body = { n: number }

describe('outbox', () => {
  const dirs: Array<{ cleanup(): void }> = []
  const fresh = () => {
    const d = tempDir()
    dirs.push(d)
    return join(d.dir, 'st-1')
  }
  afterEach(() => {
    for (const d of dirs.splice(0)) d.cleanup()
  })

  it('keeps unacked records across a reopen and continues ids', () => {
    const dir = fresh()
    const a = openOutbox<Body>({ dir, log })
    for (let i = 0; i < 10; i++) a.append((id) => ({ n: id * 10 }))
    expect(a.ack(4)).toBe(4)
    a.close() // the process "dies" here
    const b = openOutbox<Body>({ dir, log })
    expect(b.size()).toBe(6)
    expect(b.peek(100).map((r) => r.id)).toEqual([5, 6, 7, 8, 9, 10])
    expect(b.peek(1)[0]!.body).toEqual({ n: 50 })
    expect(b.append(() => ({ n: 0 })).id).toBe(11)
    b.close()
  })

  it('continues ids after everything was acked and the log compacted', () => {
    const dir = fresh()
    const a = openOutbox<Body>({ dir, log, compactAfter: 4 })
    for (let i = 0; i < 10; i++) a.append((id) => ({ n: id }))
    a.ack(10)
    a.close()
    const b = openOutbox<Body>({ dir, log })
    expect(b.size()).toBe(0)
    expect(b.append(() => ({ n: 0 })).id).toBe(11)
    b.close()
  })

  it('ignores a truncated last line (kill -9 mid-write) and appends cleanly after it', () => {
    const dir = fresh()
    const a = openOutbox<Body>({ dir, log })
    for (let i = 0; i < 3; i++) a.append((id) => ({ n: id }))
    a.close()
    appendFileSync(join(dir, 'outbox.log'), '{"id":4,"b":{"n"') // torn write
    const b = openOutbox<Body>({ dir, log })
    expect(b.stats().corruptLines).toBe(1)
    expect(b.peek(10).map((r) => r.id)).toEqual([1, 2, 3])
    b.append((id) => ({ n: id }))
    b.close()
    const c = openOutbox<Body>({ dir, log })
    expect(c.peek(10).map((r) => r.body.n)).toEqual([1, 2, 3, 4])
    expect(c.stats().corruptLines).toBe(0)
    c.close()
  })

  it('survives a corrupt cursor by re-sending (duplicates, not loss)', () => {
    const dir = fresh()
    const a = openOutbox<Body>({ dir, log })
    for (let i = 0; i < 3; i++) a.append((id) => ({ n: id }))
    a.ack(2)
    a.close()
    writeFileSync(join(dir, 'cursor'), '{"ack')
    const b = openOutbox<Body>({ dir, log })
    expect(b.size()).toBe(3)
    b.close()
  })

  it('drops the oldest when full, counts it, and keeps the newest', () => {
    const dir = fresh()
    const a = openOutbox<Body>({ dir, log, maxRecords: 5 })
    for (let i = 0; i < 12; i++) a.append((id) => ({ n: id }))
    expect(a.size()).toBe(5)
    expect(a.stats().dropped).toBe(7)
    expect(a.peek(10).map((r) => r.id)).toEqual([8, 9, 10, 11, 12])
    a.close()
    const b = openOutbox<Body>({ dir, log, maxRecords: 5 })
    expect(b.peek(10).map((r) => r.id)).toEqual([8, 9, 10, 11, 12])
    b.close()
    // Reopened with a smaller capacity: the excess oldest are dropped on open.
    const c = openOutbox<Body>({ dir, log, maxRecords: 2 })
    expect(c.peek(10).map((r) => r.id)).toEqual([11, 12])
    expect(c.stats().dropped).toBe(3)
    c.close()
  })

  it('compacts the log so it does not grow without bound', () => {
    const dir = fresh()
    const a = openOutbox<Body>({ dir, log, maxRecords: 100, compactAfter: 50 })
    for (let i = 0; i < 1000; i++) {
      const { id } = a.append((n) => ({ n }))
      if (i % 3 === 0) a.ack(id - 1)
    }
    const lines = readFileSync(join(dir, 'outbox.log'), 'utf8').trim().split('\n').length
    expect(lines).toBeLessThanOrEqual(a.size() + 50)
    const pending = a.peek(1000).map((r) => r.id)
    a.close()
    const b = openOutbox<Body>({ dir, log, maxRecords: 100 })
    expect(b.peek(1000).map((r) => r.id)).toEqual(pending)
    b.close()
  })
})
