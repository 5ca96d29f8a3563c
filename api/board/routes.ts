import type { FastifyPluginAsync } from 'fastify'
import type { ApiDeps } from '../server.ts'

/** The public salinity board at / and the station pages. Filled in by the board work. */
export function boardRoutes(_deps: ApiDeps): FastifyPluginAsync {
  return async () => {}
}
