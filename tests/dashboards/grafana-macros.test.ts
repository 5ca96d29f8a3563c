import { describe, expect, it } from 'vitest'
import { calculateInterval, expandQuery, interpolateVariables, roundInterval, secondsToHms } from './grafana-macros.ts'

// The expander is itself test code the query tests rely on, so pin its behaviour to Grafana's.
describe('Grafana InfluxQL macro expansion (test helper)', () => {
  const range = { from: 1700000000000, to: 1700003600000 }

  it('renders $timeFilter like the InfluxQL backend', () => {
    expect(expandQuery('SELECT 1 FROM x WHERE $timeFilter', { range, vars: {}, resolution: 1000 })).toBe(
      'SELECT 1 FROM x WHERE time >= 1700000000000ms and time <= 1700003600000ms',
    )
  })

  it('computes $__interval from range and width, bounded by the panel min interval', () => {
    // 1 h over 1000 px = 3.6 s -> rounds to 5 s
    expect(calculateInterval(range, 1000)).toEqual({ ms: 5000, text: '5s' })
    expect(calculateInterval(range, 1000, '15m')).toEqual({ ms: 900000, text: '15m' })
    // 180 d over 1000 px = 4.3 h -> 3 h
    expect(roundInterval((86_400_000 * 180) / 1000)).toBe(10_800_000)
    expect(secondsToHms(90)).toBe('1m')
    expect(expandQuery('GROUP BY time($__interval) -- $__interval_ms', { range, vars: {}, resolution: 1000, minInterval: '1m' })).toBe(
      'GROUP BY time(1m) -- 60000',
    )
  })

  it('writes multi-value and All selections as an escaped regex group', () => {
    const vars = { station: { value: ['a', 'b.c'], multi: true, includeAll: true } }
    expect(interpolateVariables('"station" =~ /^$station$/', vars)).toBe('"station" =~ /^(a|b\\.c)$/')
    expect(interpolateVariables('"station" =~ /^${station}$/', vars)).toBe('"station" =~ /^(a|b\\.c)$/')
    expect(interpolateVariables('"station" =~ /^[[station]]$/', vars)).toBe('"station" =~ /^(a|b\\.c)$/')
    expect(interpolateVariables('/^$station$/', { station: { value: ['x/y'], multi: true, includeAll: false } })).toBe('/^x\\/y$/')
  })

  it('leaves single values raw and $tag_ aliases and unknown names alone', () => {
    expect(interpolateVariables("'$station' $tag_station $timeFilter", { station: { value: 'CM-1', multi: false, includeAll: false } })).toBe(
      "'CM-1' $tag_station $timeFilter",
    )
  })
})
