/**
 * The OpenAPI document at /docs/json documents the API: every operation has
 * a unique operationId, a summary, a declared tag, an explicit security
 * requirement that agrees with the guard, a success response with its schema
 * and an example, error responses with the shared error body, and examples on
 * request bodies. Every registered route is in it, except the staff console's
 * HTML forms (hidden on purpose, api/console/routes.ts).
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { requiredRole } from '../../api/auth/guard.ts'
import { startApiFixture, type ApiFixture } from './fixture.ts'

interface Media {
  schema?: Schema
  example?: unknown
  examples?: unknown
}
interface Schema {
  $ref?: string
  examples?: unknown[]
  example?: unknown
  [k: string]: unknown
}
interface Operation {
  operationId?: string
  summary?: string
  tags?: string[]
  security?: Array<Record<string, string[]>>
  requestBody?: { content?: Record<string, Media> }
  responses?: Record<string, { description?: string; content?: Record<string, Media> }>
}
interface Doc {
  openapi: string
  info: { title: string; version: string }
  tags?: Array<{ name: string; description?: string }>
  components: { schemas?: Record<string, Schema>; securitySchemes?: Record<string, { type: string; scheme?: string }> }
  paths: Record<string, Record<string, Operation>>
}

/** JSON error responses that are not the error body, on purpose. */
const NOT_ERROR_BODY = new Set(['503 GET /board.json'])

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']

let f: ApiFixture
let doc: Doc

beforeAll(async () => {
  f = await startApiFixture()
  const res = await fetch(`${f.tp.apiUrl}/docs/json`)
  expect(res.status).toBe(200)
  doc = (await res.json()) as Doc
})
afterAll(async () => f?.stop())

const operations = (): Array<{ name: string; path: string; method: string; op: Operation }> =>
  Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, op]) => ({ name: `${method.toUpperCase()} ${path}`, path, method, op })),
  )

const resolve = (s: Schema | undefined): Schema | undefined => (s?.$ref ? doc.components.schemas?.[s.$ref.replace('#/components/schemas/', '')] : s)
const hasExample = (m: Media): boolean => m.example !== undefined || m.examples !== undefined || Boolean(resolve(m.schema)?.examples?.length) || resolve(m.schema)?.example !== undefined
const isSchema = (s: Schema | undefined): boolean => Boolean(s && (s.$ref ? resolve(s) : Object.keys(s).length))

it('is an OpenAPI 3.1 document with declared tags and a bearer scheme', () => {
  expect(doc.openapi).toBe('3.1.0')
  expect(doc.info.title).toBeTruthy()
  expect(doc.components.securitySchemes?.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' })
  for (const t of doc.tags ?? []) expect(t.description, t.name).toBeTruthy()
  expect(doc.components.schemas?.ErrorBody).toBeTruthy()
})

it('documents every operation: summary, tag, security, success and error responses, examples', () => {
  const declaredTags = new Set((doc.tags ?? []).map((t) => t.name))
  const problems: string[] = []
  const ids = new Map<string, string>()
  for (const { name, path, method, op } of operations()) {
    const lacks = (what: string) => problems.push(`${name} lacks ${what}`)
    if (!op.operationId) lacks('an operationId')
    else if (ids.has(op.operationId)) problems.push(`${name} repeats operationId ${op.operationId} of ${ids.get(op.operationId)}`)
    else ids.set(op.operationId, name)
    if (!op.summary?.trim()) lacks('a summary')
    if (!op.tags?.length) lacks('a tag')
    for (const t of op.tags ?? []) if (!declaredTags.has(t)) problems.push(`${name} has tag "${t}", not declared in the top-level tags`)
    if (!Array.isArray(op.security)) lacks('an explicit security requirement')
    else {
      // The document says what the guard does (api/auth/guard.ts).
      const role = requiredRole(method.toUpperCase(), path.replace(/\{([^}]+)\}/g, ':$1'))
      const bearer = op.security.some((s) => 'bearerAuth' in s)
      if (Boolean(role) !== bearer) problems.push(`${name} says security ${JSON.stringify(op.security)} but the guard needs ${role ?? 'no token'}`)
    }
    const responses = Object.entries(op.responses ?? {})
    const ok = responses.filter(([s]) => /^2/.test(s))
    if (!ok.length) lacks('a success response')
    for (const [status, r] of ok) {
      if (status === '204') continue
      const media = Object.entries(r.content ?? {})
      if (!media.length || !media.every(([, m]) => isSchema(m.schema))) lacks(`a ${status} response schema`)
      if (!media.some(([, m]) => hasExample(m))) lacks(`an example of its ${status} response`)
    }
    const errors = responses.filter(([s]) => /^[45]/.test(s))
    if (!errors.length) lacks('an error response')
    for (const [status, r] of errors) {
      const media = Object.entries(r.content ?? {})
      if (!media.length || !media.every(([, m]) => isSchema(m.schema))) lacks(`a ${status} response schema`)
      // JSON errors use the one error body; pages for people answer theirs as HTML or text, the board's refresh as itself.
      const schema = r.content?.['application/json']?.schema
      if (schema && schema.$ref !== '#/components/schemas/ErrorBody' && !NOT_ERROR_BODY.has(`${status} ${name}`)) lacks(`the shared error body on its ${status} response`)
      if (!r.description?.match(/[A-Z_]{4,}/)) lacks(`the error codes in its ${status} response's description`)
    }
    if (!(errors.some(([s]) => s === '429') && errors.some(([s]) => s === '401'))) lacks('the API-wide 401 and 429 responses')
    for (const [type, m] of Object.entries(op.requestBody?.content ?? {})) if (!hasExample(m)) lacks(`an example of its ${type} request body`)
  }
  expect(problems).toEqual([])
  expect(ids.size).toBeGreaterThan(40)
})

it('lists every registered route but the staff console', () => {
  const toOpenApi = (url: string) => url.replace(/:([A-Za-z]+)/g, '{$1}').replace(/\/\*$/, '/{*}')
  const routes = f.tp.platform.api!.routeTable.filter((r) => !r.url.startsWith('/docs') && r.method !== 'HEAD' && r.method !== 'OPTIONS')
  // A plugin's root route is registered as both `/open/v1` and `/open/v1/`; the document has it once.
  const documented = (url: string, method: string) => [toOpenApi(url), `${toOpenApi(url)}/`].some((p) => doc.paths[p]?.[method.toLowerCase()])
  const missing = routes.filter((r) => !r.url.startsWith('/console') && !documented(r.url, r.method)).map((r) => `${r.method} ${r.url}`)
  expect(missing).toEqual([])
  // The console's pages are HTML forms behind a session cookie and CSRF token, for people (docs/CONSOLE.md).
  expect(Object.keys(doc.paths).filter((p) => p.startsWith('/console'))).toEqual([])
  expect(routes.filter((r) => r.url.startsWith('/console')).length).toBeGreaterThan(0)
})

it('describes non-JSON answers with their content type', () => {
  const typesOf = (path: string, method = 'get') => Object.keys(doc.paths[path]?.[method]?.responses?.['200']?.content ?? {})
  expect(typesOf('/metrics')).toEqual([expect.stringMatching(/^text\/plain/)])
  expect(typesOf('/api/v1/stations/{id}/readings.csv')).toEqual(['text/csv'])
  expect(typesOf('/open/v1/stations.geojson')).toEqual(['application/geo+json'])
  expect(typesOf('/')).toEqual(['text/html'])
})
