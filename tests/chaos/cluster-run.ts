/**
 * `npm run chaos`'s cluster part: one local cluster (cluster/local/cluster.ts)
 * for all of issue 16's scenarios, run one after another under load.
 */
import { join } from 'node:path'
import { COMMAND_NAMES } from '../../cli/main.ts'
import { missingEngines, startLocalCluster } from '../../cluster/local/cluster.ts'
import { clusterScenarios } from './cluster-scenarios.ts'
import type { Mode, ScenarioResult } from './lib/harness.ts'

export async function runClusterScenarios(opts: { root: string; mode: Mode; say(msg: string): void; only?: ReadonlySet<number> }): Promise<ScenarioResult[]> {
  const missing = missingEngines()
  if (missing.length) {
    opts.say(`cluster scenarios skipped: ${missing.join(', ')} not installed`)
    return []
  }
  if (!COMMAND_NAMES.includes('edge') || !COMMAND_NAMES.includes('writer')) {
    opts.say('cluster scenarios skipped: this build has no tidewatch edge / writer commands yet')
    return []
  }
  opts.say('starting the local cluster (3 nats, postgres, 2 influxd, haproxy, 2 edges, 4 writers)')
  const cluster = await startLocalCluster({ dir: join(opts.root, 'cluster'), apis: 0, stations: 0, simulator: false, nodeLogLevel: 'warn', settings: { 'cluster.nats.publishTimeoutMs': 1000 } })
  const results: ScenarioResult[] = []
  try {
    for (const scenario of clusterScenarios) {
      if (opts.only && !opts.only.has(scenario.id)) continue
      opts.say(`[${scenario.id}] ${scenario.name}`)
      const r = await scenario.run({ cluster, mode: opts.mode, say: opts.say })
      results.push(r)
      opts.say(`[${r.id}] done in ${(r.durationMs / 1000).toFixed(0)} s: ${r.failures.length ? `FAIL: ${r.failures.join('; ')}` : 'ok'}`)
    }
  } finally {
    await cluster.stop()
  }
  return results
}
