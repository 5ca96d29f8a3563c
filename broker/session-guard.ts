import type { Aedes, Client } from 'aedes'
import type { Logger } from '../core/log.ts'
import type { SecurityLog } from '../core/security-log.ts'
import type { StationAuthenticator } from './hooks/authenticate.ts'
import type { Identities, StationCredential } from './identity.ts'
import type { BrokerCounters } from './metrics.ts'

/**
 * Ends live station sessions the registry no longer entitles (docs/SECURITY.md,
 * "Revoking a connected station"). CONNECT is judged once (hooks/
 * authenticate.ts); without this a station disabled, removed or rotated, or a
 * stolen certificate revoked, would keep its open connection, and a revoked
 * certificate of a still-enabled station would keep having its readings
 * accepted.
 *
 * Which sessions may stay is the policy's answer (injected from the
 * composition root, like the hooks); this module only asks it when the
 * registry may have changed and closes what it refuses.
 */

export const SESSION_REVOCATION_REASONS = ['station_removed', 'station_disabled', 'credentials_rotated', 'cert_revoked'] as const
export type SessionRevocationReason = (typeof SESSION_REVOCATION_REASONS)[number]
export type SessionVerdict = 'ok' | SessionRevocationReason

/** A connected station and what it proved at CONNECT. */
export interface StationSession {
  stationId: string
  credential: StationCredential
}

export interface SessionPolicy {
  /** Whether the session may stay. May throw when the registry cannot be read: the session is then kept and asked again next tick. */
  check(session: StationSession): SessionVerdict
  /**
   * Changes whenever check() may answer differently (devices/registry.ts
   * contextVersion). Without it only the periodic sweep runs.
   */
  version?(): string
}

/**
 * The same facts CONNECT checks, asked again for a live session: the station
 * still exists and is enabled; a secret session's stored hash is still the
 * one its secret matched (a rotation replaces it; the scrypt → HMAC migration
 * is recorded as the matched hash at CONNECT, and the legacy hash of the
 * same secret as `formerHash`, so neither the migration nor a stale copy
 * written back over it — the cluster mirror, a replica's read in flight —
 * is mistaken for one);
 * a certificate session's serial is not revoked in the registry.
 * Works for the SQLite Registry and the cluster's MetadataReplica alike.
 */
export function registryEntitlement(stations: StationAuthenticator, version?: () => string): SessionPolicy {
  return {
    check({ stationId, credential }) {
      const creds = stations.credentials(stationId)
      if (!creds) return 'station_removed'
      if (!creds.enabled) return 'station_disabled'
      if (credential.via === 'secret') return creds.hash === credential.hash || creds.hash === credential.formerHash ? 'ok' : 'credentials_rotated'
      return stations.certRevoked?.(credential.serial) ? 'cert_revoked' : 'ok'
    },
    ...(version ? { version } : {}),
  }
}

export interface SessionGuardOptions {
  /**
   * How often the policy's version is read. One second, the bar the ingest
   * holds for a disable (ingest/service.ts contextTtlMs): staff revoking a
   * device expect it off the network within seconds.
   */
  tickMs?: number
  /**
   * Every session is checked at least this often even when the version did
   * not move. Without a version (a MetadataReplica) this is the only check:
   * 5 s. With one, every registry write that matters moves it (remove,
   * disable, rotate in devices/registry.ts; the CLI's writes through
   * PRAGMA data_version), so the sweep is only a safety net for a write
   * made around the Registry class on its connection: once a minute, as a
   * sweep is one SQLite read per session (10,000 sessions ≈ 0.1–0.5 s of
   * CPU, bench/reconnect-storm.ts's fleet).
   */
  sweepMs?: number
  clock?: () => number
}

export interface SessionGuard {
  /** Checks every station session now; returns how many were closed. */
  sweep(): number
  /** Station sessions being watched. */
  watched(): number
  stop(): void
}

const DEFAULT_TICK_MS = 1000
const DEFAULT_SWEEP_MS = 5000
const VERSIONED_SWEEP_MS = 60_000

export function startSessionGuard(
  deps: {
    aedes: Aedes
    identities: Identities
    policy: SessionPolicy
    counters: BrokerCounters
    security: SecurityLog
    log: Logger
  } & SessionGuardOptions,
): SessionGuard {
  const { aedes, identities, policy, counters, security, log } = deps
  const tickMs = deps.tickMs ?? DEFAULT_TICK_MS
  const sweepMs = deps.sweepMs ?? (policy.version ? VERSIONED_SWEEP_MS : DEFAULT_SWEEP_MS)
  const clock = deps.clock ?? Date.now
  // Registered clients only (aedes emits 'client' after CONNECT and takeover,
  // 'clientDisconnect' when one leaves), so the set is bounded by the open connections.
  const sessions = new Set<Client>()
  const onClient = (client: Client): void => {
    const identity = identities.get(client)
    if (identity?.kind !== 'station') return
    sessions.add(client)
    // Checked once now: it was admitted on what the registry said when its
    // CONNECT began (a legacy scrypt check takes ~100 ms), and a change that
    // landed meanwhile may already have been seen by a tick.
    const session = { stationId: identity.stationId, credential: identity.credential }
    try {
      const verdict = policy.check(session)
      if (verdict !== 'ok') revoke(client, session, verdict)
    } catch (err) {
      noteFailure(err, 1)
    }
  }
  const onGone = (client: Client): void => void sessions.delete(client)
  aedes.on('client', onClient)
  aedes.on('clientDisconnect', onGone)

  let seenVersion: string | undefined
  let lastSweep = clock()
  /** Whether the last tick failed to read the registry; its error is logged once, not every second. */
  let failing = false

  function revoke(client: Client, session: StationSession, reason: SessionRevocationReason): void {
    sessions.delete(client)
    // First: an in-flight publish and the session's will (aedes publishes it
    // on an unclean close, through authorizePublish) are refused from here on.
    identities.delete(client)
    counters.sessionsRevoked[reason]++
    const { credential } = session
    security.event(
      'mqtt.session.revoked',
      {
        station: session.stationId,
        reason,
        clientId: client.id,
        via: credential.via,
        ...(credential.via === 'certificate' ? { serial: credential.serial } : {}),
        remote: (client.conn as { remoteAddress?: string } | undefined)?.remoteAddress,
      },
      'live MQTT session closed: the station is no longer entitled to it',
    )
    // MQTT 3.1.1 has no server-sent DISCONNECT; closing the connection is the signal.
    client.close()
  }

  function sweep(): number {
    lastSweep = clock()
    let closed = 0
    let failures = 0
    let firstError: unknown
    for (const client of [...sessions]) {
      const identity = identities.get(client)
      if (client.closed || identity?.kind !== 'station') {
        sessions.delete(client)
        continue
      }
      const session = { stationId: identity.stationId, credential: identity.credential }
      let verdict: SessionVerdict
      try {
        verdict = policy.check(session)
      } catch (err) {
        // A registry that cannot be read is no reason to cut anyone: keep the session, ask again next tick.
        failures++
        firstError ??= err
        continue
      }
      if (verdict !== 'ok') {
        revoke(client, session, verdict)
        closed++
      }
    }
    if (failures > 0) noteFailure(firstError, failures)
    return closed
  }

  function noteFailure(err: unknown, sessionsUnchecked: number): void {
    counters.sessionChecksFailed++
    // The version is left stale so the next tick sweeps again.
    seenVersion = undefined
    if (!failing) log.error({ err, sessionsUnchecked }, 'cannot re-check live station sessions against the registry; keeping them and retrying')
    failing = true
  }

  function tick(): void {
    if (sessions.size === 0) return
    let version: string | undefined
    try {
      version = policy.version?.()
    } catch (err) {
      return noteFailure(err, sessions.size)
    }
    const moved = version !== undefined && version !== seenVersion
    if (!moved && clock() - lastSweep < sweepMs && seenVersion !== undefined) return
    const before = counters.sessionChecksFailed
    sweep()
    if (counters.sessionChecksFailed === before) {
      if (failing) log.info('live station sessions re-checked against the registry again')
      failing = false
      seenVersion = version ?? ''
    }
  }

  const timer = setInterval(tick, tickMs)
  timer.unref()

  return {
    sweep,
    watched: () => sessions.size,
    stop() {
      clearInterval(timer)
      aedes.off('client', onClient)
      aedes.off('clientDisconnect', onGone)
      sessions.clear()
    },
  }
}
