/**
 * The seven chaos scenarios of issue 3. Each starts real processes (influxd,
 * `tidewatch up` or `tidewatch ingest`, mosquitto) in its own temp dir, does
 * damage under load, restores everything and counts in InfluxDB.
 *
 * Three sizes: `test` runs inside `npm test` (seconds), `short` is the CI
 * variant of `npm run chaos -- --short`, `full` is `npm run chaos`.
 */
import { join } from 'node:path'
import { createFlakyProxy, type FlakyProxy } from '../../firmware-sim/flaky-proxy.ts'
import { silentLogger } from '../../core/log.ts'
import { startMosquitto, type TestMosquitto } from '../helpers/mosquitto.ts'
import { diffStored, readStored } from './lib/ledger.ts'
import { sleep, withRig, type Mode, type Scenario, type ScenarioContext } from './lib/harness.ts'
import mqtt from 'mqtt'

function pick<T>(mode: Mode, values: Record<Mode, T>): T {
  return values[mode]
}

/** Samples /health lag of one target every `everyMs` until stopped. */
function lagSampler(rig: { platform: { health(): Promise<import('./lib/platform-process.ts').Health | undefined> } }, target: string, everyMs: number) {
  const samples: Array<{ at: number; lagReadings: number; lagSeconds: number; full: boolean }> = []
  let running = true
  const loop = (async () => {
    while (running) {
      const h = await rig.platform.health()
      const t = h?.components.ingest?.targets.find((x) => x.name === target)
      if (t) samples.push({ at: Date.now(), lagReadings: t.lagReadings, lagSeconds: t.lagSeconds, full: Boolean(h?.components.ingest?.spool.full) })
      await sleep(everyMs)
    }
  })()
  return {
    samples,
    async stop() {
      running = false
      await loop
    },
  }
}

// ---- 1. InfluxDB outage --------------------------------------------------

const influxOutage: Scenario = {
  id: 1,
  name: 'InfluxDB outage',
  run: (ctx) => {
    const p = pick(ctx.mode, {
      test: { stations: 50, rate: 5, warmMs: 2000, outageMs: 5000, simulatedMin: 0 },
      // CI variant: a 60 s outage.
      short: { stations: 1000, rate: 1, warmMs: 10_000, outageMs: 60_000, simulatedMin: 0 },
      // 1,000 stations × 1 reading/s for 120 s: the backlog of a 10-minute
      // outage at 200 readings/s (time compression 5×).
      full: { stations: 1000, rate: 1, warmMs: 15_000, outageMs: 120_000, simulatedMin: 10 },
    })
    return withRig(ctx, 1, 'InfluxDB outage', { id: 1, stations: p.stations, ratePerStation: p.rate }, async (rig, notes) => {
      await sleep(p.warmMs)
      const a0 = rig.load.snapshot()
      const t0 = Date.now()
      ctx.say(`  stopping influxd for ${p.outageMs / 1000} s`)
      await rig.influx.stop()
      await sleep(p.outageMs)
      const a1 = rig.load.snapshot()
      const liveRate = ((a1.acked - a0.acked) * 1000) / (Date.now() - t0)
      const sampler = lagSampler(rig, 'primary', 100)
      await rig.influx.restart()
      const restartedAt = Date.now()
      const backlog = (await rig.platform.health())?.components.ingest?.targets.find((t) => t.name === 'primary')?.lagReadings ?? 0
      ctx.say(`  influxd back; backlog ${backlog} readings, live ${liveRate.toFixed(0)} readings/s`)
      // Drained: lag back to what live traffic alone keeps in flight.
      const steady = Math.max(50, liveRate)
      const deadline = Date.now() + 300_000
      while (Date.now() < deadline) {
        const last = sampler.samples.at(-1)
        if (last && last.at > restartedAt && last.lagReadings <= steady) break
        await sleep(100)
      }
      await sampler.stop()
      const s = sampler.samples.filter((x) => x.at >= restartedAt)
      const peak = s.reduce((m, x) => (x.lagReadings > m.lagReadings ? x : m), s[0]!)
      // The writer retries with capped, jittered backoff (up to 15 s); the
      // drain rate is measured from the first progress to "caught up".
      const firstProgress = s.find((x) => x.at > peak.at && x.lagReadings < peak.lagReadings) ?? peak
      const end = s.at(-1)!
      const drainMs = Math.max(1, end.at - peak.at)
      const drained = peak.lagReadings - end.lagReadings + (liveRate * drainMs) / 1000
      const drainRate = (drained * 1000) / drainMs
      const ratio = drainRate / Math.max(1, liveRate)
      notes.push(
        `outage ${p.outageMs / 1000} s${p.simulatedMin ? ` (= ${p.simulatedMin} min compressed)` : ''}: backlog ${peak.lagReadings} readings; retry picked up after ${((firstProgress.at - restartedAt) / 1000).toFixed(1)} s; ` +
          `drained in ${(drainMs / 1000).toFixed(1)} s at ${drainRate.toFixed(0)} readings/s vs live ${liveRate.toFixed(0)}/s = ${ratio.toFixed(1)}×`,
      )
      await sleep(pick(ctx.mode, { test: 1000, short: 5000, full: 10_000 }))
      return { drainRatio: ratio, extraFailures: ctx.mode !== 'test' && ratio < 5 ? [`drain ratio ${ratio.toFixed(1)}× < 5×`] : [] }
    })
  },
}

// ---- 2. ingest kill -9 ×5 (external broker) -----------------------------

/** Waits until mosquitto reports at least one subscription (the ingest's). */
async function waitForSubscriber(url: string, timeoutMs: number): Promise<boolean> {
  const client = mqtt.connect(url, { reconnectPeriod: 0 })
  try {
    return await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs)
      client.on('message', (_topic, payload) => {
        if (Number(payload.toString()) >= 2) {
          clearTimeout(timer)
          resolve(true)
        }
      })
      client.on('connect', () => client.subscribe('$SYS/broker/subscriptions/count'))
    })
  } finally {
    client.end(true)
  }
}

const ingestKill: Scenario = {
  id: 2,
  name: 'ingest kill -9 ×5',
  run: async (ctx) => {
    const p = pick(ctx.mode, {
      test: { stations: 30, rate: 5, everyMs: 2000, downMs: 500 },
      short: { stations: 200, rate: 2, everyMs: 10_000, downMs: 2000 },
      full: { stations: 300, rate: 2, everyMs: 15_000, downMs: 3000 },
    })
    // Split deployment: stations -> mosquitto -> `tidewatch ingest` (persistent
    // session; its PUBACK waits for the spool). The ingest is what dies.
    const dir = join(ctx.root, 'mosquitto-2')
    const { mkdirSync } = await import('node:fs')
    mkdirSync(dir, { recursive: true })
    let mosq: TestMosquitto | undefined = await startMosquitto(dir, 'sys_interval 1\n')
    try {
      return await withRig(
        ctx,
        2,
        'ingest kill -9 ×5 (mosquitto + tidewatch ingest)',
        {
          id: 2,
          stations: p.stations,
          ratePerStation: p.rate,
          command: 'ingest',
          mqttUrl: mosq.url,
          stationUrl: () => mosq!.url,
          beforeLoad: async () => {
            if (!(await waitForSubscriber(mosq!.url, 30_000))) throw new Error('the ingest never subscribed at mosquitto')
          },
        },
        async (rig, notes) => {
          for (let i = 1; i <= 5; i++) {
            await sleep(p.everyMs)
            const snap = rig.load.snapshot()
            ctx.say(`  kill -9 ingest #${i} (acked so far ${snap.acked})`)
            await rig.platform.kill9()
            await sleep(p.downMs)
            await rig.platform.start()
          }
          await sleep(p.everyMs)
          notes.push(`ingest killed 5× every ${p.everyMs / 1000} s, down ${p.downMs / 1000} s each; acknowledged = mosquitto PUBACK`)
        },
      )
    } finally {
      await mosq.stop()
      mosq = undefined
    }
  },
}

// ---- 3 & 4. whole process kill -9 / clean broker restart ----------------

function processRestart(id: 3 | 4, how: 'kill9' | 'sigterm'): Scenario {
  const name = how === 'kill9' ? 'whole process kill -9' : 'broker restart (SIGTERM, restart)'
  return {
    id,
    name,
    run: (ctx) => {
      const p = pick(ctx.mode, {
        test: { stations: 30, rate: 5, beforeMs: 3000, downMs: 500, afterMs: 3000 },
        short: { stations: 300, rate: 2, beforeMs: 15_000, downMs: 2000, afterMs: 15_000 },
        full: { stations: 500, rate: 2, beforeMs: 30_000, downMs: 3000, afterMs: 30_000 },
      })
      return withRig(ctx, id, name, { id, stations: p.stations, ratePerStation: p.rate }, async (rig, notes) => {
        await sleep(p.beforeMs)
        const before = rig.load.snapshot()
        ctx.say(`  ${how === 'kill9' ? 'kill -9' : 'SIGTERM'} tidewatch up (acked so far ${before.acked}, pending ${before.pending})`)
        if (how === 'kill9') await rig.platform.kill9()
        else await rig.platform.stop()
        await sleep(p.downMs)
        await rig.platform.start()
        await sleep(p.afterMs)
        notes.push(`${how === 'kill9' ? 'kill -9' : 'SIGTERM'} at ${p.beforeMs / 1000} s, down ${p.downMs / 1000} s; ${rig.load.snapshot().disconnects} station disconnects`)
      })
    },
  }
}

// ---- 5. flaky 4G ---------------------------------------------------------

const flaky: Scenario = {
  id: 5,
  name: 'flaky 4G stations',
  run: (ctx) => {
    const p = pick(ctx.mode, {
      test: { stations: 50, rate: 2, durationMs: 10_000, meanCutMs: 3000, coverageEveryMs: 5000, coverageDownMs: 1500 },
      short: { stations: 200, rate: 1, durationMs: 90_000, meanCutMs: 20_000, coverageEveryMs: 30_000, coverageDownMs: 5000 },
      full: { stations: 200, rate: 1, durationMs: 600_000, meanCutMs: 30_000, coverageEveryMs: 60_000, coverageDownMs: 10_000 },
    })
    let proxy: FlakyProxy | undefined
    return withRig(
      ctx,
      5,
      'flaky 4G stations',
      {
        id: 5,
        stations: p.stations,
        ratePerStation: p.rate,
        stationUrl: () => `mqtt://127.0.0.1:${proxy!.port}`,
        beforeLoad: async (rig) => {
          proxy = createFlakyProxy({ target: { host: '127.0.0.1', port: rig.platform.mqttPort }, latencyMs: { min: 50, max: 300 }, meanTimeBetweenCutsMs: p.meanCutMs, seed: 5, log: silentLogger })
          await proxy.start()
        },
        loadOptions: { backoff: { minMs: 500, maxMs: 10_000 } },
      },
      async (_rig, notes) => {
        const end = Date.now() + p.durationMs
        let outages = 0
        while (Date.now() < end) {
          await sleep(Math.min(p.coverageEveryMs, end - Date.now()))
          if (Date.now() >= end) break
          // Lost coverage: every link drops and new connections are refused.
          proxy!.setLinkUp(false)
          outages++
          await sleep(p.coverageDownMs)
          proxy!.setLinkUp(true)
        }
        const st = proxy!.stats()
        notes.push(`${p.durationMs / 1000} s through the flaky proxy (50–300 ms, random cuts every ~${p.meanCutMs / 1000} s): ${st.cuts} cuts, ${outages} coverage losses of ${p.coverageDownMs / 1000} s, ${st.refused} refused connects`)
      },
    ).finally(() => proxy?.stop())
  },
}

// ---- 6. DR down ----------------------------------------------------------

const drDown: Scenario = {
  id: 6,
  name: 'DR target down',
  run: (ctx) => {
    const p = pick(ctx.mode, {
      test: { stations: 30, rate: 5, warmMs: 2000, outageMs: 4000 },
      short: { stations: 200, rate: 1, warmMs: 5000, outageMs: 30_000 },
      full: { stations: 200, rate: 1, warmMs: 10_000, outageMs: 300_000 },
    })
    let maxPrimaryLagS = 0
    let maxPrimaryLagReadings = 0
    return withRig(
      ctx,
      6,
      'DR target down',
      { id: 6, stations: p.stations, ratePerStation: p.rate, dr: true },
      async (rig, notes) => {
        await sleep(p.warmMs)
        ctx.say(`  stopping the DR influxd for ${p.outageMs / 1000} s`)
        await rig.dr!.stop()
        const primary = lagSampler(rig, 'primary', 500)
        const dr = lagSampler(rig, 'dr', 500)
        await sleep(p.outageMs)
        await primary.stop()
        await dr.stop()
        await rig.dr!.restart()
        maxPrimaryLagS = Math.max(0, ...primary.samples.map((s) => s.lagSeconds))
        maxPrimaryLagReadings = Math.max(0, ...primary.samples.map((s) => s.lagReadings))
        const drPeak = Math.max(0, ...dr.samples.map((s) => s.lagReadings))
        notes.push(`DR down ${p.outageMs / 1000} s: primary lag max ${maxPrimaryLagS.toFixed(1)} s / ${maxPrimaryLagReadings} readings (${primary.samples.length} samples); DR backlog peaked at ${drPeak}`)
        await sleep(pick(ctx.mode, { test: 1000, short: 5000, full: 10_000 }))
      },
      async (rig, settled, notes) => {
        const drStored = await readStored(rig.dr!.url)
        const d = diffStored(settled.stored, drStored)
        const same = d.onlyA === 0 && d.onlyB === 0 && d.valueDiffers === 0
        notes.push(`primary vs DR: ${d.total} points; only in primary ${d.onlyA}, only in DR ${d.onlyB}, values differ ${d.valueDiffers} → ${same ? 'IDENTICAL' : 'DIFFERENT'}`)
        const extraFailures = same ? [] : ['DR != primary']
        // "~0": a live batch waits at most flushIntervalMs; 5 s is far beyond that.
        if (ctx.mode !== 'test' && maxPrimaryLagS > 5) extraFailures.push(`primary lag reached ${maxPrimaryLagS.toFixed(1)} s during the DR outage`)
        return { drMatches: same, extraFailures }
      },
    )
  },
}

// ---- 7. spool full -------------------------------------------------------

const spoolFull: Scenario = {
  id: 7,
  name: 'spool full (backpressure)',
  run: (ctx) => {
    const p = pick(ctx.mode, {
      test: { stations: 30, rate: 10, spool: 64 * 1024, holdMs: 4000 },
      short: { stations: 100, rate: 2, spool: 256 * 1024, holdMs: 15_000 },
      full: { stations: 200, rate: 2, spool: 512 * 1024, holdMs: 30_000 },
    })
    return withRig(ctx, 7, 'spool full (backpressure)', { id: 7, stations: p.stations, ratePerStation: p.rate, spoolMaxBytes: p.spool }, async (rig, notes) => {
      await sleep(1000)
      ctx.say(`  stopping influxd; spool limit ${p.spool} bytes`)
      await rig.influx.stop()
      const deadline = Date.now() + 120_000
      let full = false
      while (!full && Date.now() < deadline) {
        await sleep(200)
        full = Boolean((await rig.platform.health())?.components.ingest?.spool.full)
      }
      if (!full) return { extraFailures: ['the spool never reported full'] }
      const atFull = rig.load.snapshot()
      rig.load.maxPending = 0
      await sleep(p.holdMs)
      const held = rig.load.snapshot()
      const acksWhileFull = held.acked - atFull.acked
      ctx.say(`  spool full: ${acksWhileFull} PUBACKs in ${p.holdMs / 1000} s, stations hold ${held.pending} readings`)
      await rig.influx.restart()
      notes.push(
        `spool full after ${atFull.acked} acks; in the next ${p.holdMs / 1000} s ${acksWhileFull} PUBACKs were sent while stations' unacknowledged readings grew from ${atFull.pending} to ${held.pending} (max ${rig.load.maxPending})`,
      )
      const extraFailures = held.pending <= atFull.pending ? ['no backpressure visible: station backlog did not grow while the spool was full'] : []
      return { maxPending: rig.load.maxPending, extraFailures }
    })
  },
}

export const scenarios: readonly Scenario[] = [influxOutage, ingestKill, processRestart(3, 'kill9'), processRestart(4, 'sigterm'), flaky, drDown, spoolFull]

export type { ScenarioContext }
