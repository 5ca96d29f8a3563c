import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { MAX_BATCH_READINGS } from '../../core/protocol.ts'
import { createFlakyProxy, FLAKY_4G, FLAKY_FLOORS, flaky4g, type FlakyProxy, type FlakyProxyOptions } from '../../firmware-sim/flaky-proxy.ts'
import { createSimulator, type Simulator } from '../../firmware-sim/simulator.ts'
import { createStation, type Station } from '../../firmware-sim/station.ts'
import { log, readingsOf, startBroker, tempDir, waitFor, watch, type TestBroker, type Watcher } from './helpers.ts'

const ID = 'cm-flaky-01'
const SECRET = 'flaky-secret'

describe('station through the flaky 4G proxy', () => {
  let broker: TestBroker
  let watcher: Watcher
  let tmp: ReturnType<typeof tempDir>
  let proxy: FlakyProxy
  const stations: Station[] = []

  const setup = async (opts: Partial<FlakyProxyOptions> = {}) => {
    proxy = createFlakyProxy({ target: { host: '127.0.0.1', port: broker.port }, latencyMs: { min: 1, max: 15 }, seed: 7, log, ...opts })
    await proxy.start()
    const s = createStation({
      brokerUrl: `mqtt://127.0.0.1:${proxy.port}`,
      credentials: { id: ID, secret: SECRET },
      dataDir: tmp.dir,
      intervalMs: 3_600_000,
      firstSampleDelayMs: 3_600_000,
      backoff: { baseMs: 20, capMs: 200 },
      keepaliveSec: 5,
      log,
    })
    stations.push(s)
    s.start()
    return s
  }

  beforeEach(async () => {
    tmp = tempDir()
    broker = await startBroker({ [ID]: SECRET })
    watcher = await watch(broker.url)
  })

  afterEach(async () => {
    for (const s of stations.splice(0)) await s.stop()
    await proxy?.stop()
    await watcher.close()
    await broker.close()
    tmp.cleanup()
  })

  it('buffers while the link is down and delivers the backlog as batches, oldest first, with original timestamps', async () => {
    const s = await setup()
    await waitFor(() => s.stats().connected, 'connected')
    s.sample()
    await waitFor(() => readingsOf(watcher.messages, ID).length === 1, 'first reading')
    await waitFor(() => s.stats().acked === 1, 'first PUBACK')

    proxy.setLinkUp(false)
    await waitFor(() => !s.stats().connected, 'disconnected')
    // The broker saw an unclean drop and published the will.
    await waitFor(() => watcher.messages.at(-1)?.text === 'offline', 'will: offline')

    const backlog = 1_200
    for (let i = 0; i < backlog; i++) s.sample()
    expect(s.stats().buffered).toBe(backlog)
    const restoredAt = Date.now()
    const before = watcher.messages.length
    proxy.setLinkUp(true)

    await waitFor(() => s.stats().buffered === 0, 'backlog drained')
    await waitFor(() => readingsOf(watcher.messages, ID).length >= backlog + 1, 'all readings received')
    const after = watcher.messages.slice(before)
    expect(after.find((m) => m.topic.endsWith('/status'))?.text).toBe('online')
    const batches = after.filter((m) => m.topic.endsWith('/readings')).map((m) => JSON.parse(m.text) as { readings?: unknown[] })
    expect(batches.length).toBe(3)
    for (const b of batches) {
      expect(Array.isArray(b.readings)).toBe(true)
      expect(b.readings!.length).toBeLessThanOrEqual(MAX_BATCH_READINGS)
    }
    const readings = readingsOf(watcher.messages, ID)
    // Oldest first, nothing lost, nothing re-stamped at send time.
    expect(readings.map((r) => r.seq)).toEqual(Array.from({ length: backlog + 1 }, (_, i) => i + 1))
    for (const r of readings.slice(1)) expect(r.ts as number).toBeLessThanOrEqual(restoredAt)
  })

  it('loses nothing while connections are cut at random', async () => {
    const s = await setup({ meanTimeBetweenCutsMs: 150 })
    await waitFor(() => s.stats().connected, 'connected')
    const total = 400
    for (let i = 0; i < total; i++) {
      s.sample()
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 5))
    }
    await waitFor(() => s.stats().buffered === 0, 'outbox drained', 90_000)
    await waitFor(() => new Set(readingsOf(watcher.messages, ID).map((r) => r.seq)).size === total, 'every seq received', 30_000)
    const seqs = new Set(readingsOf(watcher.messages, ID).map((r) => r.seq))
    expect([...seqs].sort((a, b) => (a as number) - (b as number))).toEqual(Array.from({ length: total }, (_, i) => i + 1))
    expect(proxy.stats().cuts).toBeGreaterThan(0)
    expect(s.stats().connects).toBeGreaterThan(1)
    expect(s.stats().dropped).toBe(0)
  })

  it('takes the link down on its own schedule (outages) and the station delivers everything after each', async () => {
    const s = await setup({ outages: { meanEveryMs: 300, minMs: 150, maxMs: 300 } })
    const total = 60
    for (let i = 0; i < total; i++) {
      s.sample()
      await new Promise((r) => setTimeout(r, 20))
    }
    await waitFor(() => proxy.stats().outages >= 2, 'two outages')
    await waitFor(() => s.stats().buffered === 0 && s.stats().connected, 'outbox drained after outages', 60_000)
    const seqs = new Set(readingsOf(watcher.messages, ID).map((r) => r.seq))
    expect(seqs.size).toBe(total)
    expect(proxy.stats().refused + proxy.stats().cuts).toBeGreaterThan(0)
  })

  it('cutAll() resets every connection and the station comes back', async () => {
    const s = await setup()
    await waitFor(() => s.stats().connected, 'connected')
    expect(proxy.cutAll()).toBe(1)
    await waitFor(() => s.stats().connects >= 2 && s.stats().connected, 'reconnected')
    s.sample()
    await waitFor(() => readingsOf(watcher.messages, ID).length === 1, 'reading after reconnect')
  })
})

describe('the default flaky profile (tidewatch sim --flaky)', () => {
  it('is rural 4G compressed by the simulator speed, never below the floors', () => {
    const real = flaky4g(1)
    expect(real.meanTimeBetweenCutsMs).toBe(FLAKY_4G.meanTimeBetweenCutsMs)
    expect(real.outages).toEqual(FLAKY_4G.outages)
    const x60 = flaky4g(60)
    expect(x60.meanTimeBetweenCutsMs).toBe(FLAKY_FLOORS.meanTimeBetweenCutsMs)
    expect(x60.outages.meanEveryMs).toBe(FLAKY_4G.outages.meanEveryMs / 60)
    expect(x60.outages.minMs).toBe(FLAKY_4G.outages.minMs / 60)
    expect(x60.latencyMs).toEqual(FLAKY_4G.latencyMs)
    const fast = flaky4g(1e6)
    expect(fast.meanTimeBetweenCutsMs).toBe(FLAKY_FLOORS.meanTimeBetweenCutsMs)
    expect(fast.outages.meanEveryMs).toBe(FLAKY_FLOORS.outageEveryMs)
    expect(fast.outages.minMs).toBe(FLAKY_FLOORS.outageMs)
    expect(fast.outages.maxMs).toBeGreaterThanOrEqual(fast.outages.minMs)
  })

  const creds = [
    { id: 'cm-namcan-01', secret: 'namcan-secret' },
    { id: 'cm-songdoc-01', secret: 'songdoc-secret' },
  ]
  let broker: TestBroker
  let watcher: Watcher
  let tmp: ReturnType<typeof tempDir>
  let sim: Simulator | undefined
  beforeEach(async () => {
    tmp = tempDir()
    broker = await startBroker(Object.fromEntries(creds.map((c) => [c.id, c.secret])))
    watcher = await watch(broker.url)
  })
  afterEach(async () => {
    await sim?.stop()
    sim = undefined
    await watcher.close()
    await broker.close()
    tmp.cleanup()
  })

  it('cuts connections and takes the link down with its defaults, and every acknowledged reading arrives', async () => {
    const speed = 900 * 4 // a 15-minute reading every 250 ms
    sim = createSimulator({
      brokerUrl: broker.url,
      stations: creds,
      intervalSec: 900,
      speed,
      seed: 1,
      flaky: flaky4g(speed),
      backoff: { baseMs: 100, capMs: 1_000 },
      dataDir: tmp.dir,
      log,
    })
    await sim.start()
    const proxy = sim.proxy!
    await waitFor(() => proxy.stats().cuts >= 1 && proxy.stats().outages >= 1, 'a random cut and an outage', 110_000)
    const ackedAtOutage = sim.stats().stations.map((s) => s.acked)
    // Every station came back after the drops and delivered more since.
    await waitFor(
      () => sim!.stats().stations.every((s, i) => s.connects >= 2 && s.connected && s.acked > ackedAtOutage[i]! + 2),
      'stations reconnected and delivering again',
      60_000,
    )
    await sim.stop()
    const stats = sim.stats()
    expect(stats.dropped).toBe(0)
    for (const st of stats.stations) {
      // The outbox acks oldest first, so the acknowledged readings are seq 1..acked.
      const received = new Set(readingsOf(watcher.messages, st.id).map((r) => r.seq))
      const missing = Array.from({ length: st.acked }, (_, i) => i + 1).filter((seq) => !received.has(seq))
      expect(missing, st.id).toEqual([])
      expect(st.connects, st.id).toBeGreaterThan(1)
    }
  })
})
