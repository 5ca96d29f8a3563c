import { createHash } from 'node:crypto'
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify'
import helmet from '@fastify/helmet'
import rateLimit from '@fastify/rate-limit'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { jsonSchemaTransformObject, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod'
import type { Config } from '../core/config.ts'
import type { Logger } from '../core/log.ts'
import type { Registry } from '../devices/registry.ts'
import type { InfluxQueryClient } from '../influx/query.ts'
import type { IngestService } from '../ingest/service.ts'
import type { BrokerHandle } from '../broker/server.ts'
import type { AuditTrail } from './auth/audit.ts'
import type { Alerter } from '../alerts/alerter.ts'
import type { AlertStateReader } from '../levels/status.ts'
import type { RuleLookup } from './board/data.ts'
import type { SubscribePanel } from './board/pages.ts'
import { auditFallback, authGuard, bearer } from './auth/guard.ts'
import type { ApiTokens } from './auth/tokens.ts'
import { errorBody, errorHandler } from './errors.ts'
import { openApiTransform, SECURITY_SCHEMES, TAGS } from './openapi.ts'
import type { MetricsSource } from '../core/metrics.ts'
import { ApiMetrics } from './metrics.ts'
import { healthRoutes } from './routes/health.ts'
import { boardRoutes } from './board/routes.ts'
import { openDataRoutes } from './routes/open-data.ts'
import { openV1Routes } from './routes/open-v1.ts'
import { manageRoutes, type StationWriter } from './routes/manage.ts'
import { quarantineRoutes } from './routes/quarantine.ts'
import { readingRoutes } from './routes/readings.ts'
import { stationRoutes } from './routes/stations.ts'
import { staRoutes } from './sta/routes.ts'
import { consoleRoutes, type ConsoleOptions } from './console/routes.ts'

export interface ApiDeps {
  config: Readonly<Config>
  registry: Registry
  log: Logger
  /** The InfluxDB target the API reads from. */
  query?: InfluxQueryClient
  ingest?: IngestService
  broker?: BrokerHandle
  /** More components for /health, by name (cluster mode: the metadata mirror); `up: false` makes it degraded. */
  healthChecks?: Readonly<Record<string, () => Promise<{ up: boolean } & Record<string, unknown>>>>
  /**
   * The components' metrics (ingest, broker, event loop, alerter, …), in the
   * order /metrics lists them; the API adds its own (api/metrics.ts) last.
   */
  metrics?: readonly MetricsSource[]
  /** API tokens and roles (api/auth/): this node's SQLite, or in cluster mode the shared PostgreSQL (cluster/metadata/api-tokens.ts). */
  tokens: ApiTokens
  /**
   * Append-only audit log of every change. Records always go to this node's
   * SQLite first; in cluster mode they are shipped to PostgreSQL and read
   * from there (cluster/metadata/audit-shipper.ts).
   */
  audit: AuditTrail
  alerter?: Alerter
  /** The rules in force (levels/book.ts RuleBook, the alerter's own when it runs): board, open data, summaries. */
  rules?: RuleLookup
  /** The alerter's state, read-only, so the board follows incidents; absent when the alerter is off. */
  alertStates?: AlertStateReader
  /** The board's "Nhận tin nhắn SMS" panel: the number to text and a sample message. */
  board?: SubscribePanel
  /** More routes from other components (alerter). */
  plugins?: FastifyPluginAsync[]
  /** The staff console at /console (api/console/, docs/CONSOLE.md). */
  console?: ConsoleOptions
  /** Cluster mode: where station changes go (PostgreSQL, cluster/metadata/station-writer.ts); unset, this node's registry. */
  stationWriter?: StationWriter
}

export type App = FastifyInstance

declare module 'fastify' {
  interface FastifyInstance {
    routeTable: Array<{ method: string; url: string }>
  }
}

export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    // Per-request logs at info would drown the ingest's; warnings and errors still surface. Only
    // ever raise the level: a silent or error-only root logger (tests, quiet deployments) stays so.
    loggerInstance: deps.log.level === 'debug' || deps.log.level === 'trace' || deps.log.levelVal >= 40 ? deps.log : deps.log.child({}, { level: 'warn' }),
    bodyLimit: deps.config.http.bodyLimitBytes,
  }).withTypeProvider<ZodTypeProvider>()
  app.setValidatorCompiler(validatorCompiler)
  app.setSerializerCompiler(serializerCompiler)
  app.setErrorHandler(errorHandler)
  app.decorateRequest('principal', null)
  app.decorateRequest('audited', false)
  await app.register(helmet, {
    // The board and /docs are served from here; inline styles and the board's
    // tiny toggle script are allowed, nothing from elsewhere.
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        scriptSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
      },
    },
    crossOriginResourcePolicy: { policy: 'cross-origin' },
  })
  const { rateLimitPerMinute, tokenRateLimitPerMinute } = deps.config.http
  await app.register(rateLimit, {
    global: true,
    timeWindow: '1 minute',
    // Per token when one is sent (hashed: the key shows up in headers), else per IP.
    keyGenerator: (req) => {
      const token = bearer(req)
      return token ? `t:${createHash('sha256').update(token).digest('hex').slice(0, 24)}` : `ip:${req.ip}`
    },
    max: (_req, key) => (key.startsWith('t:') ? tokenRateLimitPerMinute : rateLimitPerMinute),
    errorResponseBuilder: (_req, ctx) => ({
      statusCode: 429,
      ...errorBody('RATE_LIMITED', `Too many requests: at most ${ctx.max} per minute; retry in ${Math.ceil(ctx.ttl / 1000)} s`, { max: ctx.max, retryAfterSec: Math.ceil(ctx.ttl / 1000) }),
    }),
  })
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'tidewatch API',
        version: '1',
        description: 'Stations, readings, alerts, subscribers and open data of the tidewatch sensor network (Cà Mau). Errors: { error: { code, message, details } } with a stable code from the catalog (core/errors.ts).',
      },
      tags: TAGS.map((t) => ({ ...t })),
      components: { securitySchemes: SECURITY_SCHEMES },
    },
    // Shared pieces and the API-wide responses (security, 401/403/429): api/openapi.ts.
    transform: openApiTransform,
    transformObject: jsonSchemaTransformObject,
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })
  // The route table, so tests can check every route is in the OpenAPI document.
  const routes: Array<{ method: string; url: string }> = []
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) routes.push({ method, url: r.url })
  })
  app.decorate('routeTable', routes)
  const ownMetrics = new ApiMetrics()
  app.addHook('onResponse', ownMetrics.onResponse)
  app.addHook('onRequest', authGuard(deps.tokens))
  app.addHook('onResponse', auditFallback(deps.audit))
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send(errorBody('NOT_FOUND', `No route ${req.method} ${req.url.split('?')[0]}`))
  })
  await app.register(healthRoutes({ ...deps, metrics: [...(deps.metrics ?? []), ownMetrics] }))
  await app.register(stationRoutes(deps), { prefix: '/api/v1' })
  await app.register(readingRoutes(deps), { prefix: '/api/v1' })
  await app.register(quarantineRoutes(deps), { prefix: '/api/v1' })
  await app.register(manageRoutes(deps), { prefix: '/api/v1' })
  await app.register(openDataRoutes(deps), { prefix: '/api/v1' })
  await app.register(openV1Routes(deps), { prefix: '/open/v1' })
  await app.register(boardRoutes(deps))
  await app.register(staRoutes(deps), { prefix: '/sta/v1.1' })
  await app.register(consoleRoutes(deps, deps.console))
  for (const plugin of deps.plugins ?? []) await app.register(plugin, { prefix: '/api/v1' })
  return app as unknown as FastifyInstance
}
