/**
 * A registry of N bench stations. Hashing a secret costs one scrypt (~40 ms
 * here), so every station gets the same secret and hash; the broker still
 * runs scrypt once per station on its first CONNECT (its cache is keyed by
 * station), which is what a fleet reconnecting after a restart costs.
 * Built once per size and copied into each scenario's data dir.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Registry } from '../../devices/registry.ts'
import { CORE_SENSORS } from '../../core/sensors.ts'
import type { StationCred } from './fleet.ts'

export function stationId(prefix: string, i: number): string {
  return `${prefix}${String(i).padStart(5, '0')}`
}

async function build(dir: string, groups: ReadonlyArray<{ prefix: string; count: number }>): Promise<StationCred[]> {
  const credsFile = join(dir, 'stations.json')
  if (existsSync(credsFile)) return JSON.parse(readFileSync(credsFile, 'utf8')) as StationCred[]
  mkdirSync(dir, { recursive: true })
  const registry = Registry.open(join(dir, 'registry.db'))
  try {
    const first = await registry.add({ id: 'bench-template', name: 'template', lat: 9.18, lon: 105.15 })
    const { hash } = registry.credentials('bench-template')!
    const insert = registry.db.prepare(
      `INSERT INTO stations (id, name, lat, lon, interval_s, enabled, created_at, password_hash, credentials_rotated_at) VALUES (?, ?, ?, ?, 60, 1, ?, ?, ?)`,
    )
    const sensor = registry.db.prepare('INSERT INTO station_sensors (station_id, kind, cal_offset, cal_scale) VALUES (?, ?, 0, 1)')
    const creds: StationCred[] = []
    const now = Date.now()
    registry.db.transaction(() => {
      for (const g of groups) {
        for (let i = 0; i < g.count; i++) {
          const id = stationId(g.prefix, i)
          insert.run(id, `Bench ${id}`, 9.18 + (i % 100) / 1000, 105.15 + Math.floor(i / 100) / 1000, now, hash, now)
          for (const k of CORE_SENSORS) sensor.run(id, k)
          creds.push({ id, password: first.password })
        }
      }
    })()
    writeFileSync(credsFile, JSON.stringify(creds))
    return creds
  } finally {
    registry.close()
  }
}

/** Copies a registry holding the groups' stations into `dataDir` and returns their credentials by group. */
export async function provision(cacheDir: string, dataDir: string, groups: ReadonlyArray<{ prefix: string; count: number }>): Promise<StationCred[][]> {
  const key = groups.map((g) => `${g.prefix}${g.count}`).join('-')
  const dir = join(cacheDir, `registry-${key}`)
  const creds = await build(dir, groups)
  mkdirSync(dataDir, { recursive: true })
  copyFileSync(join(dir, 'registry.db'), join(dataDir, 'registry.db'))
  const out: StationCred[][] = []
  let at = 0
  for (const g of groups) {
    out.push(creds.slice(at, at + g.count))
    at += g.count
  }
  return out
}
