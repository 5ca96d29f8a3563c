import { createHash, timingSafeEqual } from 'node:crypto'
import type { AuthenticateError, Client } from 'aedes'
import type { Logger } from '../../core/log.ts'
import type { Identities } from '../identity.ts'
import type { BrokerCounters } from '../metrics.ts'

export interface StationAuthenticator {
  /** Stored scrypt hash and enabled flag, read fresh on every CONNECT. */
  credentials(id: string): { hash: string; enabled: boolean } | undefined
  verify(password: string, hash: string): Promise<boolean>
}

export interface ServiceAccount {
  username: string
  password: string
  name: string
}

// MQTT 3.1.1 §3.2.2.3 CONNACK return codes.
const BAD_USERNAME_OR_PASSWORD = 4
const NOT_AUTHORIZED = 5

function refusal(returnCode: number, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest()
}

/**
 * No anonymous clients. Stations log in with username = station id and the
 * secret from `devices add`; it is checked against the scrypt hash on every
 * CONNECT so `devices rotate` and `devices disable` take effect at once.
 *
 * scrypt costs ~50 ms of CPU, and after a cell outage thousands of stations
 * reconnect at once. A verified (station, hash, password digest) triple is
 * therefore remembered; a rotated hash misses the cache by construction.
 */
export function createAuthenticate(deps: {
  stations: StationAuthenticator
  services: readonly ServiceAccount[]
  identities: Identities
  counters: BrokerCounters
  log: Logger
}) {
  const verified = new Map<string, { hash: string; pw: Buffer }>()
  const MAX_CACHE = 20_000

  return function authenticate(
    client: Client,
    username: Readonly<string | undefined>,
    password: Readonly<Buffer | undefined>,
    done: (error: AuthenticateError | null, success: boolean | null) => void,
  ): void {
    if (!username || !password) {
      deps.counters.connectsRefused.anonymous++
      deps.log.info({ clientId: client.id }, 'refused anonymous client')
      return done(refusal(NOT_AUTHORIZED, 'anonymous clients are not allowed'), false)
    }
    const pw = password.toString('utf8')
    const service = deps.services.find((s) => s.username === username)
    if (service) {
      const ok = timingSafeEqual(digest(pw), digest(service.password))
      if (!ok) {
        deps.counters.connectsRefused.bad_credentials++
        return done(refusal(BAD_USERNAME_OR_PASSWORD, 'bad service credentials'), false)
      }
      deps.identities.set(client, { kind: 'service', name: service.name })
      deps.counters.connectsAccepted++
      return done(null, true)
    }

    const refuse = (result: 'bad_credentials' | 'disabled'): void => {
      deps.counters.connectsRefused[result]++
      deps.log.info({ station: username, clientId: client.id, result }, 'refused station connection')
      done(
        result === 'disabled' ? refusal(NOT_AUTHORIZED, 'station disabled') : refusal(BAD_USERNAME_OR_PASSWORD, 'bad username or password'),
        false,
      )
    }
    const accept = (): void => {
      deps.identities.set(client, { kind: 'station', stationId: username })
      deps.counters.connectsAccepted++
      done(null, true)
    }
    const creds = deps.stations.credentials(username)
    if (!creds) return refuse('bad_credentials')
    const pwDigest = digest(pw)
    const cached = verified.get(username)
    if (cached && cached.hash === creds.hash && timingSafeEqual(cached.pw, pwDigest)) {
      return creds.enabled ? accept() : refuse('disabled')
    }
    deps.stations
      .verify(pw, creds.hash)
      .then((ok) => {
        if (!ok) return refuse('bad_credentials')
        if (verified.size >= MAX_CACHE) verified.clear()
        verified.set(username, { hash: creds.hash, pw: pwDigest })
        // Only a station that proved its secret learns that it is disabled.
        return creds.enabled ? accept() : refuse('disabled')
      })
      .catch((err: unknown) => {
        deps.counters.connectsRefused.error++
        deps.log.error({ err, station: username }, 'authentication failed with an error')
        done(refusal(NOT_AUTHORIZED, 'authentication error'), false)
      })
  }
}
