/**
 * Issue 12, "authentication never starves the data path", against real
 * servers: influxd, the embedded broker + ingest, MQTT.js stations each on
 * its own loopback address, and 2,000 wrong-password CONNECTs for one real
 * station id from another address (bench/connect-flood.ts is the driver).
 *
 * House rule: no timing is asserted. The PUBACK p50/p99, good-CONNECT and
 * /health latencies are printed; what is asserted is the outcome: good
 * stations stay connected, every reading is acknowledged and stored, the
 * flood is throttled and locked out (counted, logged, rate-limited), and
 * good CONNECTs succeed during it.
 */
import { expect, it } from 'vitest'
import { DEFAULT_FLOOD, describeFlood, runConnectFlood, type FloodResult } from '../../bench/connect-flood.ts'
import { capturedLogger, eventually, platformPerFile } from '../helpers/platform.ts'

const captured = capturedLogger()
const logLines = captured.lines
const env = platformPerFile({ log: captured.log })

it('2,000 bad-password CONNECTs in 10 s: 100 stations keep publishing, every reading is stored, good CONNECTs succeed, the flood is locked out', async () => {
  const r: FloodResult = await runConnectFlood(env.tp, DEFAULT_FLOOD)
  console.log(`connect flood (figures, not asserted):\n${describeFlood(r)}`)
  const c = env.tp.platform.broker!.counters

  // The data path: nobody was dropped, everything was acknowledged and is queryable.
  expect(r.goodDisconnects).toBe(0)
  expect(r.pubackDuring.length).toBeGreaterThan(0)
  expect(r.acked).toBe(r.published)
  const stored = await eventually(async () => {
    const n = await env.influx.values(`"station" =~ /^cm-fl-[0-9]+$/`, ['salinity'])
    return n === r.published ? n : undefined
  }, 30_000)
  expect(stored).toBe(r.published)

  // Good CONNECTs during the flood: fresh stations (scrypt on the worker) and the attacked station itself (verified before).
  expect(r.goodConnectFailures).toBe(0)
  expect(r.goodConnectMs).toHaveLength(DEFAULT_FLOOD.probes)
  expect(r.targetReconnectMs).toHaveLength(DEFAULT_FLOOD.probes)

  // The flood: every CONNECT answered or dropped, none accepted, and almost none cost a password check.
  const sent = Object.values(r.floodByCode).reduce((a, b) => a + b, 0)
  expect(sent).toBe(DEFAULT_FLOOD.flood)
  expect(r.floodByCode['0'] ?? 0).toBe(0)
  expect(c.connectsRefused.bad_credentials).toBeLessThan(50)
  expect(c.connectsRefused.throttled + c.connectsRefused.locked).toBeGreaterThan(DEFAULT_FLOOD.flood - 50)
  expect(c.lockouts).toBeGreaterThan(0)

  // Security events: lockouts logged with their scope, the flood's lines capped and the rest counted.
  const lockouts = logLines.filter((l) => l.event === 'mqtt.lockout')
  expect(lockouts.map((l) => l.scope)).toEqual(expect.arrayContaining(['address', 'username']))
  expect(lockouts.find((l) => l.scope === 'username')).toMatchObject({ key: 'cm-fl-target', component: 'broker' })
  await env.tp.stop()
  const throttled = logLines.filter((l) => l.event === 'mqtt.auth.throttled')
  const suppressed = throttled.reduce((n, l) => n + ((l.suppressed as number | undefined) ?? 0), 0)
  expect(throttled.length).toBeLessThan(DEFAULT_FLOOD.flood / 5)
  expect(suppressed).toBeGreaterThan(0)
}, 180_000)
