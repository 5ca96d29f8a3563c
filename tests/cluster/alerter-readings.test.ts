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
    // The legacy schema (one `reading` line per value) from an edge not yet upgraded is read too.
    const legacy = ['reading,sensor=salinity,station=CM04 value=3.5,raw=3.4,late=false,delay_s=2.0,seq=7i 1700000120000', 'reading,sensor=ph,station=CM04 value=7.5,raw=7.5,late=false,delay_s=2.0,seq=7i,flags="a,b" 1700000120000']
    const body = [...readingLines(a), ...readingLines(b), 'station_reading,station=CM03 salinity=oops 1', ...legacy].join('\n')
    const { readings, malformed } = readingsFromBody(body)
    expect(malformed).toBe(1)
    expect(readings).toEqual([
      { stationId: a.stationId, ts: a.ts, receivedAt: a.receivedAt, seq: 42, late: false, values: a.values },
      { stationId: 'CM02', ts: b.ts, receivedAt: b.receivedAt, late: true, values: b.values },
      {
        stationId: 'CM04',
        ts: 1_700_000_120_000,
        receivedAt: 1_700_000_122_000,
        seq: 7,
        late: false,
        values: [
          { sensor: 'salinity', value: 3.5, raw: 3.4, flags: [] },
          { sensor: 'ph', value: 7.5, raw: 7.5, flags: ['a', 'b'] },
        ],
      },
    ])
  })
})
