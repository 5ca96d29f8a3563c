import type { FastifyPluginAsync } from 'fastify'
import { collectMetrics, renderPrometheus } from '../../core/metrics.ts'
import type { ApiDeps } from '../server.ts'
import { z } from 'zod'
import { media, json, route } from '../openapi.ts'

const HEALTH_DOC = route({
  operationId: 'getHealth',
  tag: 'health',
  summary: 'Health of the API and the components in this process',
  description: 'status is degraded while a write target is down or the spool is full. Never cached.',
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

export function healthRoutes(deps: ApiDeps): FastifyPluginAsync {
  return async (app) => {
    app.get('/health', { schema: HEALTH_DOC }, async (_req, reply) => {
      const targets = deps.ingest ? await deps.ingest.targetStats() : []
      const spool = deps.ingest?.spoolStats()
      const degraded = targets.some((t) => !t.up) || Boolean(spool?.full)
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
