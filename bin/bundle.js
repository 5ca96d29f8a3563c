// The CLI bundle (issue 13: `tidewatch devices list` in at most 300 ms):
// cli/main.ts and everything it imports from this repository, plus zod, in
// dist/bundle/ as ES module chunks made by esbuild (it ships with tsx).
// Why: loading zod module by module costs ~80 ms of CPU per call, nearly all
// parsing ~850 KB of JS (65 locale files among it); the bundle keeps only
// the parts of zod the code uses (~200 KB), in a dozen files for
// `devices list` instead of ~120 modules. Commands still load their code lazily:
// each dynamic import becomes its own chunk.
//
// bin/tidewatch.js runs the short commands (cli/main.ts BUNDLED_COMMANDS)
// from here and the long-running ones (services, simulator, local cluster)
// from dist/ module by module, so a service process runs exactly what tsc
// compiled, with the single zod that fastify-type-provider-zod shares with
// the API's schemas. The bundle is still a whole program: zod and
// fastify-type-provider-zod are bundled together, every other package is
// loaded from node_modules as usual.
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join, relative } from 'node:path'
import { isDeepStrictEqual } from 'node:util'

/** Packages bundled into the CLI: zod, and the one package that must see the same zod instance as our schemas. */
const BUNDLED_PACKAGES = /^(zod|fastify-type-provider-zod)(\/|$)/

/**
 * `import { z } from 'zod'` binds zod's whole namespace as a value, so
 * esbuild keeps every export, all 65 locales included; `import * as z`
 * used only as `z.object(…)` lets it keep what is used. Same bindings.
 */
const NAMED_Z_IMPORT = /^import \{ z \} from 'zod'$/gm

/** esbuild is tsx's own dependency (package.json has tsx, not esbuild): asked of tsx, it resolves in any node_modules layout. */
function loadEsbuild(root) {
  return createRequire(createRequire(join(root, 'package.json')).resolve('tsx/package.json'))('esbuild')
}

/**
 * core/config.ts sectionDefaults(): what each configuration section is when
 * left out, computed from the sources being bundled (core/config.ts with
 * zod, bundled in memory and run here). They go into the bundle as plain
 * data, so they must survive JSON unchanged.
 */
async function configSectionDefaults(esbuild, root) {
  const { outputFiles } = await esbuild.build({ absWorkingDir: root, entryPoints: [join(root, 'core', 'config.ts')], bundle: true, write: false, format: 'esm', platform: 'node', target: 'node20', logLevel: 'warning' })
  const { sectionDefaults } = await import(`data:text/javascript;base64,${Buffer.from(outputFiles[0].contents).toString('base64')}`)
  const defaults = sectionDefaults()
  if (!isDeepStrictEqual(JSON.parse(JSON.stringify(defaults)), defaults)) throw new Error('core/config.ts: a section default is not plain JSON data; it cannot be built into the CLI bundle')
  return defaults
}

/** Builds the bundle into `outdir` (dist/bundle/) from the sources; returns esbuild's metafile (what each output holds). */
export async function buildBundle({ root, outdir }) {
  const esbuild = loadEsbuild(root)
  const sourceDir = (path) => !relative(root, path).startsWith('node_modules') && !relative(root, path).startsWith('..')
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: { main: join(root, 'cli', 'main.ts') },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    outdir,
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
    plugins: [
      {
        name: 'tidewatch-cli',
        setup(build) {
          // Every package but zod (and its type provider) stays external: loaded from node_modules, native addons included.
          build.onResolve({ filter: /^[^./]/ }, (args) => (BUNDLED_PACKAGES.test(args.path) || args.path.startsWith('node:') ? undefined : { path: args.path, external: true }))
          build.onLoad({ filter: /\.ts$/ }, async (args) => {
            if (!sourceDir(args.path)) return undefined
            const rel = relative(root, args.path).replace(/\\/g, '/').replace(/\.ts$/, '.js')
            let contents = (await readFile(args.path, 'utf8')).replace(NAMED_Z_IMPORT, "import * as z from 'zod'")
            // A module that finds files beside itself (import.meta.url, .dirname) finds them where tsc
            // put it in dist/, as when dist/ runs module by module: dist/bundle/ holds only chunks.
            if (contents.includes('import.meta')) contents = contents.replace(/\bimport\.meta\b/g, `__distImportMeta(${JSON.stringify(rel)})`)
            return { contents, loader: 'ts' }
          })
        },
      },
    ],
    inject: [join(root, 'bin', 'bundle-meta.js')],
    // A short command builds no schema for a configuration section it is not given (core/config.ts parseSections).
    define: { TIDEWATCH_BUILT_SECTION_DEFAULTS: JSON.stringify(await configSectionDefaults(esbuild, root)) },
  })
  return result.metafile
}
