import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod'
import { ErrorCodes, httpStatus, isTidewatchError } from '../core/errors.ts'

/** Every API error has this body: `{ "error": { "code", "message", "details" } }`. */
export interface ApiErrorBody {
  error: { code: string; message: string; details: Record<string, unknown> }
}

export function errorBody(code: string, message: string, details: Record<string, unknown> = {}): ApiErrorBody {
  return { error: { code, message, details } }
}

export function errorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  if (hasZodFastifySchemaValidationErrors(err)) {
    const issues = err.validation.map((v) => {
      const path = v.instancePath.replace(/^\//, '').replace(/\//g, '.')
      return { parameter: path || (v.params as { missingProperty?: string })?.missingProperty || err.validationContext, message: v.message }
    })
    const first = issues[0]
    const where = err.validationContext ?? 'request'
    void reply.status(400).send(errorBody('BAD_REQUEST', `Invalid ${where}: ${first?.parameter ?? ''}: ${first?.message ?? ''}`.trim(), { in: where, issues }))
    return
  }
  if (isTidewatchError(err)) {
    void reply.status(httpStatus(err.code)).send(errorBody(err.code, err.message, err.details))
    return
  }
  // Plugins that build our error body themselves (the rate limiter) throw it as is.
  const built = (err as unknown as Partial<ApiErrorBody>).error
  if (built && typeof built.code === 'string') {
    void reply.status(err.statusCode ?? 400).send({ error: built })
    return
  }
  // Fastify's own client errors: bad JSON body, body too large, wrong content type.
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    void reply.status(err.statusCode).send(errorBody(err.code ?? 'BAD_REQUEST', err.message))
    return
  }
  req.log.error({ err }, 'unhandled API error')
  void reply.status(500).send(errorBody('INTERNAL', ErrorCodes.INTERNAL))
}
