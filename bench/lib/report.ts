/** The bench report: one row per measured figure, grouped by scenario, plus the bars. */
export interface Row {
  scenario: string
  metric: string
  value: string
}

export interface ScenarioReport {
  id: string
  name: string
  verdict: 'ok' | 'FAIL' | 'skipped'
  /** Loss check, when the scenario stores readings. */
  loss?: { acknowledged: number; stored: number; lost: number; extra: number }
  figures: Record<string, unknown>
  rows: Row[]
  notes: string[]
}

export interface Bar {
  bar: string
  measured: string
  holds: boolean | undefined
}

export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string => `| ${cells.map((c, i) => (i === 0 || i === 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n')
}

export function formatReport(meta: Record<string, unknown>, scenarios: readonly ScenarioReport[], bars: readonly Bar[]): string {
  const out: string[] = []
  out.push(`tidewatch bench — ${meta.date} — ${meta.cpus} cores${meta.cpuModel ? ` (${meta.cpuModel})` : ''}, ${meta.ramGb} GB RAM, node ${meta.node}, mode ${meta.mode}`)
  if (meta.loadAvgAtStart) out.push(`load average (1/5/15 min) at start ${(meta.loadAvgAtStart as number[]).join(' / ')}, at end ${(meta.loadAvgAtEnd as number[]).join(' / ')}`)
  out.push('')
  out.push(table(['scenario', 'metric', 'value'], scenarios.flatMap((s) => s.rows.map((r) => [r.scenario, r.metric, r.value]))))
  out.push('')
  out.push(table(['scenario', 'acknowledged', 'stored', 'lost', 'verdict'], scenarios.map((s) => [`${s.id}. ${s.name}`, String(s.loss?.acknowledged ?? '-'), String(s.loss?.stored ?? '-'), String(s.loss?.lost ?? '-'), s.verdict])))
  out.push('')
  out.push(table(['bar', 'measured', 'holds'], bars.map((b) => [b.bar, b.measured, b.holds === undefined ? 'n/a' : b.holds ? 'yes' : 'NO'])))
  for (const s of scenarios) for (const n of s.notes) out.push(`${s.id}: ${n}`)
  return out.join('\n')
}
