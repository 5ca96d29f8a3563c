import { render } from '../../alerts/templates.ts'
import type { Station } from '../../devices/registry.ts'
import type { RuleLookup } from './data.ts'

/**
 * A sample of the SMS a farmer gets from a station, worded by the alerter's
 * own templates (alerts/templates.ts render()) with the station's rule in
 * force, so the board never shows a message the alerter would not send. The
 * sample is the most severe salinity level (else the first sensor with
 * levels), at a value 10 % past its limit, without diacritics: what most
 * farmers' phones receive (alerts config defaultDiacritics).
 */
export function sampleMessages(rules: RuleLookup, opts: { diacritics: boolean; clock?: () => number }): (station: Station) => string | null {
  const clock = opts.clock ?? Date.now
  return (station) => {
    const kinds = [...new Set(['salinity', ...station.sensors.map((x) => x.kind)])].filter((k) => station.sensors.some((x) => x.kind === k))
    for (const sensor of kinds) {
      const rule = rules.get(station.id, sensor)
      const level = rule && rule.enabled !== false ? rule.levels.at(-1) : undefined
      if (!level || !level.notifyFarmers) continue
      const above = level.direction !== 'below'
      const limit = level.direction === 'outside' ? level.high! : level.threshold
      const value = Math.round(limit * (above ? 1.1 : 0.9) * 10) / 10
      return render(
        { kind: 'alert', station: { id: station.id, name: station.name, zone: station.zone, code: station.code }, sensor, level, side: above ? 'above' : 'below', value, threshold: limit, ts: clock(), trend: 'up' },
        { lang: 'vi', diacritics: opts.diacritics },
      ).text
    }
    return null
  }
}
