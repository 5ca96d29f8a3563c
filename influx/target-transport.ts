import type { Config, InfluxTarget } from '../core/config.ts'
import { createQueryClient } from './query.ts'
import { applyRetention, RAW_RP } from './retention.ts'
import { createWriteTransport, type WriteTransport } from './write-transport.ts'

/** Whether tidewatch manages this target's retention policies (InfluxDB 1.x with `influx.applyRetention`): then everything it writes goes to RAW_RP. */
export function managesRetention(config: Readonly<Config>, t: InfluxTarget): boolean {
  return t.mode === 'v1' && config.influx.applyRetention
}

/**
 * The write transport for one configured InfluxDB target. A v1 target whose
 * retention tidewatch manages (`influx.applyRetention`) writes into the `raw`
 * retention policy, and gets the policies and rollup of docs/DATA.md before
 * its first write; any other target is written as configured. The platform's
 * ingest and the cluster's writers both write through this.
 */
export function targetTransport(config: Readonly<Config>, t: InfluxTarget): WriteTransport {
  if (!managesRetention(config, t)) return createWriteTransport(t)
  return createWriteTransport(t, {
    defaultRetentionPolicy: RAW_RP,
    prepare: () =>
      applyRetention(createQueryClient({ url: t.url, database: t.database, username: t.username, password: t.password }), {
        database: t.database,
        rawRetention: config.influx.rawRetention,
      }),
  })
}
