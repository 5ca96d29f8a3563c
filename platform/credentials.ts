import type { Config } from '../core/config.ts'
import { fileSecret } from '../core/secrets.ts'
import type { ServiceAccount } from '../broker/hooks/authenticate.ts'
import { secretFile } from './data-files.ts'

/**
 * The platform's own credentials: what it configures when the config names
 * them, else a secret generated once under dataDir/secrets and reused.
 */

/** The MQTT account the ingest uses against an external broker, and that the embedded broker accepts. */
export function ingestServiceAccount(config: Readonly<Config>): ServiceAccount {
  return {
    name: 'ingest',
    username: config.mqtt.ingestUsername,
    password: config.mqtt.ingestPassword ?? fileSecret(secretFile(config, 'ingest-mqtt-password')),
  }
}

/** The bootstrap staff bearer token of the API (api/auth/tokens.ts). */
export function staffToken(config: Readonly<Config>): string {
  return config.http.staffToken ?? fileSecret(secretFile(config, 'staff-api-token'))
}
