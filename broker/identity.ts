import type { Client } from 'aedes'

/**
 * Who a connected client authenticated as. The MQTT client id is chosen by
 * the client and proves nothing, so every policy decision uses this instead.
 */
export type Identity = { kind: 'station'; stationId: string } | { kind: 'service'; name: string }

export class Identities {
  private readonly map = new WeakMap<Client, Identity>()
  set(client: Client, identity: Identity): void {
    this.map.set(client, identity)
  }
  get(client: Client | null | undefined): Identity | undefined {
    return client ? this.map.get(client) : undefined
  }
}
