import { afterAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { Registry } from '../../devices/registry.ts'
import { Engine } from '../../alerts/engine.ts'
import { migrateAlerts } from '../../alerts/store.ts'
import { AlertsConfigSchema } from '../../core/alerts-config.ts'
import { RuleBook } from '../../levels/book.ts'
import { alarmLevelsRule, allZoneRules, ZONES, zoneRule } from '../../levels/zones.ts'
import { isPast, levelOfValue, sideOf, SensorRuleSchema } from '../../levels/rules.ts'
import { openAlerter, reading, tempDir } from '../alerts/helpers.ts'

/**
 * Zones and rule resolution against the real registry database (SQLite on
 * disk, two connections like `tidewatch up` and the CLI), and the alert
 * engine's below/outside/swing/BĐ ladders with hysteresis.
 */
const APRIL = Date.parse('2026-04-10T03:00:00Z')
const SEPTEMBER = Date.parse('2026-09-10T03:00:00Z')
const M = 15 * 60_000

describe('water-use zones', () => {
  const tmp = tempDir()
  afterAll(() => tmp.cleanup())

  async function book(file: string, clock = () => SEPTEMBER) {
    const registry = Registry.open(file)
    migrateAlerts(registry.db)
    return { registry, rules: new RuleBook(registry.db, registry, clock) }
  }

  it('resolves station override, then zone rule, then built-in', async () => {
    const { registry, rules } = await book(join(tmp.dir, 'resolve.db'))
    await registry.add({ id: 'POND', name: 'Ao tôm', lat: 8.9, lon: 105.3, zone: 'brackish_aquaculture' })
    await registry.add({ id: 'RICE', name: 'Ruộng lúa', lat: 9.2, lon: 105.1 })
    expect(registry.get('RICE')!.zone).toBe('rice')

    expect(rules.explain('POND', 'salinity')).toMatchObject({ source: 'zone_default', zone: 'brackish_aquaculture' })
    expect(rules.get('POND', 'salinity')!.levels[0]).toMatchObject({ direction: 'outside', threshold: 5, high: 35 })
    expect(rules.get('RICE', 'salinity')!.levels.map((l) => [l.name, l.threshold])).toEqual([['warning', 2], ['danger', 4]])

    // A stored zone rule beats the zone's built-in.
    rules.set('zone:brackish_aquaculture', 'salinity', { levels: [{ name: 'warning', severity: 'warning', direction: 'outside', threshold: 8, high: 30 }] }, SEPTEMBER)
    expect(rules.explain('POND', 'salinity')).toMatchObject({ source: 'zone' })
    expect(rules.get('POND', 'salinity')!.levels[0]!.threshold).toBe(8)
    expect(rules.explain('RICE', 'salinity')!.source).toBe('zone_default')

    // A station override beats both.
    rules.set('POND', 'salinity', { levels: [{ name: 'warning', severity: 'warning', direction: 'above', threshold: 25 }] }, SEPTEMBER)
    expect(rules.explain('POND', 'salinity')).toMatchObject({ source: 'station' })
    expect(rules.get('POND', 'salinity')!.levels[0]!.threshold).toBe(25)

    // Built-in last: a sensor no zone has a rule for takes the stored default.
    expect(rules.get('POND', 'temperature')).toBeNull()
    rules.set('default', 'temperature', { levels: [{ name: 'warning', severity: 'warning', direction: 'above', threshold: 35 }] }, SEPTEMBER)
    expect(rules.explain('POND', 'temperature')).toMatchObject({ source: 'default' })

    // Removing the override falls back to the zone rule again.
    rules.remove('POND', 'salinity')
    expect(rules.get('POND', 'salinity')!.levels[0]!.threshold).toBe(8)
    expect(() => rules.set('zone:mangrove', 'salinity', { levels: [] }, SEPTEMBER)).toThrow(/unknown zone/)
    registry.close()
  })

  it('follows a zone change made in this process and one committed by another connection (the CLI)', async () => {
    const file = join(tmp.dir, 'change.db')
    const { registry, rules } = await book(file)
    await registry.add({ id: 'S1', name: 'Trạm', lat: 9, lon: 105, zone: 'rice' })
    const g0 = rules.generation
    expect(rules.get('S1', 'salinity')!.levels[0]!.direction).toBe('above')
    registry.update('S1', { zone: 'brackish_aquaculture' })
    expect(rules.generation).not.toBe(g0)
    expect(rules.get('S1', 'salinity')!.levels[0]!.direction).toBe('outside')

    const cli = Registry.open(file)
    cli.update('S1', { zone: 'water_supply' })
    cli.close()
    const g1 = rules.generation
    rules.sync()
    expect(rules.generation).not.toBe(g1)
    expect(rules.get('S1', 'salinity')!.levels.at(-1)!.threshold).toBe(0.45)
    expect(() => registry.update('S1', { zone: 'mangrove' as never })).toThrow(/unknown zone/)
    registry.close()
  })

  it('switches a rice–shrimp field between its shrimp and rice seasons by local month', async () => {
    let now = APRIL
    const { registry, rules } = await book(join(tmp.dir, 'season.db'), () => now)
    await registry.add({ id: 'TL', name: 'Tôm–lúa', lat: 9.3, lon: 105.1, zone: 'rice_shrimp' })
    rules.sync()
    const april = rules.get('TL', 'salinity')!
    expect(levelOfValue(april.levels, 12)).toBeNull() // 12 ‰ is normal for the shrimp crop
    now = SEPTEMBER
    const g = rules.generation
    rules.sync()
    expect(rules.generation).not.toBe(g)
    expect(levelOfValue(rules.get('TL', 'salinity')!.levels, 12)?.severity).toBe('danger') // and a danger to rice
    registry.close()
  })

  it('has a rule for every core sensor in every zone and season, each valid', () => {
    for (const zone of ZONES) for (const m of [1, 4, 8, 12]) for (const s of ['salinity', 'ph', 'no2', 'water_level']) expect(zoneRule(zone, s, m), `${zone} ${s} ${m}`).not.toBeNull()
    for (const r of allZoneRules()) expect(SensorRuleSchema.safeParse(r.rule).success).toBe(true)
  })

  it('refuses a malformed outside level', () => {
    expect(SensorRuleSchema.safeParse({ levels: [{ name: 'w', severity: 'warning', direction: 'outside', threshold: 10 }] }).success).toBe(false)
    expect(SensorRuleSchema.safeParse({ levels: [{ name: 'w', severity: 'warning', direction: 'outside', threshold: 10, high: 5 }] }).success).toBe(false)
    expect(SensorRuleSchema.safeParse({ levels: [{ name: 'w', severity: 'warning', direction: 'above', threshold: 10, high: 20 }] }).success).toBe(false)
  })
})

describe('below, outside, swing and BĐ ladders with hysteresis', () => {
  const tmp = tempDir()
  afterAll(() => tmp.cleanup())

  let n = 0
  async function engineFor(zone: 'rice' | 'brackish_aquaculture', t0: number) {
    const registry = Registry.open(join(tmp.dir, `${zone}-${n++}.db`))
    migrateAlerts(registry.db)
    await registry.add({ id: 'S', name: 'Trạm', lat: 9, lon: 105, zone })
    const rules = new RuleBook(registry.db, registry, () => t0)
    return { registry, rules, engine: new Engine(registry.db, rules, { staleAfterMs: 30 * 60_000 }) }
  }

  const step = (e: Engine, t: number, values: Record<string, number>) =>
    e.evaluate(reading('S', t, values), t).map((x) => `${x.ladder}:${x.to}:${x.level.name}:${x.side}`)

  it('fires and clears a below level (pH) only past its clear value', async () => {
    const { engine, registry } = await engineFor('rice', SEPTEMBER)
    let t = SEPTEMBER
    expect(step(engine, (t += M), { ph: 7.2 })).toEqual([])
    expect(step(engine, (t += M), { ph: 5.9 })).toEqual(['level:pending:ph_low:below'])
    expect(step(engine, (t += M), { ph: 5.8 })).toEqual(['level:firing:ph_low:below'])
    expect(step(engine, (t += M), { ph: 6.1 })).toEqual([]) // above 6.0, below its clear 6.2: held
    const resolved = engine.evaluate(reading('S', (t += M), { ph: 6.4 }), t)
    expect(resolved.map((x) => `${x.to}:${x.level.name}:${x.side}:${x.threshold}`)).toEqual(['resolved:ph_low:below:6.2'])
    registry.close()
  })

  it('a brackish pond at 18 ‰ is normal; falling fresh fires the low side, rising hypersaline the high side, each with hysteresis', async () => {
    const { engine, registry } = await engineFor('brackish_aquaculture', SEPTEMBER)
    let t = SEPTEMBER
    for (let i = 0; i < 4; i++) expect(step(engine, (t += M), { salinity: 18 + (i % 2) })).toEqual([])
    // Heavy rain: down to 4.5 ‰ (below 5) within hours; the swing rule sees the 14 ‰ fall too.
    expect(step(engine, (t += M), { salinity: 4.5 })).toEqual(['level:pending:warning:below', 'rise:firing:change:above'])
    expect(step(engine, (t += M), { salinity: 4.4 })).toEqual(['level:firing:warning:below'])
    expect(step(engine, (t += M), { salinity: 5.6 })).toEqual([]) // past 5, short of its clear 6: held
    expect(step(engine, (t += M), { salinity: 1.9 })).toEqual([]) // an escalation is pending silently while the warning fires
    expect(step(engine, (t += M), { salinity: 1.8 })).toEqual(['level:firing:danger:below'])
    expect(step(engine, (t += M), { salinity: 2.2 })).toEqual([]) // danger clears only at 2.5
    expect(step(engine, (t += M), { salinity: 3 })).toEqual(['level:firing:warning:below']) // de-escalates
    expect(step(engine, (t += M), { salinity: 6.5 })).toEqual(['level:resolved:warning:below'])
    // Dry season: hypersaline.
    const hi = engine.evaluate(reading('S', (t += 2 * 86_400_000), { salinity: 35.5 }), t)
    expect(hi.filter((x) => x.ladder === 'level').map((x) => `${x.to}:${x.side}:${x.threshold}`)).toEqual(['pending:above:35'])
    expect(step(engine, (t += M), { salinity: 35.8 })).toEqual(['level:firing:warning:above'])
    expect(step(engine, (t += M), { salinity: 34.5 })).toEqual([]) // clearHigh is 34
    expect(step(engine, (t += M), { salinity: 33 })).toEqual(['level:resolved:warning:above'])
    registry.close()
  })

  it('fires every BĐ alarm level a tide reaches, on one reading each', async () => {
    const { engine, rules, registry } = await engineFor('brackish_aquaculture', SEPTEMBER)
    rules.set('S', 'water_level', alarmLevelsRule({ bd1: 140, bd2: 150, bd3: 160 }), SEPTEMBER)
    let t = SEPTEMBER
    expect(step(engine, (t += M), { water_level: 120 })).toEqual([])
    expect(step(engine, (t += M), { water_level: 141 })).toEqual(['level:firing:bd1:above'])
    expect(step(engine, (t += M), { water_level: 152 })).toEqual(['level:firing:bd2:above'])
    expect(step(engine, (t += M), { water_level: 171 })).toEqual(['level:firing:bd3:above'])
    expect(step(engine, (t += M), { water_level: 156 })).toEqual([]) // 5 cm hysteresis
    expect(step(engine, (t += M), { water_level: 130 })).toEqual(['level:resolved:bd3:above'])
    registry.close()
  })

  it('sides and pure levels of single values', () => {
    const band = SensorRuleSchema.parse({ levels: [{ name: 'w', severity: 'warning', direction: 'outside', threshold: 5, high: 35 }] }).levels[0]!
    expect([isPast(band, 4), isPast(band, 20), isPast(band, 36)]).toEqual([true, false, true])
    expect([sideOf(band, 4), sideOf(band, 36), sideOf(band, 30)]).toEqual(['below', 'above', 'above'])
  })
})

describe('monitoring stations are staff only', () => {
  const tmp = tempDir()
  afterAll(() => tmp.cleanup())

  it('queues no farmer SMS for a monitoring station, only staff', async () => {
    const now = SEPTEMBER
    const { registry, alerter } = await openAlerter(join(tmp.dir, 'mon.db'), AlertsConfigSchema.parse({}), () => now)
    await registry.add({ id: 'MUI', name: 'Mũi Cà Mau', lat: 8.6, lon: 104.7, zone: 'monitoring' }, now)
    alerter.subscribers.create({ phone: '0901111111', stations: ['MUI'] }, now)
    alerter.subscribers.create({ kind: 'staff', name: 'Trực ban', phone: '0902222222' }, now)
    alerter.onAccepted([reading('MUI', now - 2 * M, { salinity: 30 }), reading('MUI', now - M, { salinity: 31 })])
    alerter.flush()
    const to = alerter.messages({ limit: 100 }).map((m) => m.address)
    expect(alerter.incidents({ open: true }).length).toBeGreaterThan(0)
    expect(to).toContain('+84902222222')
    expect(to).not.toContain('+84901111111')
    await alerter.stop()
    registry.close()
  })
})

describe('docs/ALERTS.md', () => {
  it('lists every default threshold of every zone', async () => {
    const { readFileSync } = await import('node:fs')
    const doc = readFileSync(new URL('../../docs/ALERTS.md', import.meta.url), 'utf8')
    const table = doc.slice(doc.indexOf('### Default levels'), doc.indexOf('## States'))
    for (const { zone, sensor, rule } of allZoneRules()) {
      for (const l of rule.levels) {
        for (const n of [l.threshold, l.high].filter((x): x is number => x !== undefined)) {
          expect(table, `${zone} ${sensor} ${l.name} ${n}`).toMatch(new RegExp(`[≥≤ –]${String(n).replace('.', '\\.')}(?![0-9])`))
        }
      }
      if (rule.rise) expect(table, `${zone} ${sensor} rise`).toContain(`${rule.rise.delta} ‰ within`)
    }
  })
})
