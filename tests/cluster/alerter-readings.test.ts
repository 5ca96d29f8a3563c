import { describe, expect, it } from 'vitest'
import { readingsFromBody } from '../../cluster/alerter/readings.ts'
import type { AcceptedReading } from '../../core/reading.ts'
import { readingLines } from '../../ingest/points.ts'

/** The cluster alerter reads the readings log's line protocol back (cluster/alerter/readings.ts): what readingLines wrote, it gets back. */
describe('cluster alerter: readings from a log message', () => {
  it('round-trips readings, escaped station ids, flags, seq and lateness; skips health lines; counts a broken line', () => {
    const a: AcceptedReading = {
      stationId: 'CM 01,a=b',
      ts: 1_700_000_000_000,
      receivedAt: 1_700_000_001_500,
      seq: 42,
      late: false,
      battery: 3.9,
      values: [
        { sensor: 'salinity', value: 2.5, raw: 4.1, flags: ['derived_pss78', 'x"y'] },
        { sensor: 'water_level', value: 71, raw: 71, flags: [] },
      ],
    }
    const b: AcceptedReading = { stationId: 'CM02', ts: 1_700_000_060_000, receivedAt: 1_700_000_960_000, late: true, values: [{ sensor: 'ph', value: 7.2, raw: 7.2, flags: [] }] }
    const body = [...readingLines(a), ...readingLines(b), 'reading,sensor=salinity,station=CM03 value=oops 1'].join('\n')
    const { readings, malformed } = readingsFromBody(body)
    expect(malformed).toBe(1)
    expect(readings).toEqual([
      { stationId: a.stationId, ts: a.ts, receivedAt: a.receivedAt, seq: 42, late: false, values: a.values },
      { stationId: 'CM02', ts: b.ts, receivedAt: b.receivedAt, late: true, values: b.values },
    ])
  })
})
