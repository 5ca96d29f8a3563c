import type { Client } from 'aedes'

/**
 * What a station proved at CONNECT, kept so the session can be judged again
 * later (session-guard.ts): the stored secret hash it matched, or the serial
 * of its client certificate (normalized, devices/certs.ts).
 */
/**
 * What a station proved at CONNECT. `hash` is the stored hash its secret
 * matched; `formerHash`, when its login migrated a legacy scrypt hash, is
 * that legacy hash of the same secret: a copy written back over the new one
 * (the cluster mirror, a replica's stale read) is the same secret, not a
 * rotation (broker/session-guard.ts).
 */
export type StationCredential = { via: 'secret'; hash: string; formerHash?: string } | { via: 'certificate'; serial: string }

/**
 * Who a connected client authenticated as. The MQTT client id is chosen by
 * the client and proves nothing, so every policy decision uses this instead.
 */
export type Identity = { kind: 'station'; stationId: string; credential: StationCredential } | { kind: 'service'; name: string }

export class Identities {
  private readonly map = new WeakMap<Client, Identity>()
  set(client: Client, identity: Identity): void {
    this.map.set(client, identity)
  }
  get(client: Client | null | undefined): Identity | undefined {
    return client ? this.map.get(client) : undefined
  }
  /** Forgets a client's identity: from then on the hooks treat it as never authenticated and refuse everything it sends. */
  delete(client: Client): void {
    this.map.delete(client)
  }
}

/**
 * The key aedes files a station's session under: its station id, `|`, and
 * the client id it sent. Aedes keys takeover ([MQTT-3.1.4-2]), stored
 * subscriptions and queued messages by client id; with this key a client id
 * can only ever reach a session of the same station, whatever it says.
 * `|` is outside the station id alphabet (^[A-Za-z0-9_-]{1,64}$), so no two
 * stations share a key. MQTT 3.1.1 never sends the id back to the client, so
 * the station does not see the difference.
 */
export function sessionKey(stationId: string, clientId: string): string {
  return `${stationId}|${clientId}`
}
