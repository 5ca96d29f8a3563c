import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { Logger } from '../core/log.ts'
import type { Registry } from '../devices/registry.ts'
import { RuleBook } from '../levels/book.ts'
import { alarmLevelsRule } from '../levels/zones.ts'
import { DEMO_STATIONS } from '../firmware-sim/demo-stations.ts'
import type { StationCredentials } from '../firmware-sim/simulator.ts'

/**
 * Registers the five demo stations once and keeps their secrets in a 0600
 * file in the data dir, so the bundled simulator can log in as each of them
 * the way real firmware would. Missing secrets are re-issued by rotation.
 */
/**
 * `rules`: the running alerter's rule book, so the demo's BĐ levels apply to
 * its next reading (a second RuleBook on the same connection would not be
 * noticed by the alerter's); a fresh one when no alerter runs.
 */
export async function provisionDemoStations(registry: Registry, dataDir: string, log: Logger, demoIntervalSec: number, rules: RuleBook = new RuleBook(registry.db, registry)): Promise<StationCredentials[]> {
  const file = join(dataDir, 'secrets', 'demo-stations.json')
  const saved: Record<string, string> = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>) : {}
  const creds: StationCredentials[] = []
  for (const s of DEMO_STATIONS) {
    let secret = saved[s.id]
    if (!registry.get(s.id)) {
      secret = (
        await registry.add({
          id: s.id,
          name: s.name,
          commune: s.commune,
          district: s.district,
          lat: s.lat,
          lon: s.lon,
          coast: s.coast,
          zone: s.zone,
          code: s.code,
          sensors: [...s.sensors],
          intervalSec: demoIntervalSec,
        })
      ).password
      log.info({ station: s.id }, 'demo station registered')
    } else if (!secret) {
      secret = (await registry.rotate(s.id)).password
    }
    registry.setEnabled(s.id, true)
    // Demo data dirs from before zones: give the stations the zone and levels of their site.
    const current = registry.get(s.id)!
    if (current.zone !== s.zone || current.code !== s.code) registry.update(s.id, { zone: s.zone, code: s.code })
    if (s.alarmLevels) rules.set(s.id, 'water_level', alarmLevelsRule(s.alarmLevels), Date.now())
    creds.push({ id: s.id, secret })
  }
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, JSON.stringify(Object.fromEntries(creds.map((c) => [c.id, c.secret])), null, 2), { mode: 0o600 })
  return creds
}
