import { describe, expect, it } from 'vitest'
import { collectMetrics, renderPrometheus, type MetricFamily } from '../../core/metrics.ts'

describe('core/metrics.ts renderPrometheus', () => {
  it('renders a summary as quantile lines plus _sum and _count, quantile after the own labels', () => {
    const text = renderPrometheus([
      { name: 'x_seconds', help: 'h', type: 'summary', samples: [{ labels: { target: 'primary' }, quantiles: [[0.5, 0.01], [1, 0.2]], sum: 3, count: 40 }] },
    ])
    expect(text.split('\n')).toEqual([
      '# HELP x_seconds h',
      '# TYPE x_seconds summary',
      'x_seconds{target="primary",quantile="0.5"} 0.01',
      'x_seconds{target="primary",quantile="1"} 0.2',
      'x_seconds_sum{target="primary"} 3',
      'x_seconds_count{target="primary"} 40',
      '',
    ])
  })

  it('merges families of one name from several sources under one TYPE line, and leaves out a type conflict with a comment', () => {
    const text = renderPrometheus([
      { name: 'w_total', help: 'writes', type: 'counter', samples: [{ labels: { lane: 'live' }, value: 1 }] },
      { name: 'w_total', help: 'writes', type: 'counter', samples: [{ labels: { lane: 'backlog' }, value: 2 }] },
      { name: 'w_total', help: 'writes', type: 'gauge', samples: [{ value: 9 }] },
    ])
    expect(text.match(/# TYPE w_total/g)).toHaveLength(1)
    expect(text).toContain('w_total{lane="live"} 1\nw_total{lane="backlog"} 2')
    expect(text).toContain('# left out: w_total as gauge, already a counter')
    expect(text).not.toContain(' 9')
  })

  it('escapes label values and help text, and spells non-finite values as the format does', () => {
    const text = renderPrometheus([{ name: 'g', help: 'a\\b\nc', type: 'gauge', samples: [{ labels: { r: 'say "x"\n' }, value: NaN }, { value: Infinity }] }])
    expect(text).toContain('# HELP g a\\\\b\\nc')
    expect(text).toContain('g{r="say \\"x\\"\\n"} NaN')
    expect(text).toContain('g +Inf')
  })

  it('refuses at compile time a counter not ending in _total and a quantile label outside a summary', () => {
    const families: MetricFamily[] = [
      // @ts-expect-error a counter's name ends in _total
      { name: 'requests', help: 'h', type: 'counter', samples: [] },
      // @ts-expect-error quantile is a summary's label
      { name: 'delay_seconds', help: 'h', type: 'gauge', samples: [{ labels: { quantile: '0.5' }, value: 1 }] },
    ]
    expect(families).toHaveLength(2)
  })

  it('collects every source; a failing source becomes a note, the others still render', async () => {
    const { families, failed } = await collectMetrics([
      { metrics: () => [{ name: 'a', help: 'h', type: 'gauge', samples: [{ value: 1 }] }] },
      { metrics: async () => Promise.reject(new Error('database is locked')) },
    ])
    expect(families.map((f) => f.name)).toEqual(['a'])
    expect(failed).toEqual(['database is locked'])
  })
})
