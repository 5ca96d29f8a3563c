import type { FastifyPluginAsync } from 'fastify'
import { collectMetrics, renderPrometheus } from '../../core/metrics.ts'
import type { ApiDeps } from '../server.ts'
import { z } from 'zod'
import { media, json, route } from '../openapi.ts'

const HEALTH_DOC = route({
  operationId: 'getHealth',
  tag: 'health',
  summary: 'Health of the API and the components in this process',
  description: 'status is degraded while a write target is down or the spool is full, or, on a node that only reads (a cluster API node), while its InfluxDB read target or its copy of the PostgreSQL metadata is not there. Never cached.',
  ok: {
    200: json(
      'Component health; a component this process does not run is left out.',
      z
        .looseObject({
          status: z.enum(['ok', 'degraded']),
          components: z.looseObject({
            broker: z.looseObject({ up: z.boolean(), connectedClients: z.number() }).optional(),
            ingest: z
              .looseObject({
                up: z.boolean(),
                spool: z.looseObject({ bytes: z.number(), full: z.boolean(), maxBytes: z.number() }).optional(),
                targets: z.array(z.looseObject({ name: z.string(), up: z.boolean(), lagReadings: z.number(), lagSeconds: z.number(), lastError: z.string().optional() })),
              })
              .optional(),
            readTarget: z.looseObject({ up: z.boolean(), database: z.string(), lastError: z.string().optional() }).optional(),
            metadata: z.looseObject({ up: z.boolean(), source: z.string(), changes: z.number().optional(), reloads: z.number().optional(), failures: z.number().optional() }).optional(),
          }),
        })
        .meta({ examples: [{ status: 'ok', components: { broker: { up: true, connectedClients: 12 }, ingest: { up: true, spool: { bytes: 0, full: false, maxBytes: 1073741824 }, targets: [{ name: 'primary', up: true, lagReadings: 0, lagSeconds: 0 }] } } }] }),
    ),
  },
})

const METRICS_DOC = route({
  operationId: 'getMetrics',
  tag: 'health',
  summary: 'Prometheus metrics of the broker, ingest, writers, alerter and event loop',
  ok: {
    200: media(
      'text/plain',
      'Prometheus text exposition format 0.0.4 (content type text/plain; version=0.0.4).',
      z.string().meta({ examples: ['# HELP tidewatch_mqtt_connected_clients Connected MQTT clients\n# TYPE tidewatch_mqtt_connected_clients gauge\ntidewatch_mqtt_connected_clients 12\n'] }),
    ),
  },
})

/** Whether the InfluxDB the API reads from answers a query, within 2 s (a /health must answer quickly). */
async function readTargetHealth(query: NonNullable<ApiDeps['query']>): Promise<{ up: boolean; database: string; lastError?: string }> {
  try {
    await query.query('SHOW MEASUREMENTS LIMIT 1', { signal: AbortSignal.timeout(2_000) })
    return { up: true, database: query.database }
  } catch (err) {
    return { up: false, database: query.database, lastError: (err as Error).message }
  }
}

export function healthRoutes(deps: ApiDeps): FastifyPluginAsync {
  return async (app) => {
    app.get('/health', { schema: HEALTH_DOC }, async (_req, reply) => {
      const targets = deps.ingest ? await deps.ingest.targetStats() : []
      const spool = deps.ingest?.spoolStats()
      // A node that reads InfluxDB but does not ingest (a cluster API node) has no target stats: ask its read target.
      const readTarget = deps.query && !deps.ingest ? await readTargetHealth(deps.query) : undefined
      const extra = Object.fromEntries(await Promise.all(Object.entries(deps.healthChecks ?? {}).map(async ([name, check]) => [name, await check().catch((err: unknown) => ({ up: false, lastError: String(err) }))] as const)))
      const degraded = targets.some((t) => !t.up) || Boolean(spool?.full) || readTarget?.up === false || Object.values(extra).some((c) => !c.up)
      void reply.header('cache-control', 'no-store')
      return {
        status: degraded ? 'degraded' : 'ok',
        components: {
          broker: deps.broker ? { up: true, connectedClients: deps.broker.connectedClients() } : undefined,
          ingest: deps.ingest
            ? {
                up: true,
                spool: spool && { bytes: spool.bytes, full: spool.full, maxBytes: deps.config.ingest.spoolMaxBytes },
                targets: targets.map((t) => ({
                  name: t.target,
                  up: t.up,
                  lagReadings: t.lagReadings,
                  lagSeconds: Math.round(t.lagSeconds * 10) / 10,
                  lastError: t.up ? undefined : t.lastError,
                })),
              }
            : undefined,
          readTarget,
          ...extra,
        },
      }
    })

    app.get('/metrics', { schema: METRICS_DOC }, async (_req, reply) => {
      // Each component reports its own families (core/metrics.ts); this only concatenates them.
      const { families, failed } = await collectMetrics(deps.metrics ?? [])
      void reply.header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
      return renderPrometheus(families, failed.map((err) => `a metrics source failed: ${err}`))
    })
  }
}
