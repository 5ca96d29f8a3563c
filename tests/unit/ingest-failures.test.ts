import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../../core/config.ts'
import { silentLogger } from '../../core/log.ts'
import { openDatabase } from '../../core/sqlite.ts'
import { Ingest, type RecordSink } from '../../ingest/ingest.ts'
import { QuarantineStore } from '../../ingest/quarantine.ts'

/**
 * What the broker's gate relies on: Ingest.handle() never throws, it returns
 * a promise that rejects when the payload cannot be made durable, so the
 * PUBACK is withheld and aedes is never handed an exception. Whatever the
 * payload held (the in-flight byte budget, the in-flight count) is given
 * back exactly once. Real SQLite quarantine; the spool is a record sink
 * that can be made to fail (the spool has tests of its own).
 */
describe('ingest: a failure before the spool answers is a rejection, and releases what the payload held (spool replaced by a record sink made to fail)', () => {
  let dir: string
  let quarantine: QuarantineStore
  let spoolFails: boolean
  const sink: RecordSink = { append: async () => (spoolFails ? Promise.reject(new Error('disk full')) : undefined) }
  const station = { id: 'cm-fail-01', enabled: true, calibration: {} }
  const reading = (): Buffer => Buffer.from(JSON.stringify({ ts: Date.now(), values: { salinity: 4.2 } }))

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tw-ingest-fail-'))
    quarantine = new QuarantineStore(openDatabase(join(dir, 'q.sqlite')), 1000, silentLogger)
    spoolFails = false
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  const ingestWith = (clock: () => number): Ingest =>
    new Ingest({ config: loadConfig({ env: {} }), stations: { context: () => station }, spool: sink, quarantine, log: silentLogger, clock })

  it('a clock that throws: handle() rejects instead of throwing, and nothing stays in flight', async () => {
    let broken = true
    const ingest = ingestWith(() => {
      if (broken) throw new Error('clock broke')
      return Date.now()
    })
    let returned: Promise<unknown> | undefined
    expect(() => (returned = ingest.handle(station.id, reading()))).not.toThrow()
    await expect(returned).rejects.toThrow('clock broke')
    expect(ingest.counters.inFlight).toBe(0)
    broken = false
    await expect(ingest.handle(station.id, reading())).resolves.toMatchObject({ accepted: 1 })
  })

  it('a spool that cannot write: handle() rejects, the budget is given back, and the next payload goes through', async () => {
    const ingest = ingestWith(Date.now)
    spoolFails = true
    // More payloads than the live lane's in-flight budget holds at once, so a budget not given back would stall the last ones.
    const big = Buffer.from(JSON.stringify({ ts: Date.now(), values: { salinity: 4.2 }, pad: 'x'.repeat(3000) }))
    const failed = await Promise.allSettled(Array.from({ length: 2000 }, () => ingest.handle(station.id, big)))
    expect(failed.every((r) => r.status === 'rejected')).toBe(true)
    expect(ingest.counters.inFlight).toBe(0)
    spoolFails = false
    await expect(ingest.handle(station.id, reading())).resolves.toMatchObject({ accepted: 1 })
    expect(ingest.counters.readingsAccepted).toBe(1)
  })
})
