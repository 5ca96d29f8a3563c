import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../../core/config.ts'
import { silentLogger } from '../../core/log.ts'
import { openDatabase } from '../../core/sqlite.ts'
import { Registry } from '../../devices/registry.ts'
import { Ingest, type RecordSink } from '../../ingest/ingest.ts'
import { QuarantineStore } from '../../ingest/quarantine.ts'
import type { SpoolRecord } from '../../ingest/spool/spool.ts'

/**
 * The ingest keeps each station's registry context (enabled flag,
 * calibration) and asks the registry once per `contextTtlMs` whether
 * anything changed, instead of re-reading every station. A disable or a
 * recalibration must still apply within that interval, whether it was made
 * through the ingest's own registry connection or by another process (the
 * CLI). Real SQLite files; the spool is an in-memory record sink (the spool
 * has tests of its own).
 */
describe('ingest station context: reused until the registry changes', () => {
  let dir: string
  let registry: Registry
  let ingest: Ingest
  let now: number
  let lookups: number
  const stored: SpoolRecord[] = []

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tw-ctx-'))
    registry = Registry.open(join(dir, 'registry.sqlite'))
    await registry.add({ id: 'cm-ctx-01', name: 'ctx', lat: 9.1, lon: 105.1 })
    now = Date.now()
    lookups = 0
    stored.length = 0
    const sink: RecordSink = { append: async (records) => void stored.push(...records) }
    const counted = {
      context: (id: string) => {
        lookups++
        return registry.context(id)
      },
      contextVersion: () => registry.contextVersion(),
    }
    ingest = new Ingest({
      config: loadConfig({ env: {} }),
      stations: counted,
      spool: sink,
      quarantine: new QuarantineStore(openDatabase(join(dir, 'q.sqlite')), 1000, silentLogger),
      log: silentLogger,
      clock: () => now,
      contextTtlMs: 1000,
    })
  })
  afterEach(() => {
    registry.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const reading = (salinity: number): Buffer => Buffer.from(JSON.stringify({ ts: now, values: { salinity } }))

  it('reads a station once while nothing changes', async () => {
    for (let i = 0; i < 50; i++) {
      now += 500
      expect((await ingest.handle('cm-ctx-01', reading(5))).accepted).toBe(1)
    }
    expect(lookups).toBe(1)
  })

  it('a disable through the same connection applies within the interval', async () => {
    expect((await ingest.handle('cm-ctx-01', reading(5))).accepted).toBe(1)
    registry.setEnabled('cm-ctx-01', false)
    now += 1000
    const out = await ingest.handle('cm-ctx-01', reading(5))
    expect(out.accepted).toBe(0)
    expect(out.rejected[0]?.reason).toBe('STATION_DISABLED')
  })

  it('a recalibration by another process (a second connection) applies within the interval', async () => {
    expect((await ingest.handle('cm-ctx-01', reading(5))).accepted).toBe(1)
    const cli = Registry.open(join(dir, 'registry.sqlite'))
    cli.setCalibration('cm-ctx-01', 'salinity', { offset: 1, scale: 1 })
    cli.close()
    now += 1000
    await ingest.handle('cm-ctx-01', reading(5))
    expect(stored.at(-1)?.lines[0]).toMatch(/salinity=6\.0,salinity_raw=5\.0,/)
  })

  it('a station registered after its first refused reading is accepted within the interval', async () => {
    const first = await ingest.handle('cm-ctx-02', reading(5))
    expect(first.rejected[0]?.reason).toBe('STATION_UNKNOWN')
    await registry.add({ id: 'cm-ctx-02', name: 'ctx 2', lat: 9.1, lon: 105.1 })
    now += 1000
    expect((await ingest.handle('cm-ctx-02', reading(5))).accepted).toBe(1)
  })
})
