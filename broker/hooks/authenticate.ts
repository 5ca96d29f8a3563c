import { createHash, timingSafeEqual } from 'node:crypto'
import { TLSSocket, type PeerCertificate } from 'node:tls'
import type { AuthenticateError, Client } from 'aedes'
import type { Logger } from '../../core/log.ts'
import { hashDeviceSecret, needsRehash, verifyDeviceSecret, VerifierBusyError, type PasswordVerifier } from '../../core/password.ts'
import { sessionKey, type Identities, type StationCredential } from '../identity.ts'
import type { BrokerCounters } from '../metrics.ts'
import type { SecurityLog } from '../../core/security-log.ts'
import { BoundedMap, Lockouts, TokenBuckets } from '../throttle.ts'
import { canonicalSerial, certIdentity } from '../../devices/certs.ts'

export interface StationAuthenticator {
  /** Stored secret hash and enabled flag, read fresh on every CONNECT. */
  credentials(id: string): { hash: string; enabled: boolean } | undefined
  /** Stores the fast hash in place of a legacy scrypt one (compare-and-set); devices/registry.ts. */
  upgradeHash?(id: string, from: string, to: string): boolean
  /** Whether a client certificate serial (normalized, devices/certs.ts) is revoked; devices/registry.ts. */
  certRevoked?(serial: string): boolean
}

export interface ServiceAccount {
  username: string
  password: string
  name: string
}

/** core/config.ts `mqtt.auth`; documented in docs/SECURITY.md. */
export interface AuthLimits {
  perAddressBurst: number
  perAddressPerSec: number
  perStationBurst: number
  perStationPerSec: number
  stationLockoutAfter: number
  addressLockoutAfter: number
  lockoutBaseSec: number
  lockoutMaxSec: number
  maxTrackedKeys: number
  verifiedCacheSize: number
  exemptAddresses: readonly string[]
}

// MQTT 3.1.1 §3.2.2.3 CONNACK return codes.
const SERVER_UNAVAILABLE = 3
const BAD_USERNAME_OR_PASSWORD = 4
const NOT_AUTHORIZED = 5

function refusal(returnCode: number, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest()
}

function remoteAddress(client: Client): string {
  return (client.conn as { remoteAddress?: string } | undefined)?.remoteAddress ?? 'unknown'
}

/**
 * No anonymous clients. Stations log in with username = station id and the
 * secret from `devices add`; it is checked against its stored hash so
 * `devices rotate` and `devices disable` take effect at once.
 *
 * The order matters under a CONNECT flood (docs/SECURITY.md):
 * 1. a (station, hash, password digest) triple verified before is accepted
 *    with a constant-time compare and no hash check — after a cell outage
 *    thousands of stations reconnect at once, and a station whose id is
 *    under attack still gets in;
 * 2. anything else must pass the lockouts and token buckets of its source
 *    address and its station id before its secret is checked;
 * 3. the secret is checked against its hash (core/password.ts): a fast
 *    salted HMAC inline, or a legacy scrypt hash on the password worker,
 *    whose full queue refuses instead of waiting (the scrypt hash is then
 *    migrated to the fast one); an unknown id is checked against a dummy
 *    fast hash so it takes as long as a wrong secret (no oracle).
 * Refusals for load (steps 2 and 3) are CONNACK 3 "server unavailable": the
 * station should retry with backoff, its secret was not judged.
 *
 * Aedes takes over an older connection with the same client id after this
 * hook (aedes.js registerClient, [MQTT-3.1.4-2]), so the session rule
 * (identity.ts) is applied here, before that.
 */
export function createAuthenticate(deps: {
  stations: StationAuthenticator
  services: readonly ServiceAccount[]
  identities: Identities
  counters: BrokerCounters
  log: Logger
  security: SecurityLog
  verifier: PasswordVerifier
  /** A hash of a random secret in the form new station secrets get (core/password.ts dummyHash). */
  dummyHash: Promise<string>
  limits: AuthLimits
  /** core/config.ts `mqtt.clientCerts`: device certificates off, optional or required for stations. */
  clientCerts?: 'off' | 'optional' | 'required'
  clock?: () => number
}) {
  const { limits, counters, security } = deps
  const verified = new BoundedMap<string, { hash: string; pw: Buffer }>(limits.verifiedCacheSize)
  const common = { maxKeys: limits.maxTrackedKeys, clock: deps.clock }
  const addressBuckets = new TokenBuckets({ burst: limits.perAddressBurst, perSec: limits.perAddressPerSec, ...common })
  const stationBuckets = new TokenBuckets({ burst: limits.perStationBurst, perSec: limits.perStationPerSec, ...common })
  const lockoutTiming = { baseMs: limits.lockoutBaseSec * 1000, maxMs: limits.lockoutMaxSec * 1000, ...common }
  const addressLocks = new Lockouts({ threshold: limits.addressLockoutAfter, ...lockoutTiming })
  const stationLocks = new Lockouts({ threshold: limits.stationLockoutAfter, ...lockoutTiming })

  /** A client id that names another station is an attempt on its session (docs/PROTOCOL.md, "Client ids and sessions"). */
  function claimsOtherStation(clientId: string, own: string | undefined): string | undefined {
    const named = clientId.startsWith('station-') ? [clientId, clientId.slice(8)] : [clientId]
    if (own !== undefined && (clientId === own || clientId === `station-${own}`)) return undefined
    return named.find((id) => id !== own && deps.stations.credentials(id) !== undefined)
  }

  /**
   * A legacy scrypt hash that just verified is replaced by the fast hash of
   * the same secret (issue 13): the station's next CONNECT, after a restart
   * too, costs microseconds. Returns the hash now stored and, when it is a
   * migration, the legacy one. A failed write is logged and retried at the
   * next login; the login itself stands.
   */
  function migrate(station: string, secret: string, hash: string): { hash: string; formerHash?: string } {
    if (!needsRehash(hash) || !deps.stations.upgradeHash) return { hash }
    const next = hashDeviceSecret(secret)
    try {
      if (deps.stations.upgradeHash(station, hash, next)) {
        deps.log.info({ station }, 'station secret hash migrated from scrypt to hmac-sha256')
        return { hash: next, formerHash: hash }
      }
      // Lost the compare-and-set: a second login of the same secret migrated
      // it first (a station retrying while its CONNECT waited for scrypt),
      // or a rotation landed. Only the first keeps this session entitled.
      const now = deps.stations.credentials(station)?.hash
      return now !== undefined && verifyDeviceSecret(secret, now) ? { hash: now, formerHash: hash } : { hash }
    } catch (err) {
      deps.log.warn({ err, station }, 'could not migrate the station secret hash; will retry at next login')
      return { hash }
    }
  }

  const exempt = new Set(limits.exemptAddresses)
  /** Addresses a client recently logged in from; a NAT address shared with an attacker is one. */
  const goodAddresses = new BoundedMap<string, true>(limits.maxTrackedKeys)

  /**
   * Run on TCP accept, before aedes sees the socket. An address that is
   * locked out and has not hosted a successful login lately is dropped
   * there: under a flood, each refused CONNECT otherwise costs the broker
   * a client, a parser, a CONNACK and a log call on the data path's thread.
   * An address that did host a good login keeps the full path, so a station
   * behind the same NAT as an attacker can still log in from the cache.
   */
  function admitSocket(address: string | undefined): boolean {
    const a = address ?? 'unknown'
    if (exempt.has(a) || addressLocks.lockedFor(a) === 0 || goodAddresses.get(a)) return true
    counters.connectsRefused.locked++
    security.event('mqtt.auth.throttled', { reason: 'address_locked', remote: a, atAccept: true }, 'connection from a locked-out address dropped')
    return false
  }

  type Done = (error: AuthenticateError | null, success: boolean | null) => void

  /** The client id rule, then the identity is set and the CONNECT accepted (both login paths). */
  function admitClient(client: Client, remote: string, done: Done, identityUsername: string, own: string | undefined, accept: () => void): void {
    const clientId = client.id
    const claimed = claimsOtherStation(clientId, own)
    // A service client id is used as it is (identity.ts); '|' would reach into a station's session namespace.
    if (claimed !== undefined || (own === undefined && clientId.includes('|'))) {
      counters.connectsRefused.client_id++
      security.event('mqtt.clientid.refused', { username: identityUsername, clientId, claimed, remote }, 'client id names another identity')
      return done(refusal(NOT_AUTHORIZED, 'client id belongs to another identity'), false)
    }
    accept()
    goodAddresses.set(remote, true)
    counters.connectsAccepted++
    done(null, true)
  }

  /** A station that proved who it is (secret or certificate): refused if disabled, else admitted under its session key. */
  function admitStation(client: Client, remote: string, done: Done, station: string, enabled: boolean, credential: StationCredential): void {
    const clientId = client.id
    const via = credential.via
    // Only a station that proved its identity learns that it is disabled.
    if (!enabled) {
      counters.connectsRefused.disabled++
      security.event('mqtt.auth.failed', { reason: 'disabled', username: station, clientId, remote, via }, 'disabled station refused')
      return done(refusal(NOT_AUTHORIZED, 'station disabled'), false)
    }
    admitClient(client, remote, done, station, station, () => {
      // The credential is kept so session-guard.ts can end the session once it is rotated or revoked.
      deps.identities.set(client, { kind: 'station', stationId: station, credential })
      // Takeover and session state are keyed per identity from here on.
      client.id = sessionKey(station, clientId)
    })
  }

  /** The verified client certificate of a TLS connection, or undefined when none was presented. */
  function peerCertificate(client: Client): { socket: TLSSocket; cert: PeerCertificate } | undefined {
    const socket = client.conn
    if (!(socket instanceof TLSSocket)) return undefined
    const cert = socket.getPeerCertificate()
    return cert && Object.keys(cert).length > 0 ? { socket, cert } : undefined
  }

  /**
   * Login by device certificate (docs/SECURITY.md "Device certificates").
   * The chain was checked in the handshake (server.ts); here the verdict is
   * applied, then the identity (CN/SAN) must be a registered station, the
   * serial must not be revoked, and a username, if sent, must name the same
   * station. No secret is needed and none is checked, so no throttle sits in
   * front: the expensive part (the handshake's signature) is already paid.
   * Every refusal is CONNACK 5 and counts against the source address.
   */
  function certLogin(client: Client, peer: { socket: TLSSocket; cert: PeerCertificate }, username: string | undefined, remote: string, done: Done): void {
    const { socket, cert } = peer
    const serial = canonicalSerial(String(cert.serialNumber ?? ''))
    const about = { subject: cert.subject?.CN, issuer: cert.issuer?.CN, serial, fingerprint256: cert.fingerprint256, username, clientId: client.id, remote }
    const refuse = (event: 'mqtt.cert.refused' | 'mqtt.cert.revoked', fields: Record<string, unknown>, msg: string): void => {
      counters.connectsRefused.cert++
      if (!exempt.has(remote)) {
        const r = addressLocks.failure(remote)
        if (r.locked) {
          counters.lockouts++
          security.event('mqtt.lockout', { scope: 'address', key: remote, failures: r.failures, lockouts: r.lockouts, lockedForSec: r.lockMs / 1000, remote }, 'address locked out after repeated failed logins')
        }
      }
      security.event(event, { ...about, ...fields }, msg)
      done(refusal(NOT_AUTHORIZED, msg), false)
    }
    if (!socket.authorized) {
      const error = String(socket.authorizationError ?? 'unknown')
      // A CRL configured in the TLS layer (mqtt.crlFile) reports revocation as a chain error.
      if (error === 'CERT_REVOKED') return refuse('mqtt.cert.revoked', { source: 'crl' }, 'client certificate revoked')
      return refuse('mqtt.cert.refused', { reason: 'untrusted', error }, 'client certificate not issued by the station CA')
    }
    const station = certIdentity(cert)
    const creds = station === undefined ? undefined : deps.stations.credentials(station)
    if (station === undefined || !creds) return refuse('mqtt.cert.refused', { reason: 'unknown_identity', station }, 'client certificate names no registered station')
    if (deps.stations.certRevoked?.(serial)) return refuse('mqtt.cert.revoked', { source: 'registry', station }, 'client certificate revoked')
    if (username && username !== station) return refuse('mqtt.cert.refused', { reason: 'username_mismatch', station }, 'username does not match the client certificate')
    admitStation(client, remote, done, station, creds.enabled, { via: 'certificate', serial })
  }

  function authenticate(
    client: Client,
    username: Readonly<string | undefined>,
    password: Readonly<Buffer | undefined>,
    done: (error: AuthenticateError | null, success: boolean | null) => void,
  ): void {
    const remote = remoteAddress(client)
    const perAddress = !exempt.has(remote)
    const clientId = client.id
    if (deps.clientCerts !== undefined && deps.clientCerts !== 'off') {
      const peer = peerCertificate(client)
      if (peer) return certLogin(client, peer, username, remote, done)
      // 'required': a station must present a certificate; service accounts (the ingest, on the host) keep their secrets.
      if (deps.clientCerts === 'required' && !deps.services.some((s) => s.username === username)) {
        counters.connectsRefused.cert++
        security.event('mqtt.cert.refused', { reason: 'no_certificate', username, clientId, remote }, 'station connected without a client certificate')
        return done(refusal(NOT_AUTHORIZED, 'a client certificate is required'), false)
      }
    }
    if (!username || !password) {
      counters.connectsRefused.anonymous++
      security.event('mqtt.auth.failed', { reason: 'anonymous', clientId, remote }, 'refused anonymous client')
      return done(refusal(NOT_AUTHORIZED, 'anonymous clients are not allowed'), false)
    }
    const pw = password.toString('utf8')

    const refuseLoad = (reason: 'address_locked' | 'station_locked' | 'address_rate' | 'station_rate' | 'busy', lockedForMs?: number): void => {
      counters.connectsRefused[reason === 'busy' ? 'busy' : reason.endsWith('locked') ? 'locked' : 'throttled']++
      // Knocking on after being refused counts against the address like a
      // wrong secret: a flood aimed at one station id gets its source locked
      // out (and then dropped at accept) instead of being refused forever.
      if (reason !== 'busy' && reason !== 'address_locked') noteAddressFailure()
      security.event('mqtt.auth.throttled', { reason, username, clientId, remote, ...(lockedForMs ? { lockedForSec: Math.ceil(lockedForMs / 1000) } : {}) }, 'CONNECT refused before checking the password')
      done(refusal(SERVER_UNAVAILABLE, 'too many attempts; retry later'), false)
    }
    const noteFailure = (scope: 'address' | 'username', locks: Lockouts, key: string): void => {
      const r = locks.failure(key)
      if (!r.locked) return
      counters.lockouts++
      security.event('mqtt.lockout', { scope, key, failures: r.failures, lockouts: r.lockouts, lockedForSec: r.lockMs / 1000, remote }, `${scope} locked out after repeated failed logins`)
    }
    function noteAddressFailure(): void {
      if (perAddress) noteFailure('address', addressLocks, remote)
    }
    /** Counts a wrong secret against the address and the username; logs a lockout when one starts. */
    const failed = (kind: 'station' | 'service'): void => {
      counters.connectsRefused.bad_credentials++
      noteAddressFailure()
      noteFailure('username', stationLocks, username)
      security.event('mqtt.auth.failed', { reason: 'bad_credentials', kind, username, clientId, remote }, 'bad username or password')
      done(refusal(BAD_USERNAME_OR_PASSWORD, 'bad username or password'), false)
    }
    const admit = (identityUsername: string, own: string | undefined, accept: () => void): void => admitClient(client, remote, done, identityUsername, own, accept)

    const service = deps.services.find((s) => s.username === username)
    if (service) {
      if (perAddress && addressLocks.lockedFor(remote) > 0) return refuseLoad('address_locked', addressLocks.lockedFor(remote))
      if (!timingSafeEqual(digest(pw), digest(service.password))) return failed('service')
      addressLocks.success(remote)
      return admit(username, undefined, () => deps.identities.set(client, { kind: 'service', name: service.name }))
    }

    const creds = deps.stations.credentials(username)
    const pwDigest = digest(pw)
    // `hash` is the stored hash the secret matched (after a legacy migration, the new one): a rotation replaces it.
    const onSuccess = (enabled: boolean, hash: string, formerHash?: string): void =>
      admitStation(client, remote, done, username, enabled, formerHash === undefined ? { via: 'secret', hash } : { via: 'secret', hash, formerHash })
    const cached = verified.get(username)
    if (creds && cached && cached.hash === creds.hash && timingSafeEqual(cached.pw, pwDigest)) return onSuccess(creds.enabled, creds.hash)

    const addressLocked = perAddress ? addressLocks.lockedFor(remote) : 0
    if (addressLocked > 0) return refuseLoad('address_locked', addressLocked)
    const stationLocked = stationLocks.lockedFor(username)
    if (stationLocked > 0) return refuseLoad('station_locked', stationLocked)
    if (perAddress && !addressBuckets.take(remote)) return refuseLoad('address_rate')
    if (!stationBuckets.take(username)) return refuseLoad('station_rate')

    deps.dummyHash
      .then((dummy) => deps.verifier.verify(pw, creds?.hash ?? dummy))
      .then((ok) => {
        if (!ok || !creds) return failed('station')
        addressLocks.success(remote)
        stationLocks.success(username)
        const stored = migrate(username, pw, creds.hash)
        verified.set(username, { hash: stored.hash, pw: pwDigest })
        onSuccess(creds.enabled, stored.hash, stored.formerHash)
      })
      .catch((err: unknown) => {
        if (err instanceof VerifierBusyError) return refuseLoad('busy')
        counters.connectsRefused.error++
        deps.log.error({ err, station: username }, 'authentication failed with an error')
        done(refusal(NOT_AUTHORIZED, 'authentication error'), false)
      })
  }
  return { authenticate, admitSocket }
}
