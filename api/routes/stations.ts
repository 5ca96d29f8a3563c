import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { TidewatchError } from '../../core/errors.ts'
import { STATION_ID_PATTERN } from '../../core/protocol.ts'
import { SENSORS, type SensorKind } from '../../core/sensors.ts'
import type { Station } from '../../devices/registry.ts'
import { quoteString } from '../../influx/query.ts'
import type { ApiDeps } from '../server.ts'

export const StationParams = z.object({ id: z.string().regex(STATION_ID_PATTERN, 'must match ^[A-Za-z0-9_-]{1,64}$') })

/** The public view of a station: never the password hash. */
export function publicStation(s: Station) {
  return {
    id: s.id,
    name: s.name,
    commune: s.commune,
    district: s.district,
    lat: s.lat,
    lon: s.lon,
    coast: s.coast,
    intervalSec: s.intervalSec,
    enabled: s.enabled,
    sensors: s.sensors.map((x) => ({ kind: x.kind, unit: SENSORS[x.kind].unit, calibration: { offset: x.offset, scale: x.scale } })),
    createdAt: new Date(s.createdAt).toISOString(),
    lastSeenAt: s.lastSeenAt ? new Date(s.lastSeenAt).toISOString() : null,
  }
}

export function stationRoutes(deps: ApiDeps): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<ZodTypeProvider>()

    app.get('/stations', async () => ({ stations: deps.registry.list().map(publicStation) }))

    app.get('/stations/:id', { schema: { params: StationParams } }, async (req) => {
      return publicStation(deps.registry.require(req.params.id))
    })

    app.get('/stations/:id/latest', { schema: { params: StationParams } }, async (req) => {
      const station = deps.registry.require(req.params.id)
      if (!deps.query) throw new TidewatchError('INFLUX_UNAVAILABLE', {}, 'no InfluxDB target configured')
      // last() orders by point time, i.e. the device timestamp: a backlog
      // arriving after an outage never replaces a newer value.
      const [series = []] = await deps.query.query(
        `SELECT last("value") AS "value" FROM "reading" WHERE "station" = ${quoteString(station.id)} GROUP BY "sensor"`,
      )
      const sensors: Partial<Record<SensorKind, { value: number; unit: string; ts: string }>> = {}
      for (const s of series) {
        const kind = s.tags?.sensor as SensorKind | undefined
        const row = s.values[0]
        if (!kind || !row || !(kind in SENSORS)) continue
        sensors[kind] = { value: row[1] as number, unit: SENSORS[kind].unit, ts: new Date(row[0] as number).toISOString() }
      }
      return { station: station.id, sensors }
    })
  }
}
