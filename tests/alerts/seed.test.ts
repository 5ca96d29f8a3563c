import { join } from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { AlertsConfigSchema } from '../../core/alerts-config.ts'
import { openAlerter, reading, tempDir } from './helpers.ts'

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function fresh() {
  const tmp = tempDir()
  const now = Date.parse('2026-03-10T08:00:00+07:00')
  const { registry, alerter } = await openAlerter(join(tmp.dir, 'registry.db'), AlertsConfigSchema.parse({}), () => now)
  cleanups.push(() => tmp.cleanup(), () => registry.close(), () => alerter.stop())
  await registry.add({ id: 'st-r', name: 'R', lat: 9, lon: 105 })
  const feed = (ts: number, salinity: number) => {
    alerter.onAccepted([reading('st-r', ts, { salinity })])
    alerter.flush()
  }
  const rises = () => alerter.events({ limit: 100 }).filter((e) => (e as { ladder?: string }).ladder === 'rise')
  return { alerter, feed, rises, now }
}

it('rate-of-rise works right after a restart when the window is warmed from stored readings', async () => {
  const warm = await fresh()
  warm.alerter.seed([
    { station: 'st-r', sensor: 'salinity', ts: warm.now - 50 * 60_000, value: 0.9 },
    { station: 'st-r', sensor: 'salinity', ts: warm.now - 35 * 60_000, value: 1.0 },
  ])
  warm.feed(warm.now - 20 * 60_000, 1.9)
  warm.feed(warm.now - 5 * 60_000, 1.95)
  expect(warm.rises().length).toBeGreaterThan(0)

  // The same readings without the warm window: +0.05 within the hour, no rise.
  const cold = await fresh()
  cold.feed(cold.now - 20 * 60_000, 1.9)
  cold.feed(cold.now - 5 * 60_000, 1.95)
  expect(cold.rises()).toHaveLength(0)
})
