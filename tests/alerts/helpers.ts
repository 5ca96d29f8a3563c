import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { silentLogger } from '../../core/log.ts'
import { Registry } from '../../devices/registry.ts'
import type { AcceptedReading } from '../../core/reading.ts'
import type { SensorKind } from '../../core/sensors.ts'
import { createAlerter, type Alerter } from '../../alerts/alerter.ts'
import { AlertsConfigSchema, type AlertsConfig } from '../../core/alerts-config.ts'

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'tidewatch-alerts-'))
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

export function reading(stationId: string, ts: number, values: Partial<Record<SensorKind, number>>, late = false): AcceptedReading {
  return {
    stationId,
    ts,
    receivedAt: ts,
    late,
    values: Object.entries(values).map(([sensor, value]) => ({ sensor: sensor as SensorKind, value: value!, raw: value!, flags: [] })),
  }
}

export function smppConfig(port: number, extra: Record<string, unknown> = {}, smpp: Record<string, unknown> = {}): AlertsConfig {
  return AlertsConfigSchema.parse({
    smsChannel: 'smpp',
    smpp: { enabled: true, host: '127.0.0.1', port, ratePerSec: 200, enquireLinkMs: 5_000, responseTimeoutMs: 2_000, reconnectMinMs: 50, reconnectMaxMs: 500, throttleBackoffMs: 50, ...smpp },
    outbox: { retryBaseMs: 20, retryMaxMs: 200 },
    ...extra,
  })
}

export async function openAlerter(file: string, config: AlertsConfig, clock?: () => number): Promise<{ registry: Registry; alerter: Alerter }> {
  const registry = Registry.open(file)
  const alerter = await createAlerter({ db: registry.db, registry, config, log: silentLogger, clock })
  return { registry, alerter }
}

/** The test's own view of the outbox. */
export function outboxCounts(alerter: Alerter): Record<string, number> {
  const out: Record<string, number> = {}
  for (const m of alerter.messages({ limit: 1_000_000 })) out[m.status] = (out[m.status] ?? 0) + 1
  return out
}
