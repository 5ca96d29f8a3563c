import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { ErrorCodes, TidewatchError } from '../../core/errors.ts'
import { STATION_ID_PATTERN } from '../../core/protocol.ts'
import type { ApiDeps } from '../server.ts'
import { IsoTime, json, route } from '../openapi.ts'

const QuarantineQuery = z
  .object({
    station: z.string().regex(STATION_ID_PATTERN).optional(),
    reason: z
      .string()
      .refine((r) => r in ErrorCodes, 'unknown reason code')
      .optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    before: z.coerce.number().int().positive().optional(),
  })
  .strict()

/** Rejected readings, newest first, for staff to see what a station sent and why it was refused. */
export function quarantineRoutes(deps: ApiDeps): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<ZodTypeProvider>()
    app.get('/quarantine', {
      schema: route({
        operationId: 'listQuarantine',
        tag: 'quarantine',
        summary: 'Refused readings, newest first, with their reason code',
        description: 'Page with before= (the last id seen). NOT_FOUND when this process runs no ingest.',
        querystring: QuarantineQuery,
        ok: {
          200: json(
            'The refused readings and the count of every reason kept',
            z
              .looseObject({
                entries: z.array(
                  z.looseObject({
                    id: z.number(),
                    receivedAt: IsoTime,
                    stationId: z.string(),
                    reason: z.string().meta({ description: 'A reason code from the catalog (docs/PROTOCOL.md, "Reason codes")' }),
                    detail: z.string(),
                    index: z.number().optional().meta({ description: 'Position in a batch, when the payload was one' }),
                    sensor: z.string().optional(),
                    ts: IsoTime.nullable(),
                    excerpt: z.string(),
                  }),
                ),
                countsByReason: z.record(z.string(), z.number()),
              })
              .meta({
                examples: [
                  {
                    entries: [{ id: 41, receivedAt: '2025-03-01T02:00:01.000Z', stationId: 'cm-song-doc-01', reason: 'VALUE_OUT_OF_RANGE', detail: 'salinity 72 is outside 0–50', sensor: 'salinity', ts: '2025-03-01T02:00:00.000Z', excerpt: '{"ts":1740794400000,"values":{"salinity":72}}' }],
                    countsByReason: { VALUE_OUT_OF_RANGE: 1 },
                  },
                ],
              }),
          ),
        },
        errors: ['NOT_FOUND'],
      }),
    }, async (req) => {
      if (!deps.ingest) throw new TidewatchError('NOT_FOUND', {}, 'this process runs no ingest')
      const q = req.query
      const entries = deps.ingest.quarantine.list({ stationId: q.station, reason: q.reason, limit: q.limit, before: q.before })
      return {
        entries: entries.map((e) => ({ ...e, receivedAt: new Date(e.receivedAt).toISOString(), ts: e.ts !== undefined ? new Date(e.ts).toISOString() : null })),
        countsByReason: deps.ingest.quarantine.countsByReason(),
      }
    })
  }
}
