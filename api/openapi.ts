/**
 * The OpenAPI document's shared pieces (served at /docs/json by
 * @fastify/swagger, api/server.ts): the tags, the one error body, the error
 * responses built from the catalog (core/errors.ts: each code's HTTP status),
 * the security schemes, and `route()`, which every route's schema block is
 * made with. Response schemas are zod like the request schemas: fastify
 * serializes through them (fastify-type-provider-zod), so objects are loose —
 * a documented field of the wrong type fails the route's tests, an
 * undocumented one is never stripped.
 */
import type { FastifySchema, FastifySchemaCompiler, FastifySerializerCompiler, RouteShorthandOptions } from 'fastify'
import { jsonSchemaTransform, serializerCompiler } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { ErrorCodes, httpStatus, type ErrorCode } from '../core/errors.ts'
import { requiredRole } from './auth/guard.ts'

/** Declared once, in this order, at the top of the document. */
export const TAGS = [
  { name: 'health', description: 'Liveness, component health and Prometheus metrics.' },
  { name: 'stations', description: 'The registered stations, their device health and latest values.' },
  { name: 'readings', description: 'Stored readings of one station, raw or aggregated, as JSON or CSV.' },
  { name: 'management', description: 'Staff changes to stations (create, edit, rotate credentials, calibrate, delete) and the audit log. Every change is audited.' },
  { name: 'quarantine', description: 'Readings the ingest refused, with their reason code and an excerpt of what was sent.' },
  { name: 'alerts', description: 'Alert rules, incidents, events, alert states, the SMS outbox and the SMS gateway webhook (docs/ALERTS.md).' },
  { name: 'subscribers', description: 'Farmers and staff who receive alerts. Phone numbers are personal data: reading them needs a token.' },
  { name: 'open data', description: 'Public, read-only open data under CC BY 4.0: stations, readings and daily summaries as JSON, CSV and GeoJSON (docs/OPEN-DATA.md).' },
  { name: 'board', description: 'The public salinity board for people: HTML pages, their refresh JSON and their static assets.' },
  { name: 'SensorThings API 1.1', description: 'OGC SensorThings API 1.1 (OGC 18-088), read-only: Sensing Core and Filtering.' },
] as const

export type Tag = (typeof TAGS)[number]['name']

/** `Authorization: Bearer tw_…`, a token made with `tidewatch tokens create` (roles read < staff < admin). */
export const SECURITY_SCHEMES = {
  bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API token (tidewatch tokens create). Roles: read < staff < admin.' },
  gatewaySecret: { type: 'apiKey', in: 'header', name: 'X-Tidewatch-Secret', description: 'The SMS gateway\'s shared secret (alerts.http.inboundSecret).' },
} as const

/** Every API error: `{ "error": { "code", "message", "details" } }` (api/errors.ts errorBody). */
export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string().meta({ description: 'A stable code from the catalog (core/errors.ts); fastify\'s own client errors keep their FST_ERR_… code.' }),
      message: z.string(),
      details: z.record(z.string(), z.unknown()),
    }),
  })
  .meta({
    id: 'ErrorBody',
    description: 'The body of every API error.',
    examples: [{ error: { code: 'STATION_NOT_FOUND', message: 'Station not found', details: { id: 'cm-x-99' } } }],
  })

type MediaResponse = { description: string; content: Record<string, { schema: z.ZodType }> }

/** A response of one media type. */
export function media(type: string, description: string, schema: z.ZodType): MediaResponse {
  return { description, content: { [type]: { schema } } }
}

export const json = (description: string, schema: z.ZodType): MediaResponse => media('application/json', description, schema)

/** The error response of one status, listing the codes a route answers it with. */
export function errorsAt(status: number, codes: readonly string[], note?: string): Record<number, MediaResponse> {
  const list = codes.map((c) => (c in ErrorCodes ? `${c} (${ErrorCodes[c as ErrorCode]})` : c)).join('; ')
  return { [status]: json(note ? `${list}. ${note}` : list, ErrorBody) }
}

/** Error responses grouped by the status the catalog gives each code. */
export function errorResponses(codes: readonly ErrorCode[]): Record<number, MediaResponse> {
  const byStatus = new Map<number, ErrorCode[]>()
  for (const code of new Set(codes)) byStatus.set(httpStatus(code), [...(byStatus.get(httpStatus(code)) ?? []), code])
  return Object.assign({}, ...[...byStatus].map(([status, list]) => errorsAt(status, list)))
}

/** A success without a body (204): OpenAPI shows no content for a null schema. */
export const noContent = (description: string): z.ZodType => z.null().meta({ description })

/** The answer when If-None-Match matched the ETag (api/board/http-cache.ts). */
export const NOT_MODIFIED = { 304: noContent('Not modified: If-None-Match matched the ETag') }

/** The licence fields every open-data document carries (docs/OPEN-DATA.md). */
export const LicenceFields = {
  license: z.literal('CC-BY-4.0'),
  licenseUrl: z.string(),
  attribution: z.string(),
}
export const LICENCE_EXAMPLE = {
  license: 'CC-BY-4.0',
  licenseUrl: 'https://creativecommons.org/licenses/by/4.0/',
  attribution: 'tidewatch — mạng quan trắc môi trường tỉnh Cà Mau / Cà Mau environmental sensor network',
} as const

/** An instant as the API writes it (Date#toISOString). */
export const IsoTime = z.string().meta({ format: 'date-time', examples: ['2025-03-01T02:00:00.000Z'] })

export interface RouteDoc<P extends z.ZodType | undefined = z.ZodType | undefined, Q extends z.ZodType | undefined = z.ZodType | undefined, B extends z.ZodType | undefined = z.ZodType | undefined> {
  /** Unique across the document (checked by tests/api/openapi.test.ts). */
  operationId: string
  tag: Tag
  summary: string
  description?: string
  params?: P
  querystring?: Q
  body?: B
  /** Success responses by status; a bare zod schema for one without a body (204: `noContent`). */
  ok: Record<number, MediaResponse | z.ZodType>
  /** Codes the handler itself can answer (validation's BAD_REQUEST is added when the route's schemas validate the request). */
  errors?: readonly ErrorCode[]
  /** More error responses whose status is not the code's catalog status (SensorThings' 501). */
  moreErrors?: Record<number, MediaResponse>
  /** Leave out to take it from the API's guard (api/auth/guard.ts requiredRole): bearerAuth when a role is needed, else public. */
  security?: Array<Record<string, string[]>>
}

/** A route's schema block: summary, tag, request schemas, success and error responses. */
export function route<P extends z.ZodType | undefined = undefined, Q extends z.ZodType | undefined = undefined, B extends z.ZodType | undefined = undefined>(
  d: RouteDoc<P, Q, B>,
  schemasValidate = true,
): FastifySchema & { params: P; querystring: Q; body: B } {
  const validated = schemasValidate && (d.params || d.querystring || d.body)
  const codes: ErrorCode[] = [...(validated ? (['BAD_REQUEST'] as const) : []), ...(d.errors ?? [])]
  return {
    operationId: d.operationId,
    tags: [d.tag],
    summary: d.summary,
    ...(d.description ? { description: d.description } : {}),
    // Typed for the zod type provider (handlers see parsed params, query and
    // body). Absent ones are left out, not set to undefined: fastify warns
    // (FSTWRN001) for every key present without a schema, on each HEAD route too.
    ...((d.params ? { params: d.params } : {}) as { params: P }),
    ...((d.querystring ? { querystring: d.querystring } : {}) as { querystring: Q }),
    ...((d.body ? { body: d.body } : {}) as { body: B }),
    ...(d.security ? { security: d.security } : {}),
    response: { ...d.ok, ...errorResponses(codes), ...d.moreErrors },
  }
}

/** Lets a request through unchanged: its schemas only document it. */
const documentOnly: FastifySchemaCompiler<unknown> = () => (data) => ({ value: data })

/**
 * Route options for a handler that validates its own input (api/routes/alerts.ts
 * keeps its own error details; SensorThings parses its own query): the zod
 * schemas document the request, the handler answers as before and lists its
 * own BAD_REQUEST. The zod serializer is set on the route, as the
 * plugin also runs on a bare fastify (tests/alerts/http-gateway.test.ts).
 */
export function selfValidatedRoute<P extends z.ZodType | undefined = undefined, Q extends z.ZodType | undefined = undefined, B extends z.ZodType | undefined = undefined>(d: RouteDoc<P, Q, B>): RouteShorthandOptions {
  return { schema: route(d, false), validatorCompiler: documentOnly, serializerCompiler: serializerCompiler as unknown as FastifySerializerCompiler<FastifySchema> }
}

type SchemaDoc = FastifySchema & { security?: unknown; description?: string; response?: Record<string, unknown>; hide?: boolean }

/**
 * What applies to every route, added where the document is made: who may
 * call it (the guard's own rule, so the document cannot disagree with it),
 * 401 (an unknown token is refused on every route; a missing one where a role
 * is needed), 403 below the role, 429 from the rate limiter and 500 from the
 * error handler (api/errors.ts).
 */
export function withApiWideDocs(schema: SchemaDoc, method: string, url: string): SchemaDoc {
  const role = requiredRole(method, url)
  const unauthorized = role ? `The bearer token is missing, unknown or revoked (role ${role} or higher is needed).` : 'A bearer token was sent but is unknown or revoked (this route needs none).'
  return {
    ...schema,
    security: schema.security ?? (role ? [{ bearerAuth: [] }] : []),
    ...(role && !schema.description?.includes('role') ? { description: `${schema.description ? `${schema.description} ` : ''}Needs a bearer token with role ${role} or higher.` } : {}),
    response: {
      ...errorsAt(401, ['UNAUTHORIZED'], unauthorized),
      ...(role ? errorsAt(403, ['FORBIDDEN'], `The token's role is below ${role}.`) : {}),
      ...errorsAt(429, ['RATE_LIMITED'], 'Per token, or per address without one (http.rateLimitPerMinute, http.tokenRateLimitPerMinute).'),
      ...errorsAt(500, ['INTERNAL'], 'An unexpected failure, logged by the API.'),
      ...schema.response,
    },
  }
}

/** @fastify/swagger's transform: the API-wide parts, then zod to JSON Schema. */
export const openApiTransform: typeof jsonSchemaTransform = (doc) => {
  const schema = doc.schema as SchemaDoc | undefined
  if (!schema || schema.hide) return jsonSchemaTransform(doc)
  const method = [doc.route.method].flat()[0] ?? 'GET'
  return jsonSchemaTransform({ ...doc, schema: withApiWideDocs(schema, method, doc.url) as typeof doc.schema })
}
