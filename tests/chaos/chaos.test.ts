/**
 * The short version of every chaos scenario (issue 3), inside `npm test`:
 * real influxd, real `tidewatch up` / `tidewatch ingest` child processes,
 * real MQTT station clients, counted in InfluxDB. Small station counts and
 * outages of a few seconds; `npm run chaos` runs the full versions.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { findInfluxd } from '../../influx/managed.ts'
import { scenarios } from './scenarios.ts'
import type { ScenarioContext } from './lib/harness.ts'

const root = mkdtempSync(join(tmpdir(), 'tidewatch-chaos-test-'))
const ctx: ScenarioContext = { root, mode: 'test', say: () => undefined }

afterAll(() => rmSync(root, { recursive: true, force: true }))

describe.skipIf(!findInfluxd())('chaos (short versions)', () => {
  for (const scenario of scenarios) {
    it(`${scenario.id}. ${scenario.name}: nothing acknowledged is lost`, async () => {
      const r = await scenario.run(ctx)
      // Counted in InfluxDB, not taken from the process's counters.
      expect(r.acknowledged).toBeGreaterThan(0)
      expect({ lost: r.lost, lostSample: r.lostSample }).toEqual({ lost: 0, lostSample: [] })
      expect(r.stored).toBe(r.acknowledged)
      expect(r.phantom).toBe(0)
      if (scenario.id === 6) expect(r.drMatches).toBe(true)
      expect(r.failures).toEqual([])
    }, 120_000)
  }
})
