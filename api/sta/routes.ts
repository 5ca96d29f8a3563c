import cors from '@fastify/cors'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { isTidewatchError } from '../../core/errors.ts'
import { levelSources, publicStations, requireQuery } from '../board/data.ts'
import { errorBody } from '../errors.ts'
import type { ApiDeps } from '../server.ts'
import { OPEN_V1_LICENSE } from '../routes/open-v1.ts'
import { answer, type Engine } from './engine.ts'
import { Graph } from './graph.ts'
import { parseOptions, queryPairs } from './parser.ts'

/**
 * OGC SensorThings API 1.1 (OGC 18-088), read-only, at /sta/v1.1:
 * Sensing Core and Filtering over the registry and InfluxDB
 * (docs/OPEN-DATA.md, "SensorThings API"). Public like the rest of the open
 * data: no token, any origin, enabled stations only, stored values only.
 */
export const STA_PREFIX = '/sta/v1.1'

export function staRoutes(deps: ApiDeps): FastifyPluginAsync {
  return async (app) => {
    // Reading public data needs no credentials, so every origin is safe.
    await app.register(cors, { origin: '*', methods: ['GET', 'HEAD'], exposedHeaders: ['x-license', 'link'], maxAge: 86_400 })

    const handle = async (req: FastifyRequest, reply: FastifyReply) => {
      const [rawPath = '', rawQuery = ''] = req.url.split(/\?(.*)/s)
      try {
        const pairs = queryPairs(rawQuery)
        const opts = parseOptions(pairs)
        const rest = rawPath.slice(STA_PREFIX.length).replace(/^\/+|\/+$/g, '')
        const segments = rest ? rest.split('/').map((s) => decodeSegment(s)) : []
        const now = Date.now()
        const src = levelSources(deps)
        const engine: Engine = {
          graph: new Graph(publicStations(deps.registry.list()), src.rules, now),
          query: requireQuery(deps.query),
          root: `${req.protocol}://${req.headers.host ?? 'localhost'}${STA_PREFIX}`,
        }
        const out = await answer(engine, segments, opts, pairs.filter(([n]) => n.startsWith('$')))
        void reply.header('x-license', OPEN_V1_LICENSE.license).header('link', `<${OPEN_V1_LICENSE.licenseUrl}>; rel="license"`)
        // Values change every few minutes; a short shared cache absorbs a dashboard polling the latest values.
        void reply.header('cache-control', 'public, max-age=30')
        if (out.kind === 'empty') return reply.code(204).send()
        if (out.kind === 'text') return reply.type(out.type).send(out.body)
        return reply.type('application/json; charset=utf-8').send(out.body)
      } catch (err) {
        if (isTidewatchError(err) && err.code === 'STA_QUERY_INVALID') {
          const status = err.details.status === 501 ? 501 : 400
          return reply.code(status).header('cache-control', 'no-store').send(errorBody(err.code, err.message, err.details))
        }
        throw err
      }
    }

    // Registered under the prefix /sta/v1.1 (api/server.ts), so the CORS preflight route stays inside it.
    const schema = {
      tags: ['SensorThings API 1.1'],
      summary: 'OGC SensorThings API 1.1 (read-only): Sensing Core and Filtering',
      description: 'Things, Locations, HistoricalLocations, Datastreams, Sensors, ObservedProperties, Observations, FeaturesOfInterest with $filter, $expand, $select, $orderby, $top, $skip, $count (OGC 18-088). See docs/OPEN-DATA.md.',
    }
    app.get('', { schema }, handle)
    app.get('/*', { schema }, handle)
  }
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}
