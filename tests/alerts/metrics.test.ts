/**
 * The alerter's metrics as core/metrics.ts families: the Prometheus type of
 * each family is right (counters end in _total, what is read when scraped is
 * a gauge), and the numbers follow what happened: a queue overflow, a
 * transition, an open incident, a message through the log channel.
 */
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { AlertsConfigSchema } from '../../core/alerts-config.ts'
import { renderPrometheus, type MetricFamily } from '../../core/metrics.ts'
import { openAlerter, reading, tempDir } from './helpers.ts'

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

function value(families: MetricFamily[], name: string, labels: Record<string, string> = {}): number | undefined {
  const family = families.find((f) => f.name === name)
  if (!family || family.type === 'summary') return undefined
  return family.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v))?.value
}

describe('alerter metrics', () => {
  it('reports counters and gauges with their Prometheus types, and counts an overflow, a transition and an open incident', async () => {
    const tmp = tempDir()
    const now = Date.parse('2026-03-10T08:00:00+07:00')
    const { registry, alerter } = await openAlerter(join(tmp.dir, 'registry.db'), AlertsConfigSchema.parse({ queueMax: 2 }), () => now)
    cleanups.push(() => tmp.cleanup(), () => registry.close(), () => alerter.stop())
    await alerter.start()
    await registry.add({ id: 'st-a', name: 'Trạm A', lat: 9, lon: 105, sensors: ['salinity'] })
    alerter.subscribers.create({ phone: '+84911111111', stations: ['st-a'] }, now)

    // Three readings into a queue of two: the oldest is dropped; the two kept are over the danger line.
    alerter.onAccepted([reading('st-a', now - 2000, { salinity: 1 }), reading('st-a', now - 1000, { salinity: 4.5 }), reading('st-a', now, { salinity: 4.6 })])
    expect(value(alerter.metrics(), 'tidewatch_alerts_queue_depth')).toBe(2)
    alerter.flush()

    const families = alerter.metrics()
    for (const f of families) expect(f.type, f.name).toBe(f.name.endsWith('_total') ? 'counter' : 'gauge')
    expect(value(families, 'tidewatch_alerts_queue_depth')).toBe(0)
    expect(value(families, 'tidewatch_alerts_queue_dropped_total')).toBe(1)
    expect(value(families, 'tidewatch_alerts_transitions_total')).toBeGreaterThanOrEqual(1)
    expect(value(families, 'tidewatch_alerts_incidents_open')).toBe(1)
    expect(value(families, 'tidewatch_alerts_readings_skipped_total', { reason: 'late' })).toBe(0)
    expect(value(families, 'tidewatch_alerts_channel_ready', { channel: 'log' })).toBe(1)
    expect(families.find((f) => f.name === 'tidewatch_alerts_outbox')?.samples.length).toBeGreaterThanOrEqual(1)

    const text = renderPrometheus(families)
    expect(text).toContain('# TYPE tidewatch_alerts_messages_total counter')
    expect(text).toContain('tidewatch_alerts_incidents_open 1')
  })
})
