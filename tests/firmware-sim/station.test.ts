import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ReadingSchema, TimestampSchema } from '../../core/protocol.ts'
import { createStation, type Station, type StationOptions } from '../../firmware-sim/station.ts'
import { log, readingsOf, startBroker, tempDir, waitFor, watch, type TestBroker, type Watcher } from './helpers.ts'

const ID = 'cm-test-01'
const SECRET = 's3cret-cm-test-01'

describe('station against a real Aedes broker', () => {
  let broker: TestBroker
  let watcher: Watcher
  let tmp: ReturnType<typeof tempDir>
  const stations: Station[] = []

  const station = (overrides: Partial<StationOptions> = {}): Station => {
    const s = createStation({
      brokerUrl: broker.url,
      credentials: { id: ID, secret: SECRET },
      dataDir: tmp.dir,
      intervalMs: 3_600_000, // readings are taken by hand with sample()
      firstSampleDelayMs: 3_600_000,
      backoff: { baseMs: 20, capMs: 200 },
      log,
      ...overrides,
    })
    stations.push(s)
    return s
  }

  beforeEach(async () => {
    tmp = tempDir()
    broker = await startBroker({ [ID]: SECRET })
    watcher = await watch(broker.url)
  })

  afterEach(async () => {
    for (const s of stations.splice(0)) await s.stop()
    await watcher.close()
    await broker.close()
    tmp.cleanup()
  })

  it('announces itself online (retained), publishes valid readings with increasing seq, and says offline on stop', async () => {
    const s = station()
    s.start()
    await waitFor(() => s.stats().connected, 'connected')
    await waitFor(() => watcher.messages.some((m) => m.topic === `stations/${ID}/status` && m.text === 'online'), 'online status')
    const before = Date.now()
    for (let i = 1; i <= 3; i++) {
      s.sample()
      await waitFor(() => readingsOf(watcher.messages, ID).length === i, `reading ${i}`)
    }
    const readings = readingsOf(watcher.messages, ID)
    for (const r of readings) {
      const parsed = ReadingSchema.parse(r)
      expect(typeof parsed.ts).toBe('number')
      expect(parsed.ts as number).toBeGreaterThanOrEqual(before - 1000)
      expect(Object.keys(parsed.values).sort()).toEqual(['no2', 'ph', 'salinity', 'temperature', 'water_level'].sort())
    }
    expect(readings.map((r) => r.seq)).toEqual([1, 2, 3])
    // A single pending reading goes out as a plain reading, not a batch.
    expect(watcher.messages.filter((m) => m.topic.endsWith('/readings')).every((m) => !m.text.includes('"readings"'))).toBe(true)
    await waitFor(() => s.stats().buffered === 0, 'outbox drained')

    // Retained: a subscriber arriving later still learns the station is online.
    const late = await watch(broker.url, `stations/${ID}/status`)
    await waitFor(() => late.messages.length > 0, 'retained status')
    expect(late.messages[0]).toMatchObject({ text: 'online', retain: true })
    await late.close()

    await s.stop()
    await waitFor(
      () => watcher.messages.filter((m) => m.topic === `stations/${ID}/status`).at(-1)?.text === 'offline',
      'offline status',
    )
    expect(s.stats()).toMatchObject({ generated: 3, acked: 3, buffered: 0, dropped: 0, connected: false })
  })

  it('writes RFC 3339 timestamps with the +07:00 offset when asked', async () => {
    const s = station({ tsFormat: 'rfc3339' })
    s.start()
    await waitFor(() => s.stats().connected, 'connected')
    s.sample()
    await waitFor(() => readingsOf(watcher.messages, ID).length === 1, 'reading')
    const ts = readingsOf(watcher.messages, ID)[0]!.ts as string
    expect(ts).toMatch(/\+07:00$/)
    expect(TimestampSchema.safeParse(ts).success).toBe(true)
    expect(Math.abs(Date.parse(ts) - Date.now())).toBeLessThan(60_000)
  })

  it('survives a bad password: counts the refusals, keeps buffering, never crashes', async () => {
    const s = station({ credentials: { id: ID, secret: 'wrong' } })
    s.start()
    s.sample()
    s.sample()
    await waitFor(() => s.stats().authFailures >= 3, 'three refused connects')
    expect(s.stats()).toMatchObject({ connected: false, buffered: 2, acked: 0 })
    expect(readingsOf(watcher.messages, ID)).toHaveLength(0)
  })

  it('keeps its backlog and seq across a restart of the station process', async () => {
    const deadUrl = 'mqtt://127.0.0.1:1' // nothing listens: the station only buffers
    const first = station({ brokerUrl: deadUrl })
    first.start()
    for (let i = 0; i < 7; i++) first.sample()
    expect(first.stats().buffered).toBe(7)
    await first.stop()

    const second = station()
    second.start()
    await waitFor(() => second.stats().connected, 'connected')
    await waitFor(() => second.stats().buffered === 0, 'backlog sent')
    second.sample()
    await waitFor(() => readingsOf(watcher.messages, ID).length === 8, '8 readings')
    expect(readingsOf(watcher.messages, ID).map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    // The backlog of 7 travelled as one batch.
    expect(watcher.messages.filter((m) => m.topic.endsWith('/readings') && m.text.includes('"readings"'))).toHaveLength(1)
  })

  it('sends malformed payloads alone when fault injection asks for them', async () => {
    const s = station({ faults: { malformed: 0.5 }, seed: 4 })
    s.start()
    await waitFor(() => s.stats().connected, 'connected')
    for (let i = 0; i < 20; i++) s.sample()
    await waitFor(() => s.stats().buffered === 0, 'drained')
    const isBroken = (text: string) => {
      try {
        JSON.parse(text)
        return false
      } catch {
        return true
      }
    }
    const brokenMsgs = () => watcher.messages.filter((m) => m.topic.endsWith('/readings') && isBroken(m.text))
    // The broker forwards after it acks: wait until the subscriber has everything.
    await waitFor(() => readingsOf(watcher.messages, ID).length + brokenMsgs().length === 20, 'all 20 delivered')
    const broken = brokenMsgs()
    expect(broken.length).toBe(s.stats().faults.malformed)
    expect(broken.length).toBeGreaterThan(0)
    expect(readingsOf(watcher.messages, ID).length + broken.length).toBe(20)
  })
})
