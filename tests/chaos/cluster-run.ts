/**
 * `npm run chaos`'s cluster part: one local cluster (cluster/local/cluster.ts)
 * for all of issue 16's scenarios, run one after another under load.
 */
import { spawnSync } from 'node:child_process'
import { join, resolve } from 'node:path'
import { COMMAND_NAMES } from '../../cli/main.ts'
import { missingEngines, startLocalCluster } from '../../cluster/local/cluster.ts'
import { clusterScenarios } from './cluster-scenarios.ts'
import type { Mode, ScenarioResult } from './lib/harness.ts'
import { emptyTally } from './lib/ledger.ts'

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
  const results: ScenarioResult[] = []
  if (opts.only && !clusterScenarios.some((s) => opts.only!.has(s.id))) {
    if (opts.only.has(16)) results.push(alerterFailover(opts.say))
    return results
  }
  opts.say('starting the local cluster (3 nats, postgres, 2 influxd, haproxy, 2 edges, 4 writers)')
  const cluster = await startLocalCluster({ dir: join(opts.root, 'cluster'), apis: 0, stations: 0, simulator: false, nodeLogLevel: 'warn', settings: { 'cluster.nats.publishTimeoutMs': 1000 } })
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
  if (!opts.only || opts.only.has(16)) results.push(alerterFailover(opts.say))
  return results
}

/**
 * Scenario 16 (issue 16's 6): kill -9 of the active alerter during an
 * incident. It needs its own set-up (two alerter nodes as child processes, a
 * real SMPP server counting each farmer's SMS, a reference alerter), which
 * tests/cluster/alerter-failover.test.ts already builds; the chaos run runs
 * that file and reports it as a scenario, with the figures it prints.
 */
function alerterFailover(say: (msg: string) => void): ScenarioResult {
  say('[16] kill -9 of the active alerter during an incident (tests/cluster/alerter-failover.test.ts)')
  const started = Date.now()
  const root = resolve(import.meta.dirname, '../..')
  const run = spawnSync(process.execPath, [join(root, 'node_modules/vitest/vitest.mjs'), 'run', 'tests/cluster/alerter-failover.test.ts'], { cwd: root, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' } })
  const out = `${run.stdout}\n${run.stderr}`
  // vitest colours its output even without a terminal: strip the escapes before reading the figures line.
  const figures = out.replace(/\x1b\[[0-9;]*m/g, '').split('\n').filter((l) => l.startsWith('alerter failover:'))
  const failures = run.status === 0 ? [] : [`alerter failover test failed (exit ${run.status}): ${out.split('\n').find((l) => /AssertionError|Error:/.test(l))?.trim() ?? 'see its output'}`]
  const result: ScenarioResult = {
    id: 16,
    name: 'kill -9 of the active alerter mid-incident: each farmer gets each SMS exactly once (SMPP)',
    durationMs: Date.now() - started,
    notes: figures,
    failures,
    ...emptyTally(),
  }
  say(`[16] done in ${(result.durationMs / 1000).toFixed(0)} s: ${failures.length ? `FAIL: ${failures.join('; ')}` : 'ok'}${figures.length ? ` — ${figures.join(' ')}` : ''}`)
  return result
}
