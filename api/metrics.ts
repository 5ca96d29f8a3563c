/**
 * Prometheus text exposition (format 0.0.4) built from plain samples, so each
 * component reports numbers and only this file knows the syntax.
 */
export interface Sample {
  name: string
  help: string
  type: 'counter' | 'gauge'
  values: Array<{ labels?: Record<string, string>; value: number }>
}

function labelText(labels?: Record<string, string>): string {
  if (!labels || Object.keys(labels).length === 0) return ''
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
  return `{${parts.join(',')}}`
}

export function renderPrometheus(samples: readonly Sample[]): string {
  const out: string[] = []
  for (const s of samples) {
    out.push(`# HELP ${s.name} ${s.help}`, `# TYPE ${s.name} ${s.type}`)
    for (const v of s.values) out.push(`${s.name}${labelText(v.labels)} ${Number.isFinite(v.value) ? v.value : 0}`)
  }
  return out.join('\n') + '\n'
}
