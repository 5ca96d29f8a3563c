/**
 * `npm run chaos [-- --short] [-- --only N[,M]] [-- --keep]`
 *
 * Runs the chaos scenarios of issue 3 (1–7) and the cluster scenarios of
 * issue 16 (11–17, tests/chaos/cluster-scenarios.ts) against real processes and prints
 * scenario | published | acknowledged | stored | duplicates | lost. Exits 1
 * when any scenario misses the Bar: lost > 0, stored != acknowledged, DR !=
 * primary, or a drain slower than 5× the live rate.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { scenarios } from './scenarios.ts'
import type { Mode, ScenarioResult } from './lib/harness.ts'
import { emptyTally } from './lib/ledger.ts'
import { formatTable } from './lib/table.ts'

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    short: { type: 'boolean', default: false },
    /** The sizes `npm test` uses, for debugging a scenario quickly. */
    tiny: { type: 'boolean', default: false },
    only: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
})

const mode: Mode = values.tiny ? 'test' : values.short ? 'short' : 'full'
const only = values.only ? new Set(values.only.split(',').map(Number)) : undefined
const root = mkdtempSync(join(tmpdir(), 'tidewatch-chaos-'))
const started = Date.now()
const say = (msg: string): void => {
  const t = ((Date.now() - started) / 1000).toFixed(0).padStart(5)
  process.stderr.write(`${t}s ${msg}\n`)
}

say(`chaos suite (${mode}) in ${root}`)
const results: ScenarioResult[] = []
for (const scenario of scenarios) {
  if (only && !only.has(scenario.id)) continue
  try {
    const r = await scenario.run({ root, mode, say, keep: values.keep })
    results.push(r)
    say(`[${r.id}] done in ${(r.durationMs / 1000).toFixed(0)} s: ${r.failures.length ? `FAIL: ${r.failures.join('; ')}` : 'ok'}`)
  } catch (err) {
    say(`[${scenario.id}] crashed: ${(err as Error).stack ?? String(err)}`)
    results.push({
      id: scenario.id,
      name: scenario.name,
      ...emptyTally(),
      durationMs: 0,
      notes: [],
      failures: [`crashed: ${(err as Error).message}`],
    })
  }
}

// Issue 16's cluster scenarios (11–17) on one local cluster of real processes.
if (!only || [...only].some((id) => id >= 11)) {
  const { runClusterScenarios } = await import('./cluster-run.ts')
  results.push(...(await runClusterScenarios({ root, mode, say, only })))
}

process.stdout.write(`\n${formatTable(results)}\n`)
process.stdout.write(`total ${((Date.now() - started) / 1000 / 60).toFixed(1)} min (${mode})\n`)
const failed = results.filter((r) => r.failures.length > 0)
if (failed.length === 0 && !values.keep) rmSync(root, { recursive: true, force: true })
else process.stdout.write(`scenario dirs kept in ${root}\n`)
process.exitCode = failed.length ? 1 : 0
