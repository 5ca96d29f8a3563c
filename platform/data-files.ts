import { join } from 'node:path'
import type { Config } from '../core/config.ts'

/**
 * Where the running platform keeps its files under `dataDir`. Only node:path
 * is loaded here, so the registry commands (devices, tokens, alerts, sim)
 * find the registry without loading the platform's modules.
 */
export function registryPath(config: Readonly<Config>): string {
  return join(config.dataDir, 'registry.db')
}

/** A secret generated on first start when the config names none (core/secrets.ts fileSecret). */
export function secretFile(config: Readonly<Config>, name: 'ingest-mqtt-password' | 'staff-api-token'): string {
  return join(config.dataDir, 'secrets', name)
}
