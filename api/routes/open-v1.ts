import type { FastifyPluginAsync } from 'fastify'
import type { ApiDeps } from '../server.ts'

/** Open data v1 under /open/v1 (docs/OPEN-DATA.md). Filled in by the open-data work. */
export function openV1Routes(_deps: ApiDeps): FastifyPluginAsync {
  return async () => {}
}
