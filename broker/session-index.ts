import { Readable } from 'node:stream'
import type { Level } from 'level'
import AsyncLevelPersistence from 'aedes-persistence-level/asyncPersistence.js'
import type { PersistentSubscribers } from './unrouted-publish.ts'

/**
 * aedes-persistence-level with an in-memory index of the client ids that
 * have any session state on disk (subscriptions, queued or in-flight
 * messages, QoS 2 incoming packets, a will).
 *
 * Aedes asks the persistence four things on every CONNECT (lib/handlers/
 * connect.js: cleanSubscriptions or subscriptionsByClient, cleanIncoming,
 * delWill, outgoingStream), each a LevelDB read, iterator or range delete.
 * A station with a clean session has none of that state, but measured with
 * bench/reconnect-storm.ts these calls were a third of the broker thread's
 * time when 10,000 stations reconnected at once (classic-level's clear,
 * iterator and get). For a client id not in the index they answer "nothing"
 * without touching the disk.
 *
 * The index is filled from every key on disk at setup (a restart keeps the
 * standalone ingest's persistent session, docs/DURABILITY.md) and by every
 * write that files state under a client id; it never forgets one, so the
 * worst case is the old cost, never a missed message.
 */
const PER_CLIENT_PREFIXES = ['subscriptions:', 'outgoing:', 'outgoing-id:', 'incoming:', 'will:'] as const

interface ClientRef {
  id: string
}
interface SubRef {
  clientId: string
}

/**
 * Topics whose persistent subscribers are remembered. A station publishes to
 * two topics (`stations/<id>/readings` and `/status`), so this holds the
 * 10,000 stations the broker is sized for (docs/PERFORMANCE.md, scenario 4);
 * past it the cache starts again rather than grow.
 */
export const TOPIC_CACHE_MAX = 20_000
const NO_SUBSCRIBERS: Promise<unknown> = Promise.resolve(undefined)

/** The client id a per-client key is filed under, or undefined for other keys (retained messages). */
export function clientIdOfKey(key: string): string | undefined {
  for (const prefix of PER_CLIENT_PREFIXES) {
    if (!key.startsWith(prefix)) continue
    const rest = key.slice(prefix.length)
    // Ids are encodeURIComponent'ed, so ':' only ever ends one; a will key has no ':' after the id.
    const end = rest.indexOf(':')
    return decodeURIComponent(end === -1 ? rest : rest.slice(0, end))
  }
  return undefined
}

// The base class is plain JavaScript without types (types/aedes-persistence-level.d.ts
// declares only its constructor and setup); its methods are reached through this view.
type Base = Record<string, (...args: unknown[]) => unknown>

export class IndexedLevelPersistence extends AsyncLevelPersistence implements PersistentSubscribers {
  readonly #db: Level<string, unknown>
  readonly #stored = new Set<string>()
  /**
   * The persistent subscribers of each published topic, as aedes asks for
   * them on every QoS 1 publish (enqueueOffline). The base answers from its
   * trie, splitting and matching the topic each time: ~2 % of the broker
   * thread at full load (docs/PERFORMANCE.md). The trie only changes in
   * add/removeSubscriptions, synchronously before their first await, so
   * clearing the cache there, before calling the base, is enough.
   */
  readonly #byTopic = new Map<string, Promise<unknown>>()
  /** The same answers once known, for a synchronous look (unrouted-publish.ts). */
  readonly #knownByTopic = new Map<string, readonly unknown[]>()
  #generation = 0

  constructor(db: Level<string, unknown>) {
    super(db)
    this.#db = db
  }

  /** Client ids with state on disk (for tests and /health). */
  get indexedClients(): number {
    return this.#stored.size
  }

  override async setup(broker: unknown): Promise<void> {
    for await (const key of this.#db.keys()) {
      const id = clientIdOfKey(key)
      if (id !== undefined) this.#stored.add(id)
    }
    await super.setup(broker)
  }

  #base(name: string, ...args: unknown[]): unknown {
    return (AsyncLevelPersistence.prototype as unknown as Base)[name]!.apply(this, args)
  }

  // ---- writes that file state under a client id: index first ----
  addSubscriptions(client: ClientRef, subs: unknown): unknown {
    this.#stored.add(client.id)
    this.#forgetTopics()
    return this.#base('addSubscriptions', client, subs)
  }
  removeSubscriptions(client: ClientRef, topics: unknown): unknown {
    this.#forgetTopics()
    return this.#base('removeSubscriptions', client, topics)
  }

  /** A subscription changed: every answer may be wrong now. */
  #forgetTopics(): void {
    this.#clearTopics()
    this.#generation++
  }

  #clearTopics(): void {
    this.#byTopic.clear()
    this.#knownByTopic.clear()
  }

  get subscriptionsGeneration(): number {
    return this.#generation
  }

  subscriptionsByTopic(topic: string): Promise<unknown> {
    let subs = this.#byTopic.get(topic)
    if (subs === undefined) {
      // Full, not changed: no generation moves, so what clients remember stays true.
      if (this.#byTopic.size >= TOPIC_CACHE_MAX) this.#clearTopics()
      const asked = (subs = this.#base('subscriptionsByTopic', topic) as Promise<unknown>)
      this.#byTopic.set(topic, asked)
      // Known once answered, unless a subscription changed in the meantime.
      asked.then(
        (found) => {
          if (this.#byTopic.get(topic) === asked && Array.isArray(found)) this.#knownByTopic.set(topic, found)
        },
        () => undefined,
      )
    }
    return subs
  }

  knownSubscribers(topic: string): readonly unknown[] | undefined {
    return this.#knownByTopic.get(topic)
  }
  outgoingEnqueue(sub: SubRef, packet: unknown): unknown {
    this.#stored.add(sub.clientId)
    return this.#base('outgoingEnqueue', sub, packet)
  }
  outgoingEnqueueCombi(subs: SubRef[] | undefined, packet: unknown): unknown {
    // Most publishes have no persistent subscriber: nothing to file, no async frame.
    if (subs === undefined || subs.length === 0) return NO_SUBSCRIBERS
    for (const s of subs) this.#stored.add(s.clientId)
    return this.#base('outgoingEnqueueCombi', subs, packet)
  }
  outgoingUpdate(client: ClientRef, packet: unknown): unknown {
    this.#stored.add(client.id)
    return this.#base('outgoingUpdate', client, packet)
  }
  incomingStorePacket(client: ClientRef, packet: unknown): unknown {
    this.#stored.add(client.id)
    return this.#base('incomingStorePacket', client, packet)
  }
  putWill(client: ClientRef, packet: unknown): unknown {
    this.#stored.add(client.id)
    return this.#base('putWill', client, packet)
  }

  // ---- per-CONNECT reads and clean-ups: nothing on disk for an unindexed id ----
  subscriptionsByClient(client: ClientRef): unknown {
    return this.#stored.has(client.id) ? this.#base('subscriptionsByClient', client) : Promise.resolve([])
  }
  cleanSubscriptions(client: ClientRef): unknown {
    return this.#stored.has(client.id) ? this.#base('cleanSubscriptions', client) : Promise.resolve()
  }
  cleanIncoming(client: ClientRef): unknown {
    return this.#stored.has(client.id) ? this.#base('cleanIncoming', client) : Promise.resolve()
  }
  delWill(client: ClientRef): unknown {
    return this.#stored.has(client.id) ? this.#base('delWill', client) : Promise.resolve(undefined)
  }
  getWill(client: ClientRef): unknown {
    return this.#stored.has(client.id) ? this.#base('getWill', client) : Promise.resolve(undefined)
  }
  outgoingStream(client: ClientRef): unknown {
    return this.#stored.has(client.id) ? this.#base('outgoingStream', client) : Readable.from([])
  }
  outgoingClearMessageId(client: ClientRef, packet: unknown): unknown {
    return this.#stored.has(client.id) ? this.#base('outgoingClearMessageId', client, packet) : Promise.resolve(undefined)
  }
}
