/**
 * The short version of issue 16's cluster chaos scenarios (tests/chaos/
 * cluster-scenarios.ts) inside `npm test`: one local cluster of real
 * processes for the file (3 nats-server, PostgreSQL, 2 influxd, HAProxy,
 * 2 edges and 4 writers as `tidewatch` child processes), a few hundred
 * readings per scenario from real MQTT station clients through HAProxy,
 * counted in both InfluxDBs. `npm run chaos` runs the longer versions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { COMMAND_NAMES } from '../../cli/main.ts'
import { missingEngines, startLocalCluster, type LocalCluster } from '../../cluster/local/cluster.ts'
import { clusterScenarios } from '../chaos/cluster-scenarios.ts'
import { tempDir } from '../helpers/platform.ts'

/** A stand-in for bin/tidewatch.js, to debug a scenario against a work-in-progress node. */
const nodeBin = process.env.TIDEWATCH_CLUSTER_NODE_BIN
const runnable = missingEngines().length === 0 && (nodeBin !== undefined || (COMMAND_NAMES.includes('edge') && COMMAND_NAMES.includes('writer')))

describe.skipIf(!runnable)('cluster chaos (short versions, real processes, both InfluxDBs)', () => {
  const tmp = tempDir('tidewatch-cluster-chaos-')
  let cluster: LocalCluster
  beforeAll(async () => {
    cluster = await startLocalCluster({
      dir: tmp.dir,
      apis: 0,
      stations: 0,
      simulator: false,
      nodeBin,
      nodeLogLevel: 'warn',
      // Short, so a log without quorum is noticed within a second in a short test.
      settings: { 'cluster.nats.publishTimeoutMs': 1000 },
    })
  }, 180_000)
  afterAll(async () => {
    await cluster?.stop()
    tmp.cleanup()
  }, 60_000)

  for (const scenario of clusterScenarios) {
    it(`${scenario.id}. ${scenario.name}: stored = acknowledged in both InfluxDBs`, async () => {
      const r = await scenario.run({ cluster, mode: 'test', say: () => undefined })
      // The figures the report quotes: acknowledged, lost in each InfluxDB, where the time went.
      console.log(`[${r.id}] acknowledged ${r.acknowledged}; DC stored ${r.stored} lost ${r.lost}; DR stored ${r.dr.stored} lost ${r.dr.lost}\n  ${r.notes.join('\n  ')}`)
      expect(r.acknowledged).toBeGreaterThan(0)
      expect({ lost: r.lost, drLost: r.dr.lost, sample: [...r.lostSample, ...r.dr.lostSample] }).toEqual({ lost: 0, drLost: 0, sample: [] })
      expect(r.stored).toBe(r.acknowledged)
      expect(r.dr.stored).toBe(r.acknowledged)
      expect(r.failures).toEqual([])
    }, 240_000)
  }
})
