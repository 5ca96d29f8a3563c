import type { Config } from '../core/config.ts'
import { createQueryClient, type InfluxQueryClient } from '../influx/query.ts'

/**
 * The InfluxDB target the API and the alerter's warm-up read from: the one
 * named `influx.readTarget`, else the first; none when no target is configured.
 */
export function readQueryClient(config: Readonly<Config>): InfluxQueryClient | undefined {
  const target = config.influx.targets.find((t) => t.name === config.influx.readTarget) ?? config.influx.targets[0]
  if (!target) return undefined
  return createQueryClient({
    url: target.url,
    database: target.mode === 'v1' ? target.database : target.bucket!,
    username: target.username,
    password: target.password,
    token: target.mode === 'v2' ? target.token : undefined,
  })
}
