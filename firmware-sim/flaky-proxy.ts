/**
 * A TCP proxy that makes a loopback broker feel like a station's 4G link:
 * every chunk is delayed by a random latency (order preserved, as TCP would),
 * connections are cut at random, and the whole link goes down now and then
 * (lost coverage: every connection cut, new ones refused) for a random while.
 * It works below MQTT and TLS, so it needs no certificates and the client
 * and broker see a real broken socket.
 *
 * The proxy itself only does what its options say (no cuts, no outages
 * unless set), so tests can be exact. What a "flaky 4G link" means by
 * default is FLAKY_4G, compressed to the simulator's speed by flaky4g():
 * that is what `tidewatch sim --flaky` uses.
 *
 * Deterministic by seed: latencies, connection lifetimes and outages come
 * from seeded rngs (in the order connections and chunks arrive).
 */
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import type { Logger } from '../core/log.ts'
import { systemClock, type Clock, type TimerHandle } from './clock.ts'
import { createRng } from './prng.ts'

export interface FlakyProxyOptions {
  /** The real broker. */
  readonly target: { readonly host: string; readonly port: number }
  /** Listen address. Default 127.0.0.1. */
  readonly host?: string
  /** Listen port. Default 0 (ephemeral). */
  readonly port?: number
  /** One-way latency per chunk, uniform in [min, max] ms. Default 50–300. */
  readonly latencyMs?: { readonly min: number; readonly max: number }
  /** Mean lifetime of a connection before it is cut (exponential), ms. 0 or absent: never cut at random. */
  readonly meanTimeBetweenCutsMs?: number
  /** Lost coverage now and then: the link goes down for a while. Absent or false: never on its own. */
  readonly outages?: OutageOptions | false
  /** Pause the sender when this many bytes wait in one direction. Default 1 MiB. */
  readonly maxQueuedBytes?: number
  /** Default 1. */
  readonly seed?: number
  readonly log: Logger
  readonly clock?: Clock
}

export interface OutageOptions {
  /** Mean time between the end of one outage and the start of the next (exponential), ms. */
  readonly meanEveryMs: number
  /** Outage length, uniform in [minMs, maxMs]. */
  readonly minMs: number
  readonly maxMs: number
}

export interface FlakyProxyStats {
  readonly accepted: number
  readonly active: number
  readonly cuts: number
  /** Outages started by the outage schedule (setLinkUp calls are not counted). */
  readonly outages: number
  readonly linkUp: boolean
  readonly refused: number
  readonly bytesUp: number
  readonly bytesDown: number
}

export interface FlakyProxy {
  /** Starts listening; resolves to the port. */
  start(): Promise<number>
  /** Cuts every connection and stops listening. */
  stop(): Promise<void>
  /** The listening port (0 before start). */
  readonly port: number
  /** Cuts every open connection now (TCP RST to the client). Returns how many. */
  cutAll(): number
  /** Link down: cut everything and refuse new connections until set up again. */
  setLinkUp(up: boolean): void
  stats(): FlakyProxyStats
}

export const FLAKY_DEFAULTS = Object.freeze({ latencyMs: { min: 50, max: 300 }, maxQueuedBytes: 1 << 20, seed: 1 })

/**
 * A station's rural 4G link, in real time. Judgments, not measurements:
 * - 50–300 ms one way: a loaded rural LTE cell (FLAKY_DEFAULTS);
 * - a connection drops every few minutes (mean 5 min): handovers, NAT
 *   timeouts of the carrier, the modem's own resets;
 * - coverage is lost about once an hour for 1–5 minutes: a tower on
 *   generator, weather, the cell's backhaul.
 * FIELD-NOTES ("MQTT behaviour") is why this matters: the backlog after an
 * outage must go out as batches, and reconnects must be jittered.
 */
export const FLAKY_4G = Object.freeze({
  latencyMs: FLAKY_DEFAULTS.latencyMs,
  meanTimeBetweenCutsMs: 5 * 60_000,
  outages: Object.freeze({ meanEveryMs: 60 * 60_000, minMs: 60_000, maxMs: 5 * 60_000 }),
})

/**
 * Floors for time-compressed runs: below these a station cannot finish a
 * CONNECT (two round trips of up to 600 ms each through the proxy, more with
 * TLS) and publish before the next cut, and the run would test nothing.
 */
export const FLAKY_FLOORS = Object.freeze({ meanTimeBetweenCutsMs: 5_000, outageEveryMs: 10_000, outageMs: 1_000 })

/**
 * FLAKY_4G for a simulator running `speed` times faster than real time: a
 * day of simulated readings then sees a day's worth of drops and outages.
 * Latency is physics, not compressed. Times never go below FLAKY_FLOORS.
 */
export function flaky4g(speed = 1): Required<Pick<FlakyProxyOptions, 'latencyMs' | 'meanTimeBetweenCutsMs'>> & { outages: OutageOptions } {
  const s = Math.max(1, speed)
  const o = FLAKY_4G.outages
  const outageMin = Math.max(FLAKY_FLOORS.outageMs, o.minMs / s)
  return {
    latencyMs: { ...FLAKY_4G.latencyMs },
    meanTimeBetweenCutsMs: Math.max(FLAKY_FLOORS.meanTimeBetweenCutsMs, FLAKY_4G.meanTimeBetweenCutsMs / s),
    outages: { meanEveryMs: Math.max(FLAKY_FLOORS.outageEveryMs, o.meanEveryMs / s), minMs: outageMin, maxMs: Math.max(outageMin, o.maxMs / s) },
  }
}

interface Pair {
  readonly client: Socket
  readonly upstream: Socket
  readonly timers: Set<TimerHandle>
  closed: boolean
}

export function createFlakyProxy(options: FlakyProxyOptions): FlakyProxy {
  const clock = options.clock ?? systemClock
  const latency = options.latencyMs ?? FLAKY_DEFAULTS.latencyMs
  const maxQueued = options.maxQueuedBytes ?? FLAKY_DEFAULTS.maxQueuedBytes
  const root = createRng(options.seed ?? FLAKY_DEFAULTS.seed)
  const rng = root.fork('flaky-proxy')
  // Its own stream: enabling outages must not change the latencies of a seed.
  const outageRng = root.fork('flaky-outages')
  const log = options.log.child({ component: 'flaky-proxy' })
  const pairs = new Set<Pair>()
  const counters = { accepted: 0, cuts: 0, outages: 0, refused: 0, bytesUp: 0, bytesDown: 0 }
  let linkUp = true
  let server: Server | undefined
  let port = 0
  let outageTimer: TimerHandle | undefined

  function close(pair: Pair, reset: boolean): void {
    if (pair.closed) return
    pair.closed = true
    pairs.delete(pair)
    for (const t of pair.timers) clock.clearTimeout(t)
    pair.timers.clear()
    // RST rather than FIN: a dropped radio link does not say goodbye.
    if (reset && !pair.client.destroyed) pair.client.resetAndDestroy()
    else pair.client.destroy()
    pair.upstream.destroy()
  }

  function cut(pair: Pair): void {
    if (pair.closed) return
    counters.cuts++
    close(pair, true)
  }

  /**
   * Forwards src -> dst with a per-chunk delay. A chunk is never delivered
   * before the one ahead of it (TCP is ordered), so each chunk is due at
   * max(previous due, now + latency) and one timer drains the queue head.
   */
  function forward(pair: Pair, src: Socket, dst: Socket, count: (n: number) => void): void {
    const queue: Array<{ due: number; chunk: Buffer | null }> = []
    let queuedBytes = 0
    let lastDue = 0
    let timer: TimerHandle | undefined

    const drain = (): void => {
      if (timer !== undefined) pair.timers.delete(timer)
      timer = undefined
      const now = clock.now()
      while (queue.length > 0 && queue[0]!.due <= now) {
        const { chunk } = queue.shift()!
        if (chunk === null) {
          dst.end()
          continue
        }
        queuedBytes -= chunk.length
        if (!dst.destroyed) dst.write(chunk)
      }
      if (src.isPaused() && queuedBytes <= maxQueued / 2) src.resume()
      arm()
    }
    const arm = (): void => {
      if (timer !== undefined || queue.length === 0 || pair.closed) return
      timer = clock.setTimeout(drain, Math.max(0, queue[0]!.due - clock.now()))
      pair.timers.add(timer)
    }
    const enqueue = (chunk: Buffer | null): void => {
      lastDue = Math.max(lastDue, clock.now() + rng.uniform(latency.min, latency.max))
      queue.push({ due: lastDue, chunk })
      arm()
    }

    src.on('data', (chunk: Buffer) => {
      count(chunk.length)
      queuedBytes += chunk.length
      enqueue(chunk)
      if (queuedBytes > maxQueued) src.pause()
    })
    src.on('end', () => enqueue(null))
  }

  function onConnection(client: Socket): void {
    if (!linkUp) {
      counters.refused++
      client.on('error', () => {})
      client.resetAndDestroy()
      return
    }
    counters.accepted++
    const upstream = createConnection({ host: options.target.host, port: options.target.port })
    const pair: Pair = { client, upstream, timers: new Set(), closed: false }
    pairs.add(pair)
    // Errors are expected here (resets are the point); they end the pair.
    client.on('error', () => close(pair, false))
    upstream.on('error', (err) => {
      log.debug({ err }, 'upstream error')
      close(pair, true)
    })
    // A clean FIN travels through the delay queue like data (see forward), so
    // a DISCONNECT still in the queue is delivered; the pair is forgotten once
    // both sockets are gone. An error close ends the pair at once.
    const onClose = (hadError: boolean): void => {
      if (hadError || (client.destroyed && upstream.destroyed)) close(pair, false)
    }
    client.on('close', onClose)
    upstream.on('close', onClose)
    forward(pair, client, upstream, (n) => (counters.bytesUp += n))
    forward(pair, upstream, client, (n) => (counters.bytesDown += n))
    const mean = options.meanTimeBetweenCutsMs ?? 0
    if (mean > 0) {
      const t = clock.setTimeout(() => {
        log.debug('random cut')
        cut(pair)
      }, rng.exponential(mean))
      pair.timers.add(t)
    }
  }

  function setLinkUp(up: boolean): void {
    linkUp = up
    if (!up) for (const pair of [...pairs]) cut(pair)
    log.info({ up }, 'link state')
  }

  /** Up for exponential(meanEveryMs), down for uniform(min, max), repeat until stop(). */
  function scheduleOutage(o: OutageOptions): void {
    outageTimer = clock.setTimeout(() => {
      counters.outages++
      setLinkUp(false)
      outageTimer = clock.setTimeout(() => {
        setLinkUp(true)
        scheduleOutage(o)
      }, outageRng.uniform(o.minMs, o.maxMs))
    }, outageRng.exponential(o.meanEveryMs))
  }

  return {
    get port() {
      return port
    },
    start() {
      return new Promise<number>((resolve, reject) => {
        const srv = createServer(onConnection)
        srv.once('error', reject)
        srv.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
          srv.off('error', reject)
          srv.on('error', (err) => log.error({ err }, 'proxy server error'))
          server = srv
          port = (srv.address() as AddressInfo).port
          log.info({ port, target: options.target, meanTimeBetweenCutsMs: options.meanTimeBetweenCutsMs ?? 0, outages: options.outages ?? false }, 'flaky proxy listening')
          if (options.outages) scheduleOutage(options.outages)
          resolve(port)
        })
      })
    },
    async stop() {
      if (outageTimer !== undefined) clock.clearTimeout(outageTimer)
      outageTimer = undefined
      for (const pair of [...pairs]) close(pair, false)
      const srv = server
      server = undefined
      if (srv) await new Promise<void>((resolve) => srv.close(() => resolve()))
    },
    cutAll() {
      const n = pairs.size
      for (const pair of [...pairs]) cut(pair)
      return n
    },
    setLinkUp,
    stats: () => ({ ...counters, active: pairs.size, linkUp }),
  }
}
