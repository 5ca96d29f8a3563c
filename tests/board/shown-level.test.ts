/**
 * levels/status.ts shownLevel(): the pure decision behind the board, the
 * station pages and the open data's level fields. The pipeline tests
 * (levels.test.ts) cover it against real servers; these pin the cases a
 * pipeline cannot stage on demand, such as InfluxDB answering with an older
 * value than the one the alerter just resolved on.
 */
import { describe, expect, it } from 'vitest'
import { shownLevel, levelLines } from '../../levels/status.ts'
import { SensorRuleSchema } from '../../levels/rules.ts'
import { zoneRule } from '../../levels/zones.ts'

const rice = zoneRule('rice', 'salinity', 1)!
const shrimp = zoneRule('brackish_aquaculture', 'salinity', 1)!
const T = 1_800_000_000_000

describe('shownLevel', () => {
  it('without the alerter: the level of the latest value by the station’s rule', () => {
    expect(shownLevel(rice, { value: 4.2, ts: T }, undefined)?.status).toBe('danger')
    expect(shownLevel(shrimp, { value: 18, ts: T }, undefined)?.status).toBe('ok')
    expect(shownLevel(shrimp, { value: 3, ts: T }, undefined)).toMatchObject({ status: 'warning', level: { name: 'warning', direction: 'outside' } })
    expect(shownLevel(rice, undefined, undefined)).toBeNull()
  })

  it('holds a firing level inside its hysteresis, as the alerter does', () => {
    const firing = { firing: 'danger', riseFiring: null, value: 3.8, readingTs: T }
    expect(shownLevel(rice, { value: 3.8, ts: T }, firing)?.status).toBe('danger')
    expect(shownLevel(rice, { value: 3.8, ts: T }, { ...firing, firing: null })?.status).toBe('warning')
  })

  it('a resolved incident shows no danger even when InfluxDB still answers with the older value', () => {
    const resolved = { firing: null, riseFiring: null, value: 1, readingTs: T + 60_000 }
    expect(shownLevel(rice, { value: 5, ts: T }, resolved)).toMatchObject({ status: 'ok', value: 1, ts: T + 60_000 })
  })

  it('a firing level the rule no longer has (an override replaced it) holds nothing', () => {
    const override = SensorRuleSchema.parse({ levels: [{ name: 'warning', severity: 'warning', direction: 'above', threshold: 10 }] })
    expect(shownLevel(override, { value: 4.2, ts: T }, { firing: 'danger', riseFiring: null, value: 4.2, readingTs: T })?.status).toBe('ok')
  })

  it('a firing swing (change) raises a station to its severity and is named', () => {
    const shown = shownLevel(shrimp, { value: 18, ts: T }, { firing: null, riseFiring: 'change', value: 18, readingTs: T })
    expect(shown).toMatchObject({ status: 'warning', level: null, rise: { name: 'change' } })
  })

  it('draws both edges of an outside band', () => {
    expect(levelLines(shrimp).map((l) => [l.level.name, l.edge, l.value])).toEqual([
      ['warning', 'low', 5],
      ['warning', 'high', 35],
      ['danger', 'low', 2],
      ['danger', 'high', 40],
    ])
  })
})
