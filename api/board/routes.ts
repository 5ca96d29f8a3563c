import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { isTidewatchError } from '../../core/errors.ts'
import { STATION_ID_PATTERN } from '../../core/protocol.ts'
import type { ApiDeps } from '../server.ts'
import { hourlyMeans, latestValues, levelSources, publicStations, shownKinds, shownLevels, type HourlySeries, type LatestByStation } from './data.ts'
import { addHttpCache } from './http-cache.ts'
import { langOf, type Lang } from './i18n.ts'
import { RANGE_PLAN, boardJson, chartRangeOf, last24hWindow, rangeWindow, renderBoard, renderNotFound, renderOpenData, renderStation, type BoardData } from './pages.ts'
import { OSM_TILES, staticAssets } from './static.ts'
import { IsoTime, json, media, NOT_MODIFIED, route } from '../openapi.ts'

/**
 * The public salinity board at / and a page per station. Server-rendered
 * HTML that works without JavaScript; a farmer on a slow phone gets one
 * small response. Unknown query parameters are ignored on purpose: links
 * shared over Zalo or Facebook come back with tracking parameters.
 */
export const BOARD_CACHE_CONTROL = 'public, max-age=30'

/**
 * Scripts only from this server (no inline script, no CDN: a station's 4G
 * link or an offline office must still get them), map tiles from
 * OpenStreetMap, JSON only from here.
 */
const CSP = `default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: ${new URL(OSM_TILES.replace(/\{[a-z]\}/g, '0')).origin}; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`

const BoardQuery = z.object({ lang: z.string().max(16).optional() })
const StationQuery = z.object({ lang: z.string().max(16).optional(), range: z.string().max(16).optional() })
const StationPageParams = z.object({ id: z.string().max(200) })

// ---- The OpenAPI document's schemas of these routes (api/openapi.ts): pages for people, described by their content type ----
const Html = (description: string, example: string) => media('text/html', description, z.string().meta({ examples: [example] }))
const UNAVAILABLE_PAGE = { 503: Html('The page without readings: InfluxDB is unavailable (INFLUX_UNAVAILABLE, INFLUX_QUERY_FAILED); stations are still listed', '<!doctype html><html lang="vi">…</html>') }
const BoardJsonSchema = z
  .looseObject({
    now: IsoTime,
    summary: z.string().nullable().meta({ description: 'One line for the page title; null while readings are unavailable' }),
    stations: z.array(z.looseObject({ id: z.string(), level: z.string().meta({ description: 'danger, warning, ok, unrated or none' }), cell: z.string().meta({ description: 'The rendered value cell (HTML)' }) })),
  })
  .meta({ examples: [{ now: '2025-03-01T02:05:00.000Z', summary: '1 trạm nguy hiểm', stations: [{ id: 'cm-song-doc-01', level: 'danger', cell: '<td class="v danger">4,7 ‰</td>' }] }] })

function html(reply: FastifyReply, status: number, body: string): string {
  void reply.status(status).type('text/html; charset=utf-8').header('content-security-policy', CSP).header('x-content-type-options', 'nosniff')
  if (status !== 200) void reply.header('cache-control', 'no-store')
  return body
}

/** The board degrades instead of failing: stations are listed even when InfluxDB is down. */
async function orUnavailable<T>(read: () => Promise<T>, empty: T): Promise<{ value: T; unavailable: boolean }> {
  try {
    return { value: await read(), unavailable: false }
  } catch (err) {
    if (isTidewatchError(err) && (err.code === 'INFLUX_UNAVAILABLE' || err.code === 'INFLUX_QUERY_FAILED')) return { value: empty, unavailable: true }
    throw err
  }
}

export function boardRoutes(deps: ApiDeps): FastifyPluginAsync {
  return async (fastify) => {
    addHttpCache(fastify, { cacheControl: BOARD_CACHE_CONTROL })
    const app = fastify.withTypeProvider<ZodTypeProvider>()
    const log = deps.log.child({ component: 'board' })

    const read = async <T>(fn: (q: NonNullable<ApiDeps['query']>) => Promise<T>, empty: T) => {
      const query = deps.query
      const r = query ? await orUnavailable(() => fn(query), empty) : { value: empty, unavailable: true }
      if (r.unavailable) log.warn('board rendered without readings: InfluxDB unavailable')
      return r
    }

    const boardData = async (lang: Lang): Promise<BoardData> => {
      const now = Date.now()
      const win = last24hWindow(now)
      const stations = publicStations(deps.registry.list())
      const data = await read(
        async (q) => {
          const [latest, hourly] = await Promise.all([latestValues(q, now, stations, ['salinity']), hourlyMeans(q, { from: win.from, to: win.to, sensors: ['salinity'] })])
          return { latest, hourly }
        },
        { latest: new Map() as LatestByStation, hourly: [] as HourlySeries[] },
      )
      const src = levelSources(deps)
      // The alert state is read even without readings: a firing level is still news.
      const shown = shownLevels(src, stations, data.value.latest, ['salinity'])
      const rules = new Map(stations.map((s) => [s.id, src.rules.get(s.id, 'salinity')]))
      return { lang, now, stations, ...data.value, shown, rules, unavailable: data.unavailable, sms: deps.board }
    }

    app.get('/', {
      schema: route({
        operationId: 'getBoard',
        tag: 'board',
        summary: 'The public salinity board (HTML, Vietnamese or English)',
        description: 'Server-rendered, works without JavaScript. Unknown query parameters are ignored (shared links come back with tracking parameters).',
        querystring: BoardQuery,
        ok: { 200: Html('The board', '<!doctype html><html lang="vi">…</html>'), ...NOT_MODIFIED },
        moreErrors: UNAVAILABLE_PAGE,
      }),
    }, async (req, reply) => {
      const d = await boardData(langOf(req.query.lang))
      return html(reply, d.unavailable ? 503 : 200, renderBoard(d))
    })

    // The board's refresh (static/board.js): one small request a minute, answered 304 while nothing changed.
    app.get('/board.json', {
      schema: route({
        operationId: 'getBoardJson',
        tag: 'board',
        summary: 'The board\'s refresh: each station\'s level and value cell',
        description: 'Polled once a minute by static/board.js; 304 while nothing changed.',
        querystring: BoardQuery,
        ok: { 200: json('The board\'s rows', BoardJsonSchema), ...NOT_MODIFIED },
        moreErrors: { 503: json('InfluxDB is unavailable (INFLUX_UNAVAILABLE, INFLUX_QUERY_FAILED): the same document, summary null', BoardJsonSchema) },
      }),
    }, async (req, reply) => {
      const d = await boardData(langOf(req.query.lang))
      void reply.status(d.unavailable ? 503 : 200)
      return boardJson(d)
    })

    app.get('/open-data', {
      schema: route({
        operationId: 'getOpenDataPage',
        tag: 'board',
        summary: 'The open-data page for people: what is published, where and under which licence (HTML)',
        querystring: BoardQuery,
        ok: { 200: Html('The page', '<!doctype html><html lang="vi">…</html>'), ...NOT_MODIFIED },
      }),
    }, async (req, reply) => html(reply, 200, renderOpenData(langOf(req.query.lang))))

    const assets = staticAssets()
    app.get('/static/:file', {
      schema: route({
        operationId: 'getStaticAsset',
        tag: 'board',
        summary: 'A static asset of the board: its scripts, Leaflet and the province outline',
        params: z.object({ file: z.string().max(64).meta({ examples: ['board.js'] }) }),
        ok: {
          200: {
            description: 'The file, cached for a day',
            content: {
              'text/javascript': { schema: z.string().meta({ examples: ['"use strict";…'] }) },
              'text/css': { schema: z.string() },
              'application/geo+json': { schema: z.string() },
            },
          },
          ...NOT_MODIFIED,
        },
        moreErrors: { 404: media('text/plain', 'No such asset (NOT_FOUND): the body is "not found"', z.string().meta({ examples: ['not found'] })) },
      }),
    }, async (req, reply) => {
      const a = assets.get(req.params.file)
      if (!a) return reply.status(404).type('text/plain; charset=utf-8').header('cache-control', 'no-store').send('not found')
      // A day in caches; the ETag makes the daily check a 304.
      void reply.type(a.type).header('cache-control', 'public, max-age=86400').header('x-content-type-options', 'nosniff')
      return a.body
    })

    app.get('/stations/:id', {
      schema: route({
        operationId: 'getStationPage',
        tag: 'board',
        summary: 'A station\'s page: latest values, levels and charts over 24h, 7d or 30d (HTML)',
        params: StationPageParams,
        querystring: StationQuery,
        ok: { 200: Html('The station page', '<!doctype html><html lang="vi">…</html>'), ...NOT_MODIFIED },
        moreErrors: { 404: Html('No such public station (STATION_NOT_FOUND): a page saying so', '<!doctype html><html lang="vi">…</html>'), ...UNAVAILABLE_PAGE },
      }),
    }, async (req, reply) => {
      const lang = langOf(req.query.lang)
      const range = chartRangeOf(req.query.range)
      const station = STATION_ID_PATTERN.test(req.params.id) ? deps.registry.get(req.params.id) : undefined
      if (!station || !station.enabled) return html(reply, 404, renderNotFound(lang))
      const now = Date.now()
      const win = rangeWindow(now, range)
      const data = await read(
        async (q) => {
          const [latest, hourly] = await Promise.all([latestValues(q, now, [station]), hourlyMeans(q, { from: win.from, to: win.to, stationId: station.id, every: RANGE_PLAN[range].every })])
          return { latest: latest.get(station.id) ?? {}, hourly }
        },
        { latest: {}, hourly: [] as HourlySeries[] },
      )
      const src = levelSources(deps)
      const kinds = shownKinds(station, data.value.latest)
      const shown = shownLevels(src, [station], new Map([[station.id, data.value.latest]]), kinds, station.id).get(station.id) ?? {}
      const rules = Object.fromEntries(kinds.map((k) => [k, src.rules.get(station.id, k)]))
      const page = renderStation({ lang, now, station, range, ...data.value, shown, rules, unavailable: data.unavailable, sms: deps.board })
      return html(reply, data.unavailable ? 503 : 200, page)
    })
  }
}
