/**
 * Station credentials for a scenario. Registering costs one scrypt hash per
 * station (~50 ms), so a registry of N stations is built once per run and
 * copied into each scenario's data dir before the platform starts; the
 * broker still verifies every CONNECT against the stored hash.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Registry } from '../../../devices/registry.ts'

export interface StationCreds {
  id: string
  secret: string
}

const templates = new Map<string, Promise<StationCreds[]>>()

async function buildTemplate(dir: string, count: number): Promise<StationCreds[]> {
  const credsFile = join(dir, 'stations.json')
  if (existsSync(credsFile)) return JSON.parse(readFileSync(credsFile, 'utf8')) as StationCreds[]
  mkdirSync(dir, { recursive: true })
  const registry = Registry.open(join(dir, 'registry.db'))
  const creds: StationCreds[] = []
  try {
    for (let i = 0; i < count; i += 16) {
      const batch = []
      for (let j = i; j < Math.min(count, i + 16); j++) {
        const id = `cm-${String(j).padStart(4, '0')}`
        batch.push(registry.add({ id, name: `Chaos ${j}`, lat: 9.18 + (j % 100) / 1000, lon: 105.15 + Math.floor(j / 100) / 1000, sensors: ['salinity'] }))
      }
      for (const c of await Promise.all(batch)) creds.push({ id: c.id, secret: c.password })
    }
  } finally {
    registry.close()
  }
  writeFileSync(credsFile, JSON.stringify(creds))
  return creds
}

/**
 * Puts a registry with `count` stations into `dataDir` and returns their
 * credentials. `cacheDir` holds the template shared by the run's scenarios.
 */
export async function provisionStations(cacheDir: string, dataDir: string, count: number): Promise<StationCreds[]> {
  const dir = join(cacheDir, `registry-${count}`)
  let template = templates.get(dir)
  if (!template) {
    template = buildTemplate(dir, count)
    templates.set(dir, template)
  }
  const creds = await template
  mkdirSync(dataDir, { recursive: true })
  copyFileSync(join(dir, 'registry.db'), join(dataDir, 'registry.db'))
  return creds
}
