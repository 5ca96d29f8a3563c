import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { ErrorCodes, TidewatchError } from '../../core/errors.ts'
import { STATION_ID_PATTERN } from '../../core/protocol.ts'
import type { ApiDeps } from '../server.ts'

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
    app.get('/quarantine', { schema: { querystring: QuarantineQuery } }, async (req) => {
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
