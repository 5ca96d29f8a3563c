import type { ScenarioResult } from './harness.ts'

/** The table of issue 3, then each scenario's measurements and verdict. */
export function formatTable(results: readonly ScenarioResult[]): string {
  const head = ['scenario', 'published', 'acknowledged', 'stored', 'duplicates', 'lost', 'time', 'verdict']
  const rows = results.map((r) => [
    `${r.id}. ${r.name}`,
    String(r.published),
    String(r.acknowledged),
    String(r.stored),
    String(r.duplicates),
    String(r.lost),
    `${(r.durationMs / 1000).toFixed(0)} s`,
    r.failures.length ? 'FAIL' : 'ok',
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)))
  const line = (cells: string[]): string => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`
  const out = [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line), '']
  for (const r of results) {
    for (const n of r.notes) out.push(`${r.id}: ${n}`)
    for (const f of r.failures) out.push(`${r.id}: FAIL ${f}`)
  }
  return out.join('\n')
}
