import type { Aedes, AedesPublishPacket, Client, PublishPacket } from 'aedes'
import { TOPIC_CACHE_MAX } from './session-index.ts'

/**
 * A station's reading usually has nobody to go to: the embedded ingest takes
 * it in `authorizePublish` (hooks/authorize-publish.ts), before aedes
 * publishes it. Aedes still runs its whole publish pipeline for it: a packet
 * copy, a series of four steps, the persistent subscribers (a promise), its
 * emitter's topic match and a 'publish' event. At full load that was ~7 % of
 * the broker thread (docs/PERFORMANCE.md, "Unrouted publishes and a lighter ingest").
 *
 * This answers a client's non-retained QoS 0/1 publish at once when no
 * subscriber matches its topic, as the pipeline would have done after finding
 * nobody: no online one (aedes' emitter) and, for QoS 1, no persistent one
 * (the session store; aedes queues only QoS 1 and 2 for offline sessions).
 * Anything else, and any topic whose answer is not yet known, takes aedes'
 * own path. `published` and the 'publish' event are skipped for these
 * publishes; tidewatch uses neither.
 *
 * It reads mqemitter's listener trie (`_matcher`, mqemitter 7.1.0, which
 * aedes 1.2 uses) and watches the three calls that change it. Without that
 * trie (another emitter, a new mqemitter) it does not install itself.
 */

/** What the session store knows, synchronously, of a topic's persistent subscribers (session-index.ts). */
export interface PersistentSubscribers {
  /** The subscribers last found for the topic, or undefined when not known yet or since a change. */
  knownSubscribers(topic: string): readonly unknown[] | undefined
  /** Moves on whenever a persistent subscription is added or removed. */
  readonly subscriptionsGeneration: number
}

/** A client's last topic found unrouted, and the state of both subscription sets then. */
interface UnroutedMemo {
  topic: string
  listeners: number
  persistent: number
}

type Done = (error?: Error | null) => void
type InternalPublish = (packet: PublishPacket | AedesPublishPacket, client: Client | null | Done, done?: Done) => void

/** The part of mqemitter (aedes' `mq`) this reads: its listener trie, and the calls that change it. */
interface Emitter {
  _matcher: { match(topic: string): unknown[] }
  on(topic: string, notify: unknown, done?: () => void): unknown
  removeListener(topic: string, notify: unknown, done?: () => void): unknown
  removeAllListeners(topic: string, done?: () => void): unknown
}

export interface UnroutedCounters {
  /** Publishes answered without aedes' pipeline: nobody subscribed to their topic. */
  unrouted: number
}

/** Returns whether it is installed. */
export function skipUnroutedPublishes(aedes: Aedes, persistent: PersistentSubscribers, counters: UnroutedCounters): boolean {
  const broker = aedes as unknown as { mq: Partial<Emitter> | undefined; publish: InternalPublish }
  const candidate = broker.mq
  if (typeof candidate?._matcher?.match !== 'function' || typeof candidate.on !== 'function' || typeof candidate.removeListener !== 'function' || typeof candidate.removeAllListeners !== 'function') {
    return false
  }
  const mq = candidate as Emitter
  const hasListeners = new Map<string, boolean>()
  let listenersGeneration = 0
  const forget = (): void => {
    hasListeners.clear()
    listenersGeneration++
  }
  // A station publishes to one topic: the answer is kept per client too, so
  // the usual publish costs a string comparison instead of two map lookups
  // that hash a topic string new with every packet.
  const memos = new WeakMap<object, UnroutedMemo>()
  // mqemitter adds a listener at once and removes one in a setImmediate: the
  // cache is cleared when either is asked for, and again after a removal.
  const on = mq.on.bind(mq)
  const removeListener = mq.removeListener.bind(mq)
  const removeAllListeners = mq.removeAllListeners.bind(mq)
  mq.on = (topic, notify, done) => {
    forget()
    return on(topic, notify, done)
  }
  mq.removeListener = (topic, notify, done) => {
    forget()
    const result = removeListener(topic, notify, done)
    setImmediate(forget)
    return result
  }
  mq.removeAllListeners = (topic, done) => {
    forget()
    return removeAllListeners(topic, done)
  }

  const listened = (topic: string): boolean => {
    let any = hasListeners.get(topic)
    if (any === undefined) {
      // Bounded as the persistent answers are (session-index.ts): two topics a station.
      if (hasListeners.size >= TOPIC_CACHE_MAX) hasListeners.clear()
      any = mq._matcher.match(topic).length > 0
      hasListeners.set(topic, any)
    }
    return any
  }

  const publish = broker.publish.bind(aedes) as InternalPublish
  broker.publish = (packet, client, done) => {
    if (typeof client !== 'object' || client === null || done === undefined || packet.qos > 1 || packet.retain) return publish(packet, client, done)
    const topic = packet.topic
    const memo = memos.get(client)
    if (memo !== undefined && memo.topic === topic && memo.listeners === listenersGeneration && memo.persistent === persistent.subscriptionsGeneration) {
      counters.unrouted++
      return done(null)
    }
    if (listened(topic)) return publish(packet, client, done)
    if (persistent.knownSubscribers(topic)?.length === 0) {
      memos.set(client, { topic, listeners: listenersGeneration, persistent: persistent.subscriptionsGeneration })
      counters.unrouted++
      return done(null)
    }
    if (packet.qos === 0) {
      // Nobody online, and offline sessions get no QoS 0 messages.
      counters.unrouted++
      return done(null)
    }
    return publish(packet, client, done)
  }
  return true
}
