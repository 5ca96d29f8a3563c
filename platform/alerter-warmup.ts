import type { Logger } from '../core/log.ts'
import type { InfluxQueryClient } from '../influx/query.ts'
import { READING_MEASUREMENT, carries, queryPerSensor } from '../influx/schema.ts'
import { SENSOR_KINDS } from '../core/sensors.ts'
import type { Alerter } from '../alerts/alerter.ts'

/**
 * Gives a freshly started alerter the last 2 h of on-time readings, so
 * rate-of-rise and time-over-threshold rules work right after a restart
 * instead of waiting for their windows to fill from the live stream.
 */
export async function seedAlerter(alerter: Alerter, query: InfluxQueryClient | undefined, log: Logger): Promise<void> {
  if (!query) return
  try {
    const series = await queryPerSensor(query, SENSOR_KINDS, (s) => `SELECT "${s}" AS "value" FROM "${READING_MEASUREMENT}" WHERE time > now() - 2h AND "late" = false AND ${carries(s)} GROUP BY "station"`)
    const samples = series.flatMap((s) => s.values.map(([ts, value]) => ({ station: s.tags!.station!, sensor: s.tags!.sensor!, ts: ts as number, value: value as number })))
    alerter.seed(samples)
    log.info({ samples: samples.length }, 'alerter warmed from stored readings')
  } catch (err) {
    // InfluxDB down at start-up: the rise windows fill from the live stream instead.
    log.warn({ err: (err as Error).message }, 'cannot warm the alerter from InfluxDB')
  }
}
