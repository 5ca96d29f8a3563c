import { afterAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { Registry } from '../../devices/registry.ts'
import { Engine, type Transition } from '../../alerts/engine.ts'
import { migrateAlerts } from '../../alerts/store.ts'
import { RuleBook } from '../../levels/book.ts'
import { alarmLevelsRule } from '../../levels/zones.ts'
import { DEMO_STATIONS, demoProfile } from '../../firmware-sim/demo-stations.ts'
import { sampleSignals, SALINITY_SENSORS } from '../../firmware-sim/signals.ts'
import { createRng } from '../../firmware-sim/prng.ts'
import { reading, tempDir } from '../alerts/helpers.ts'

/**
 * Is the demo province believable? A year of the simulator's signals for the
 * five demo stations, every 15 minutes, through the real alert engine with
 * each station's zone and BĐ levels (SQLite registry and state on disk).
 * Advice that fires every day at normal water makes farmers stop reading.
 */
const YEAR_START = Date.parse('2026-01-01T00:00:00+07:00')
// 30-minute steps keep the year under a minute on two cores; stations report every 15 minutes in the field.
const STEP = 30 * 60_000
const STEPS = (365 * 86_400_000) / STEP

describe('the demo province over a simulated year', () => {
  const tmp = tempDir()
  afterAll(() => tmp.cleanup())

  it('alerts fit each station’s zone and season', async () => {
    let now = YEAR_START
    const registry = Registry.open(join(tmp.dir, 'year.db'))
    migrateAlerts(registry.db)
    const rules = new RuleBook(registry.db, registry, () => now)
    for (const s of DEMO_STATIONS) {
      await registry.add({ id: s.id, name: s.name, lat: s.lat, lon: s.lon, zone: s.zone, code: s.code })
      if (s.alarmLevels) rules.set(s.id, 'water_level', alarmLevelsRule(s.alarmLevels), now)
    }
    const engine = new Engine(registry.db, rules, { staleAfterMs: 30 * 60_000 })
    const rng = createRng(7)
    const fired: Transition[] = []
    // Time at each level, per station and sensor: readings counted at their state after evaluation.
    const farmerFiring = new Map<string, number>()
    for (let i = 0; i < STEPS; i++) {
      now = YEAR_START + i * STEP
      if (i % 96 === 0) rules.sync()
      for (const s of DEMO_STATIONS) {
        // The conductivity station's salinity is derived by the ingest; here the same value is taken directly.
        const values = sampleSignals({ ...demoProfile(s), sensors: SALINITY_SENSORS }, now, rng).values
        const out = engine.evaluate(reading(s.id, now, values), now)
        for (const t of out) if (t.to === 'firing') fired.push(t)
        for (const sensor of ['salinity', 'ph', 'no2', 'water_level']) {
          const st = engine.state(s.id, sensor, 'level')
          if (st?.status === 'firing') farmerFiring.set(`${s.id}|${sensor}|${st.level}`, (farmerFiring.get(`${s.id}|${sensor}|${st.level}`) ?? 0) + 1)
        }
      }
    }
    const share = (key: string) => (farmerFiring.get(key) ?? 0) / STEPS
    const summary = [...farmerFiring.entries()].map(([k, n]) => `${k} ${((100 * n) / STEPS).toFixed(1)}%`).sort()
    console.log(`demo year, share of time firing:\n  ${summary.join('\n  ')}`)
    const byStation = (id: string) => fired.filter((t) => t.station === id)

    // Brackish shrimp water at its normal 10–30 ‰ raises no salinity alert at all
    // most of the year, and never "danger" from ordinary tides.
    for (const id of ['cm-songdoc-01', 'cm-tanthuan-01', 'cm-namcan-01']) {
      expect(share(`${id}|salinity|danger`), id).toBe(0)
      expect(share(`${id}|salinity|warning`), id).toBeLessThan(0.05)
    }
    const farmerAlerts = new Map<string, number>()
    for (const t of fired) if (t.level.notifyFarmers) farmerAlerts.set(`${t.station} ${t.sensor} ${t.level.name}`, (farmerAlerts.get(`${t.station} ${t.sensor} ${t.level.name}`) ?? 0) + 1)
    console.log(`farmer-facing alerts in the year: ${JSON.stringify(Object.fromEntries(farmerAlerts))}`)
    // The rice canal near the city warns only in the salt season (January–July), never in the rains.
    const citySalt = byStation('cm-camau-01').filter((t) => t.sensor === 'salinity')
    expect(citySalt.length).toBeGreaterThan(0)
    // …and not at every high tide: a handful of incidents a season, not hundreds.
    expect(farmerAlerts.get('cm-camau-01 salinity warning') ?? 0).toBeLessThan(30)
    for (const t of citySalt) expect(new Date(t.at + 7 * 3600_000).getUTCMonth() + 1, 'month of a rice salinity alert').toBeOneOf([1, 2, 3, 4, 5, 6, 7])
    // The cape station is monitoring: its rules never ask for a farmer SMS.
    expect(byStation('cm-datmui-01').every((t) => !t.level.notifyFarmers)).toBe(true)
    // Gauges with official alarm levels reach BĐ1 on some spring tides, not every day.
    for (const id of ['cm-namcan-01', 'cm-camau-01', 'cm-songdoc-01']) {
      const days = new Set(byStation(id).filter((t) => t.sensor === 'water_level' && t.level.name.startsWith('bd')).map((t) => Math.floor((t.at + 7 * 3600_000) / 86_400_000)))
      expect(days.size, `${id}: days at or above BĐ1`).toBeGreaterThan(0)
      expect(days.size, `${id}: days at or above BĐ1`).toBeLessThan(120)
    }
    // pH and nitrite alerts stay rare at every station.
    for (const s of DEMO_STATIONS) for (const sensor of ['ph', 'no2']) {
      const n = byStation(s.id).filter((t) => t.sensor === sensor && t.level.notifyFarmers).length
      expect(n, `${s.id} ${sensor} farmer alerts in a year`).toBeLessThan(40)
    }
    registry.close()
  }, 300_000)
})
