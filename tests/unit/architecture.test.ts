import { builtinModules } from 'node:module'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

/**
 * The layering asked for by issue 13 ("Structure"), kept true by
 * reading every import of every source file: static `import … from`,
 * `export … from`, `import x = require(…)`, dynamic `import('…')` and type
 * positions `import('…').T`, type-only ones included.
 *
 * Layers, lowest first. A file may import its own folder, and any folder of a
 * lower layer; never a higher one, and never a different folder of its own
 * layer, except a feature's public surface (below).
 */
const LAYERS: ReadonlyArray<readonly string[]> = [
  ['core'], // ground floor: node: and npm packages only
  ['influx'], // shared contract: the InfluxDB schema, line protocol, writes and queries
  ['levels'], // shared contract: thresholds and zones (may use influx)
  ['devices'], // the station registry
  ['broker', 'ingest', 'alerts', 'dashboards', 'firmware-sim'], // features
  ['api'], // the HTTP adapter over the features
  ['platform', 'cluster'], // composition: one process / one cluster node each
  ['cli'], // the command line, which starts either composition
]

/**
 * Composition layers wire the parts together, so they may take any module of
 * a lower layer, internals included (the constructors they wire are often not
 * anyone else's business: Spool, QuarantineStore, the alerter's engine).
 * cluster/edge.ts using ingest/spool/spool.ts is such wiring, as
 * platform/platform.ts using ingest/source/mqtt-source.ts is.
 */
const COMPOSITION = new Set(['platform', 'cluster', 'cli'])

/**
 * What a folder offers to other folders of the features and api layers.
 * Everything else in it is internal. Keep this small: when an import reaches
 * an internal module, move the shared part down or use a public module, rather
 * than adding a line here.
 */
const PUBLIC_SURFACE: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  devices: {
    'registry.ts': 'the station registry: stations, sensors, credentials, sightings',
    'certs.ts': 'device certificate records and serial normalisation, for mTLS authentication and issuing',
  },
  alerts: {
    'alerter.ts': 'the alerter component the API serves incidents, subscribers and outbox from',
    'subscribers.ts': 'the subscriber schema, type and search, edited through the API and console',
    'store.ts': 'row types of alert events and the outbox, as the alerter hands them to the console',
    'history.ts': 'read-only views of the alert tables, which API nodes without an alerter serve in cluster mode (the outbox copied from PostgreSQL)',
    'acks.ts': 'acknowledgements of incidents, recorded by staff through the API and console',
    'templates.ts': 'SMS rendering, for the public board\'s sample message',
  },
  broker: {
    'server.ts': 'the broker handle whose health and metrics the API reports',
  },
  ingest: {
    'service.ts': 'the ingest service whose health and metrics the API reports',
    'quarantine.ts': 'quarantined readings, inspected and released through the API and console',
  },
  dashboards: {},
  'firmware-sim': {},
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const RANK = new Map<string, number>(LAYERS.flatMap((folders, rank) => folders.map((f) => [f, rank] as const)))

export interface ImportEdge {
  /** Repository-relative path of the importing file, with forward slashes. */
  file: string
  line: number
  specifier: string
}

const PACKAGES = (() => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>
  return new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})])
})()
const BUILTINS = new Set(builtinModules)

function packageName(specifier: string): string {
  const parts = specifier.split('/')
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!
}

/** What is wrong with one import, or undefined. */
export function violation(edge: ImportEdge): string | undefined {
  const from = edge.file.split('/')[0]!
  const where = `${edge.file}:${edge.line} imports '${edge.specifier}'`
  if (!edge.specifier.startsWith('.')) {
    if (edge.specifier.startsWith('node:') || BUILTINS.has(edge.specifier)) return undefined
    return PACKAGES.has(packageName(edge.specifier)) ? undefined : `${where}: not node: and not a package declared in package.json`
  }
  const target = relative(ROOT, resolve(ROOT, dirname(edge.file), edge.specifier)).split(sep).join('/')
  const [to, ...rest] = target.split('/')
  const inside = rest.join('/')
  if (to === from) return undefined
  const fromRank = RANK.get(from)!
  const toRank = RANK.get(to!)
  if (toRank === undefined) return `${where}: ${target} is outside the layered source folders`
  if (toRank > fromRank) return `${where}: ${from}/ is below ${to}/ (a lower layer imports a higher one)`
  if (COMPOSITION.has(from) && toRank < fromRank) return undefined
  const surface = PUBLIC_SURFACE[to!]
  if (toRank === fromRank && !surface) return `${where}: ${from}/ and ${to}/ are peers of one layer and do not import each other`
  if (surface && !(inside in surface)) return `${where}: ${target} is internal to ${to}/ (public: ${Object.keys(surface).join(', ') || 'nothing'})`
  return undefined
}

function importsOf(file: string): ImportEdge[] {
  const text = readFileSync(join(ROOT, file), 'utf8')
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS)
  const edges: ImportEdge[] = []
  const add = (node: ts.Node, spec: ts.Node | undefined): void => {
    if (spec && ts.isStringLiteralLike(spec)) edges.push({ file, line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1, specifier: spec.text })
    else if (spec) edges.push({ file, line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1, specifier: `<not a literal: ${spec.getText()}>` })
  }
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) add(node, node.moduleSpecifier)
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) add(node, node.moduleReference.expression)
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) add(node, node.arguments[0])
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node, node.argument.literal)
    ts.forEachChild(node, visit)
  }
  visit(source)
  return edges
}

function sourceFiles(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)).split(sep).join('/'))
}

describe('architecture: layers and public surfaces', () => {
  const folders = [...RANK.keys()]
  const edges = folders.flatMap(sourceFiles).flatMap(importsOf)

  it('reads the imports of every layered folder', () => {
    // A sanity floor, so a broken walker cannot pass by reading nothing.
    expect(edges.length).toBeGreaterThan(500)
    expect(edges.some((e) => e.specifier.startsWith('.') && e.file.startsWith('cli/main.ts'))).toBe(true)
  })

  it('has no import from a lower layer upward, between peers, or into a feature\'s internals', () => {
    expect(edges.map(violation).filter(Boolean)).toEqual([])
  })

  it('core/ imports only core/, node: and npm packages', () => {
    const outside = edges.filter((e) => e.file.startsWith('core/') && e.specifier.startsWith('.') && !relative(ROOT, resolve(ROOT, dirname(e.file), e.specifier)).startsWith(`core${sep}`))
    expect(outside.map((e) => `${e.file}:${e.line} imports '${e.specifier}'`)).toEqual([])
  })

  it('places every top-level source folder in a layer', () => {
    const unplaced = readdirSync(ROOT, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !['node_modules', 'dist', 'tests', 'bench', 'bin', 'types', 'data', 'docs', 'grafana'].includes(e.name) && !e.name.startsWith('.'))
      .filter((e) => sourceFiles(e.name).length > 0 && !RANK.has(e.name))
      .map((e) => e.name)
    expect(unplaced).toEqual([])
  })

  it('lists only modules that exist in each public surface', () => {
    const missing = Object.entries(PUBLIC_SURFACE).flatMap(([folder, modules]) =>
      Object.keys(modules).filter((m) => !sourceFiles(folder).includes(`${folder}/${m}`)).map((m) => `${folder}/${m}`),
    )
    expect(missing).toEqual([])
  })

  it('names the file and import of each kind of violation', () => {
    const at = (file: string, specifier: string) => violation({ file, line: 1, specifier })
    expect(at('core/config.ts', '../alerts/config.ts')).toMatch(/^core\/config\.ts:1 imports '\.\.\/alerts\/config\.ts': core\/ is below alerts\//)
    expect(at('influx/query.ts', '../levels/book.ts')).toMatch(/lower layer imports a higher one/)
    expect(at('alerts/engine.ts', '../ingest/ingest.ts')).toMatch(/ingest\/ingest\.ts is internal to ingest\//)
    expect(at('api/routes/x.ts', '../../ingest/spool/spool.ts')).toMatch(/internal to ingest\//)
    expect(at('api/routes/x.ts', '../../alerts/alerter.ts')).toBeUndefined()
    expect(at('platform/p.ts', '../cluster/edge.ts')).toMatch(/peers of one layer/)
    expect(at('cluster/edge.ts', '../ingest/spool/spool.ts')).toBeUndefined()
    expect(at('core/x.ts', 'left-pad')).toMatch(/not a package declared/)
    expect(at('core/x.ts', 'node:fs')).toBeUndefined()
    expect(at('api/x.ts', '../tests/helpers/influx.ts')).toMatch(/outside the layered source folders/)
  })
})
