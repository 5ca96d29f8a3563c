import type { FastifyPluginAsync } from 'fastify'
import { renderPrometheus, type Sample } from '../metrics.ts'
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
      const samples: Sample[] = []
      const ing = deps.ingest
      if (ing) {
        const c = ing.ingest.counters
        const targets = await ing.targetStats()
        const spool = ing.spoolStats()
        samples.push(
          { name: 'tidewatch_ingest_payloads_received_total', help: 'MQTT payloads received by the ingest', type: 'counter', values: [{ value: c.payloads }] },
          { name: 'tidewatch_ingest_readings_accepted_total', help: 'Readings accepted and spooled', type: 'counter', values: [{ value: c.readingsAccepted }] },
          { name: 'tidewatch_ingest_values_accepted_total', help: 'Sensor values accepted', type: 'counter', values: [{ value: c.valuesAccepted }] },
          { name: 'tidewatch_ingest_readings_late_total', help: 'Readings accepted but marked late', type: 'counter', values: [{ value: c.late }] },
          {
            name: 'tidewatch_ingest_rejected_total',
            help: 'Readings or values quarantined, by reason code',
            type: 'counter',
            values: Object.entries(c.rejectedByReason).map(([reason, value]) => ({ labels: { reason }, value: value ?? 0 })),
          },
          { name: 'tidewatch_ingest_in_flight', help: 'Payloads waiting for the spool fsync', type: 'gauge', values: [{ value: c.inFlight }] },
          { name: 'tidewatch_ingest_slot_waits_total', help: 'Payloads that waited, unparsed, for room in the in-flight byte budget (live 4 MiB, batches 16 MiB)', type: 'counter', values: [{ value: c.slotWaits }] },
          { name: 'tidewatch_spool_bytes', help: 'Bytes held in the on-disk spool (queue depth)', type: 'gauge', values: [{ value: spool.bytes }] },
          { name: 'tidewatch_spool_full', help: '1 while the spool is full and acknowledgements are held', type: 'gauge', values: [{ value: spool.full ? 1 : 0 }] },
          { name: 'tidewatch_spool_backpressure_waits_total', help: 'Times appends waited for spool space', type: 'counter', values: [{ value: spool.backpressureWaits }] },
          { name: 'tidewatch_spool_fsyncs_total', help: 'Group commits (fsync) of the spool', type: 'counter', values: [{ value: spool.fsyncs }] },
          { name: 'tidewatch_quarantine_evicted_total', help: 'Oldest quarantine rows evicted past the row limit', type: 'counter', values: [{ value: ing.quarantine.evicted }] },
          { name: 'tidewatch_feedback_published_total', help: 'Feedback messages published to stations/<id>/feedback (payloads with a refusal)', type: 'counter', values: [{ value: ing.feedback.counters.published }] },
          { name: 'tidewatch_feedback_dropped_total', help: 'Feedback not sent, by reason (queue_full, rate_limited, publish_failed)', type: 'counter', values: Object.entries(ing.feedback.counters.dropped).map(([reason, value]) => ({ labels: { reason }, value })) },
          { name: 'tidewatch_write_batches_total', help: 'Batches written to InfluxDB', type: 'counter', values: targets.map((t) => ({ labels: { target: t.target }, value: t.writeBatches })) },
          { name: 'tidewatch_write_points_total', help: 'Points written to InfluxDB', type: 'counter', values: targets.map((t) => ({ labels: { target: t.target }, value: t.writtenPoints })) },
          { name: 'tidewatch_write_errors_total', help: 'Failed InfluxDB write attempts (retried)', type: 'counter', values: targets.map((t) => ({ labels: { target: t.target }, value: t.writeErrors })) },
          { name: 'tidewatch_write_rejected_lines_total', help: 'Lines InfluxDB refused in partial writes', type: 'counter', values: targets.map((t) => ({ labels: { target: t.target }, value: t.rejectedLines })) },
          { name: 'tidewatch_target_up', help: '1 when the last write to the target succeeded', type: 'gauge', values: targets.map((t) => ({ labels: { target: t.target }, value: t.up ? 1 : 0 })) },
          { name: 'tidewatch_target_lag_readings', help: 'Readings spooled but not yet written to the target', type: 'gauge', values: targets.map((t) => ({ labels: { target: t.target }, value: t.lagReadings })) },
          { name: 'tidewatch_target_lag_seconds', help: 'Age of the oldest reading not yet written to the target', type: 'gauge', values: targets.map((t) => ({ labels: { target: t.target }, value: t.lagSeconds })) },
          {
            name: 'tidewatch_write_duration_seconds',
            help: 'InfluxDB write time over the last 1,024 successful writes, by quantile (1 = max)',
            type: 'gauge',
            values: targets.flatMap((t) =>
              (['0.5', '0.99', '1'] as const).map((quantile) => ({
                labels: { target: t.target, quantile },
                value: (quantile === '0.5' ? t.writeMs.p50 : quantile === '0.99' ? t.writeMs.p99 : t.writeMs.max) / 1000,
              })),
            ),
          },
        )
      }
      const b = deps.broker
      if (b) {
        samples.push(
          { name: 'tidewatch_mqtt_connected_clients', help: 'Connected MQTT clients', type: 'gauge', values: [{ value: b.connectedClients() }] },
          { name: 'tidewatch_mqtt_connects_accepted_total', help: 'Accepted MQTT connections', type: 'counter', values: [{ value: b.counters.connectsAccepted }] },
          {
            name: 'tidewatch_mqtt_connects_refused_total',
            help: 'Refused MQTT connections by reason',
            type: 'counter',
            values: Object.entries(b.counters.connectsRefused).map(([reason, value]) => ({ labels: { reason }, value })),
          },
          { name: 'tidewatch_mqtt_publish_denied_total', help: 'Publishes to a topic the client may not use', type: 'counter', values: [{ value: b.counters.publishDenied }] },
          { name: 'tidewatch_mqtt_subscribe_denied_total', help: 'Refused subscriptions', type: 'counter', values: [{ value: b.counters.subscribeDenied }] },
          { name: 'tidewatch_mqtt_payload_too_large_total', help: 'Publishes refused for exceeding the payload limit', type: 'counter', values: [{ value: b.counters.oversized }] },
        )
      }
      if (deps.eventLoop) {
        const d = deps.eventLoop.snapshot()
        samples.push({
          name: 'tidewatch_event_loop_delay_seconds',
          help: 'Event-loop delay over the last 10 s window, by quantile (1 = max); every PUBACK and answer waits behind it',
          type: 'gauge',
          values: [
            { labels: { quantile: '0.5' }, value: d.p50Ms / 1000 },
            { labels: { quantile: '0.99' }, value: d.p99Ms / 1000 },
            { labels: { quantile: '1' }, value: d.maxMs / 1000 },
          ],
        })
      }
      for (const extra of deps.metrics ?? []) samples.push(...(await extra()))
      void reply.header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
      const extra = (deps.metricsText ?? []).flatMap((f) => f())
      return renderPrometheus(samples) + (extra.length ? extra.join('\n') + '\n' : '')
    })
  }
}
