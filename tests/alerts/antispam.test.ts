/**
 * Anti-spam semantics found in review: the window is per subscriber, station,
 * sensor and level; a re-escalation after the window sends again; an alert
 * still queued when the water is safe again is cancelled, never sent late.
 * The SMS channel is SMPP towards a closed port where messages must stay
 * queued (a real SMSC that is down), otherwise the log channel.
 */
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { AlertsConfigSchema } from '../../core/alerts-config.ts'
import { freePort } from '../../core/free-port.ts'
import { openAlerter, reading, smppConfig, tempDir } from './helpers.ts'

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function setup(config = AlertsConfigSchema.parse({})) {
  const tmp = tempDir()
  let now = Date.parse('2026-03-10T08:00:00+07:00')
  const clock = () => now
  const { registry, alerter } = await openAlerter(join(tmp.dir, 'registry.db'), config, clock)
  await alerter.start()
  cleanups.push(() => tmp.cleanup(), () => registry.close(), () => alerter.stop())
  // A rice field station (the default zone); its nitrite rule is staff only, so the farmer's nitrite rule is set here.
  await registry.add({ id: 'st-a', name: 'Trạm A', lat: 9, lon: 105 })
  alerter.rules.set('st-a', 'no2', { levels: [{ name: 'warning', severity: 'warning', direction: 'above', threshold: 1, clear: 0.8 }] }, now)
  const farmer = alerter.subscribers.create({ phone: '+84911111111', stations: ['st-a'] }, now)
  const feed = (values: Record<string, number>) => {
    alerter.onAccepted([reading('st-a', now, values)])
    alerter.flush()
    now += 15 * 60_000
  }
  const rows = () => alerter.messages({ limit: 1000 }).filter((m) => m.subscriber_id === farmer.id && m.kind === 'alert')
  return { alerter, feed, rows, advance: (ms: number) => void (now += ms) }
}

describe('anti-spam window', () => {
  it('a salinity warning does not silence a nitrite warning', async () => {
    const { feed, rows } = await setup()
    feed({ salinity: 2.5 })
    feed({ salinity: 2.5 })
    feed({ no2: 1.5 })
    feed({ no2: 1.5 })
    const alerts = rows()
    expect(alerts.map((r) => [r.sensor, r.level, r.status === 'suppressed' ? 'suppressed' : 'sent'])).toEqual(
      expect.arrayContaining([
        ['salinity', 'warning', 'sent'],
        ['no2', 'warning', 'sent'],
      ]),
    )
  })

  it('a re-escalation to danger after the window sends again; within the window it does not', async () => {
    const { feed, rows, advance } = await setup()
    feed({ salinity: 5 })
    feed({ salinity: 5 }) // danger
    feed({ salinity: 3 }) // back to warning (below the 3.6 clear), incident stays open
    feed({ salinity: 5 })
    feed({ salinity: 5 }) // danger again within 6 h: suppressed
    advance(7 * 3_600_000)
    feed({ salinity: 3 })
    feed({ salinity: 5 })
    feed({ salinity: 5 }) // danger again after the window: sent
    const danger = rows().filter((r) => r.level === 'danger')
    expect(danger.map((r) => r.status === 'suppressed')).toEqual([false, true, false].slice(0, danger.length))
    expect(danger.filter((r) => r.status !== 'suppressed')).toHaveLength(2)
  })
})

describe('resolution', () => {
  it('cancels an alert still queued because the SMSC is down; no late danger, no resolved message', async () => {
    const port = await freePort()
    const { feed, rows } = await setup(smppConfig(port))
    feed({ salinity: 5 })
    feed({ salinity: 5 })
    expect(rows().filter((r) => r.level === 'danger').map((r) => r.status)).toEqual(['queued'])
    feed({ salinity: 1 })
    feed({ salinity: 1 })
    feed({ salinity: 1 })
    const after = rows()
    expect(after.filter((r) => r.level === 'danger').map((r) => [r.status, r.reason])).toEqual([['cancelled', 'resolved_before_send']])
  })
})
