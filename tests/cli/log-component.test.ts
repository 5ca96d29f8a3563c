/**
 * Every JSON log line carries one `component`. pino appends a child's
 * bindings to its parent's, so `log.child({ component: 'feedback' })` on a
 * logger that already had `component: 'ingest'` wrote the key twice, which
 * many log shippers reject or resolve arbitrarily. core/log.ts joins them
 * (`ingest.feedback`). JSON.parse keeps only the last of two keys, so the
 * raw lines are read here, not the parsed objects.
 */
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { afterAll, describe, expect, it } from 'vitest'
import { createLogger, type Logger } from '../../core/log.ts'
import { createSimulator } from '../../firmware-sim/simulator.ts'
import { eventually, startTestInflux, startTestPlatform, tempDir } from '../helpers/platform.ts'

/** A logger at `level` whose raw JSON lines the test reads. */
function rawLogger(level = 'info'): { log: Logger; lines: string[] } {
  const lines: string[] = []
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(line)
      cb()
    },
  })
  return { log: createLogger(level, sink), lines }
}

/** How many times a line's JSON object has the key `component` at its top level (JSON.parse would hide a second one). */
function componentKeys(line: string): number {
  let depth = 0
  let count = 0
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]
    if (ch === '"') {
      const end = stringEnd(line, i)
      if (depth === 1 && line.slice(i, end + 1) === '"component"' && line[end + 1] === ':') count++
      i = end
    } else if (ch === '{' || ch === '[') depth++
    else if (ch === '}' || ch === ']') depth--
  }
  return count
}

/** The index of the quote closing the JSON string that opens at `start`. */
function stringEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === '\\') i++
    else if (text[i] === '"') return i
  }
  return text.length
}

describe('one component per log line', () => {
  it('joins a nested component to its parent\'s, keeps the other bindings, and leaves a repeated one alone', () => {
    const { log, lines } = rawLogger()
    const ingest = log.child({ component: 'ingest', lane: 'live' })
    ingest.child({ component: 'feedback' }).info('sent')
    ingest.child({ component: 'spool', lane: 'backlog' }).child({ component: 'segment' }).info('rolled')
    ingest.child({ component: 'ingest' }).info('same')
    ingest.child({ station: 'cm-1' }).info('no component of its own')
    log.child({ component: 'broker' }).info('top level')
    expect(lines.map(componentKeys)).toEqual([1, 1, 1, 1, 1])
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>).map(({ component, lane, station }) => ({ component, lane, station }))).toEqual([
      { component: 'ingest.feedback', lane: 'live', station: undefined },
      { component: 'ingest.spool.segment', lane: 'backlog', station: undefined },
      { component: 'ingest', lane: 'live', station: undefined },
      { component: 'ingest', lane: 'live', station: 'cm-1' },
      { component: 'broker', lane: undefined, station: undefined },
    ])
  })

  describe('a running platform (broker, ingest, alerter, API; real InfluxDB)', () => {
    const tmp = tempDir('tidewatch-log-component-')
    let stopInflux: (() => Promise<void>) | undefined
    afterAll(async () => {
      await stopInflux?.()
      tmp.cleanup()
    })

    it('writes no line with two component keys, from start to stop, with a simulated station publishing as in up --demo', async () => {
      const influx = await startTestInflux(tmp.dir)
      stopInflux = () => influx.server.stop()
      const { log, lines } = rawLogger('debug')
      const tp = await startTestPlatform({ dir: tmp.dir, influxUrl: influx.server.url, log })
      try {
        const creds = await tp.platform.registry.add({ id: 'cm-log-01', name: 'Log', lat: 9.18, lon: 105.15 })
        // As cli/commands/up.ts starts the demo simulator; it names itself, and each station names itself inside it.
        const sim = createSimulator({ brokerUrl: tp.mqttUrl, stations: [{ id: creds.id, secret: creds.password }], intervalSec: 900, speed: 900 * 20, dataDir: join(tmp.dir, 'sim'), log })
        await sim.start()
        expect(await eventually(() => sim.stats().acked > 0), 'the broker acknowledged a reading').toBe(true)
        await sim.stop()
      } finally {
        await tp.stop()
      }
      const parsed = lines.map((l) => JSON.parse(l) as { component?: string; msg?: string })
      // The station's own line (firmware-sim/station.ts, a child of the simulator's) was written with two.
      expect(parsed.find((l) => l.msg === 'stopped')?.component).toBe('firmware-sim.station')
      expect(lines.filter((l) => componentKeys(l) > 1)).toEqual([])
    }, 60_000)
  })
})
