import { promisify } from 'node:util'
import { gzip } from 'node:zlib'
import cors from '@fastify/cors'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { isTidewatchError } from '../../core/errors.ts'
import type { InfluxQueryClient } from '../../influx/query.ts'
import type { Station } from '../../devices/registry.ts'
import { levelSources, publicStations, requireQuery } from '../board/data.ts'
import { errorBody } from '../errors.ts'
import type { ApiDeps } from '../server.ts'
import { OPEN_V1_LICENSE } from '../routes/open-v1.ts'
import { answer, type Engine } from './engine.ts'
import { Graph } from './graph.ts'
import { stationsFingerprint, TtlCache } from './cache.ts'
import { LATEST_CACHE_DEFAULTS, LatestCache } from './latest-cache.ts'
import { parseOptions, queryPairs } from './parser.ts'
import { z } from 'zod'
import { errorsAt, media, noContent, selfValidatedRoute } from '../openapi.ts'

/**
 * OGC SensorThings API 1.1 (OGC 18-088), read-only, at /sta/v1.1:
 * Sensing Core and Filtering over the registry and InfluxDB
 * (docs/OPEN-DATA.md, "SensorThings API"). Public like the rest of the open
 * data: no token, any origin, enabled stations only, stored values only.
 */
export const STA_PREFIX = '/sta/v1.1'
/** Below this, compressing costs more than it saves on a phone or LGSP link. */
const GZIP_FROM_CHARS = 64 * 1024
const gzipAsync = promisify(gzip)
/** A station enabled, disabled, added or edited shows in the API within this long. */
export const REGISTRY_CHECK_MS = 1000

export function staRoutes(deps: ApiDeps): FastifyPluginAsync {
  return async (app) => {
    // Reading public data needs no credentials, so every origin is safe.
    await app.register(cors, { origin: '*', methods: ['GET', 'HEAD'], exposedHeaders: ['x-license', 'link'], maxAge: 86_400 })

    const latest = new LatestCache(requireQueryLazy(deps))
    const graphs = new TtlCache<Graph>({ ttlMs: LATEST_CACHE_DEFAULTS.freshMs, maxEntries: 1, maxBytes: Infinity })
    // 7 MB is the latest-values answer for 1,000 stations (bench/sta.ts); room for a few such.
    const bodies = new TtlCache<CachedBody>({ ttlMs: LATEST_CACHE_DEFAULTS.freshMs, maxEntries: 32, maxBytes: 64 * 1024 * 1024 })
    let listed: { at: number; stations: Station[]; fp: string } | null = null
    const handle = async (req: FastifyRequest, reply: FastifyReply) => {
      const [rawPath = '', rawQuery = ''] = req.url.split(/\?(.*)/s)
      try {
        const pairs = queryPairs(rawQuery)
        const opts = parseOptions(pairs)
        const rest = rawPath.slice(STA_PREFIX.length).replace(/^\/+|\/+$/g, '')
        const segments = rest ? rest.split('/').map((s) => decodeSegment(s)) : []
        const now = Date.now()
        // Listing 1,000 stations from SQLite costs 5–50 ms here: at most once per REGISTRY_CHECK_MS.
        if (!listed || now - listed.at >= REGISTRY_CHECK_MS || now < listed.at) {
          const stations = publicStations(deps.registry.list())
          listed = { at: now, stations, fp: stationsFingerprint(stations) }
        }
        const { fp } = listed
        let graph = graphs.get('', fp)
        if (!graph) {
          graph = new Graph(listed.stations, levelSources(deps).rules, now)
          graphs.set('', fp, graph)
        }
        graph.now = now
        const root = `${req.protocol}://${req.headers.host ?? 'localhost'}${STA_PREFIX}`
        const key = `${root} ${req.url}`
        const validity = () => `${fp} ${latest.snapshotAt() ?? ''}`
        const hit = bodies.get(key, validity())
        sendLicence(reply)
        if (hit !== undefined) return sendJson(req, reply, hit)
        let direct = 0
        const engine: Engine = {
          graph,
          // Counted: an answer built only from the registry and the latest-values snapshot may be reused.
          // Resolved per query: Things, Sensors… answer even when no InfluxDB target is configured.
          query: { url: '', database: '', query: (q, o) => (direct++, requireQuery(deps.query).query(q, o)) },
          root,
          latest,
        }
        const out = await answer(engine, segments, opts, pairs.filter(([n]) => n.startsWith('$')))
        if (out.kind === 'empty') return reply.code(204).send()
        if (out.kind === 'text') return reply.type(out.type).send(out.body)
        const body: CachedBody = { json: JSON.stringify(out.body) }
        if (direct === 0) bodies.set(key, validity(), body, body.json.length * 2)
        return sendJson(req, reply, body)
      } catch (err) {
        // Errors must not be kept by shared caches.
        void reply.header('cache-control', 'no-store')
        if (isTidewatchError(err) && err.code === 'STA_QUERY_INVALID') {
          const status = err.details.status === 501 ? 501 : 400
          return reply.code(status).header('cache-control', 'no-store').send(errorBody(err.code, err.message, err.details))
        }
        throw err
      }
    }

    // Registered under the prefix /sta/v1.1 (api/server.ts), so the CORS preflight route stays inside it.
    // The engine parses the path and the query itself (STA_QUERY_INVALID): the schemas only document them.
    const doc = {
      tag: 'SensorThings API 1.1',
      description: 'Things, Locations, HistoricalLocations, Datastreams, Sensors, ObservedProperties, Observations, FeaturesOfInterest with $filter, $expand, $select, $orderby, $top, $skip, $count (OGC 18-088). See docs/OPEN-DATA.md.',
      querystring: StaQuery,
      errors: ['STA_QUERY_INVALID', 'NOT_FOUND', 'INFLUX_UNAVAILABLE', 'INFLUX_QUERY_FAILED'],
      moreErrors: errorsAt(501, ['STA_QUERY_INVALID'], 'A part of the standard this server does not implement (details.status 501).'),
    } as const
    app.get('', selfValidatedRoute({
      ...doc,
      operationId: 'staServiceRoot',
      summary: 'SensorThings service root: the entity sets and the conformance classes served',
      ok: { 200: media('application/json', 'The service root document', StaDocument.meta({ examples: [{ value: [{ name: 'Things', url: 'https://example.org/sta/v1.1/Things' }], serverSettings: { conformance: ['http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel'] } }] })) },
    }), handle)
    app.get('/*', selfValidatedRoute({
      ...doc,
      operationId: 'staResource',
      summary: 'SensorThings resource: an entity set, an entity, a navigation, a property or its $value (read-only)',
      params: z.object({ '*': z.string().meta({ description: 'The resource path (OGC 18-088 §9.2)', examples: ["Things('cm-song-doc-01')/Datastreams"] }) }),
      ok: {
        200: {
          description: 'A collection ({ value, @iot.count, @iot.nextLink }), an entity, or a property; $value of a property is plain text',
          content: {
            'application/json': { schema: StaDocument.meta({ examples: [{ '@iot.count': 1, value: [{ '@iot.id': 'cm-song-doc-01', '@iot.selfLink': "https://example.org/sta/v1.1/Things('cm-song-doc-01')", name: 'Sông Đốc' }] }] }) },
            'text/plain': { schema: z.string().meta({ examples: ['4.7'] }) },
          },
        },
        204: noContent('The property asked for with $value is null'),
      },
    }), handle)
  }
}

/** What a request may carry (OGC 18-088 §9.3); the engine answers STA_QUERY_INVALID for anything else. */
const StaQuery = z.object({
  $filter: z.string().optional().meta({ examples: ["name eq 'Sông Đốc'"] }),
  $expand: z.string().optional().meta({ examples: ['Datastreams($top=1)'] }),
  $select: z.string().optional(),
  $orderby: z.string().optional().meta({ examples: ['phenomenonTime desc'] }),
  $top: z.string().optional().meta({ examples: ['100'] }),
  $skip: z.string().optional(),
  $count: z.enum(['true', 'false']).optional(),
})
/** An STA document: sent pre-serialized and cached, so this schema only documents it. */
const StaDocument = z.looseObject({ value: z.array(z.looseObject({})).optional(), '@iot.count': z.number().optional(), '@iot.nextLink': z.string().optional() })

/** The cache is built with the plugin; InfluxDB may be absent (an API without a target answers INFLUX_UNAVAILABLE per request). */
function requireQueryLazy(deps: ApiDeps): InfluxQueryClient {
  return {
    get url() {
      return requireQuery(deps.query).url
    },
    get database() {
      return requireQuery(deps.query).database
    },
    query: (q, opts) => requireQuery(deps.query).query(q, opts),
  }
}

interface CachedBody {
  json: string
  /** Gzipped once, on the first request that accepts it (the latest-values answer: 7 MB → a few hundred kB). */
  gzip?: Promise<Buffer>
}

/** Large answers go gzipped to clients that accept it, compressed off the event loop (zlib's thread pool), once per cached body. */
async function sendJson(req: FastifyRequest, reply: FastifyReply, body: CachedBody): Promise<FastifyReply> {
  void reply.type('application/json; charset=utf-8').header('vary', 'accept-encoding')
  if (body.json.length < GZIP_FROM_CHARS || !/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) return reply.send(body.json)
  body.gzip ??= gzipAsync(body.json, { level: 1 })
  return reply.header('content-encoding', 'gzip').send(await body.gzip)
}

function sendLicence(reply: FastifyReply): void {
  void reply.header('x-license', OPEN_V1_LICENSE.license).header('link', `<${OPEN_V1_LICENSE.licenseUrl}>; rel="license"`)
  // Values change every few minutes; a short shared cache absorbs dashboards polling the latest values.
  void reply.header('cache-control', 'public, max-age=30')
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}
