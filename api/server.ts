import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify'
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod'
import type { Config } from '../core/config.ts'
import type { Logger } from '../core/log.ts'
import type { Registry } from '../devices/registry.ts'
import type { InfluxQueryClient } from '../influx/query.ts'
import type { IngestService } from '../ingest/service.ts'
import type { BrokerHandle } from '../broker/server.ts'
import { staffAuth } from './auth.ts'
import { errorBody, errorHandler } from './errors.ts'
import type { Sample } from './metrics.ts'
import { healthRoutes } from './routes/health.ts'
import { boardRoutes } from './board/routes.ts'
import { openDataRoutes } from './routes/open-data.ts'
import { openV1Routes } from './routes/open-v1.ts'
import { quarantineRoutes } from './routes/quarantine.ts'
import { readingRoutes } from './routes/readings.ts'
import { stationRoutes } from './routes/stations.ts'

export interface ApiDeps {
  config: Readonly<Config>
  registry: Registry
  log: Logger
  /** The InfluxDB target the API reads from. */
  query?: InfluxQueryClient
  ingest?: IngestService
  broker?: BrokerHandle
  /** More metrics from other components (alerter). */
  metrics?: Array<() => Sample[] | Promise<Sample[]>>
  /** Metrics already rendered as Prometheus text lines. */
  metricsText?: Array<() => string[]>
  /** Bearer token for staff-only routes (api/auth.ts). */
  staffToken: string
  /** More routes from other components (alerter). */
  plugins?: FastifyPluginAsync[]
}

export type App = FastifyInstance

export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    // Per-request logs at info would drown the ingest's; errors still surface.
    loggerInstance: deps.log.level === 'debug' || deps.log.level === 'trace' ? deps.log : deps.log.child({}, { level: 'warn' }),
    bodyLimit: deps.config.http.bodyLimitBytes,
  }).withTypeProvider<ZodTypeProvider>()
  app.setValidatorCompiler(validatorCompiler)
  app.setSerializerCompiler(serializerCompiler)
  app.setErrorHandler(errorHandler)
  app.addHook('onRequest', staffAuth(deps.staffToken))
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send(errorBody('NOT_FOUND', `No route ${req.method} ${req.url.split('?')[0]}`))
  })
  await app.register(healthRoutes(deps))
  await app.register(stationRoutes(deps), { prefix: '/api/v1' })
  await app.register(readingRoutes(deps), { prefix: '/api/v1' })
  await app.register(quarantineRoutes(deps), { prefix: '/api/v1' })
  await app.register(openDataRoutes(deps), { prefix: '/api/v1' })
  await app.register(openV1Routes(deps), { prefix: '/open/v1' })
  await app.register(boardRoutes(deps))
  for (const plugin of deps.plugins ?? []) await app.register(plugin, { prefix: '/api/v1' })
  return app as unknown as FastifyInstance
}
