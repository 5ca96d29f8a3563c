/**
 * The metrics contract: every component reports its own numbers as metric
 * families through `metrics()`; /metrics only concatenates what they return
 * and renders it here, in the Prometheus text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/). Only this
 * file knows the syntax.
 *
 * Why not prom-client (15.1, installed): measured here (Node 20, 2 cores,
 * farm-bench, 7 runs), a node process that imports it takes 156 ms wall and
 * 52 MiB against 94 ms and 42 MiB bare: ~60 ms and 10 MiB more for every
 * process that loads the platform (each worker, once the platform splits),
 * for a t-digest and a cluster aggregator we do not use. Its model is the other way
 * round from ours: mutable Counter/Gauge/Summary objects registered in a
 * registry (a process-wide default one unless each is passed around), and a
 * Summary computes its own quantiles from observe() calls. Our components
 * already keep plain counters and their own windows (TargetWriter's last
 * 1,024 writes, the event loop's 10 s histogram); with prom-client each would
 * record everything twice or wrap every number in a collect() callback. What
 * we need from it is only the renderer below: about 60 lines, no dependency,
 * and the types make the two classic mistakes (a counter not ending in
 * `_total`, a quantile on a gauge) fail to compile.
 */

/** Label values are escaped on output; `quantile` belongs to summaries only (SummarySample). */
export type Labels = Readonly<Record<string, string>> & { readonly quantile?: never }

export interface ValueSample {
  labels?: Labels
  value: number
}

/**
 * One summary: quantiles over the component's own window, and since start
 * the count and sum of everything observed (rendered as `_count`, `_sum`).
 * Quantile 1 is the window's maximum.
 */
export interface SummarySample {
  labels?: Labels
  quantiles: ReadonlyArray<readonly [quantile: number, value: number]>
  sum: number
  count: number
}

interface FamilyBase {
  /** [a-zA-Z_:][a-zA-Z0-9_:]*, prefixed `tidewatch_`. */
  name: string
  help: string
}

/** Only ever goes up (resets on restart); by convention its name ends in `_total`. */
export interface CounterFamily extends FamilyBase {
  type: 'counter'
  name: `${string}_total`
  samples: readonly ValueSample[]
}

export interface GaugeFamily extends FamilyBase {
  type: 'gauge'
  samples: readonly ValueSample[]
}

export interface SummaryFamily extends FamilyBase {
  type: 'summary'
  samples: readonly SummarySample[]
}

export type MetricFamily = CounterFamily | GaugeFamily | SummaryFamily

/** What a component exposes: its own families, computed when scraped. */
export interface MetricsSource {
  metrics(): readonly MetricFamily[] | Promise<readonly MetricFamily[]>
}

/** Collects every source's families in order; a source that fails is reported as a comment, not a failed scrape. */
export async function collectMetrics(sources: readonly MetricsSource[]): Promise<{ families: MetricFamily[]; failed: string[] }> {
  const settled = await Promise.allSettled(sources.map(async (s) => s.metrics()))
  const families: MetricFamily[] = []
  const failed: string[] = []
  for (const r of settled) {
    if (r.status === 'fulfilled') families.push(...r.value)
    else failed.push(r.reason instanceof Error ? r.reason.message : String(r.reason))
  }
  return { families, failed }
}

const escapeHelp = (s: string): string => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')
const escapeLabel = (s: string): string => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')

function labelText(labels: Readonly<Record<string, string>> | undefined, quantile?: number): string {
  const parts = Object.entries(labels ?? {}).map(([k, v]) => `${k}="${escapeLabel(v)}"`)
  // Last, after the component's own labels: `{target="primary",quantile="0.99"}`.
  if (quantile !== undefined) parts.push(`quantile="${quantile}"`)
  return parts.length ? `{${parts.join(',')}}` : ''
}

function numberText(v: number): string {
  if (Number.isNaN(v)) return 'NaN'
  if (v === Infinity) return '+Inf'
  if (v === -Infinity) return '-Inf'
  return String(v)
}

/**
 * Renders families as Prometheus text. Families of the same name from several
 * sources (one per target, one per lane) become one family under one TYPE
 * line, as the format requires; one whose type disagrees with the first of
 * its name is left out and said so in a `#` comment line, which scrapers
 * ignore, rather than failing the whole scrape.
 */
export function renderPrometheus(families: readonly MetricFamily[], notes: readonly string[] = []): string {
  const byName = new Map<string, MetricFamily[]>()
  const out: string[] = notes.map((n) => `# ${escapeHelp(n)}`)
  for (const f of families) {
    const same = byName.get(f.name)
    if (!same) byName.set(f.name, [f])
    else if (same[0]!.type === f.type) same.push(f)
    else out.push(`# left out: ${f.name} as ${f.type}, already a ${same[0]!.type}`)
  }
  for (const [name, group] of byName) {
    const first = group[0]!
    out.push(`# HELP ${name} ${escapeHelp(first.help)}`, `# TYPE ${name} ${first.type}`)
    for (const f of group) {
      if (f.type === 'summary') {
        for (const s of f.samples) {
          for (const [q, v] of s.quantiles) out.push(`${name}${labelText(s.labels, q)} ${numberText(v)}`)
          out.push(`${name}_sum${labelText(s.labels)} ${numberText(s.sum)}`, `${name}_count${labelText(s.labels)} ${numberText(s.count)}`)
        }
      } else {
        for (const s of f.samples) out.push(`${name}${labelText(s.labels)} ${numberText(s.value)}`)
      }
    }
  }
  return out.join('\n') + '\n'
}
