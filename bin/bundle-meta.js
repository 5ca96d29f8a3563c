// Injected by esbuild into the CLI bundle (bin/bundle.js): `import.meta` of
// a bundled module as it is in dist/, where tsc put the same module, so
// code that reads files beside itself finds them. The bundle lives in
// dist/bundle/, one level below dist/.
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

/** `import.meta` of dist/<rel> (e.g. 'cli/args.js'). */
export function __distImportMeta(rel) {
  const url = new URL(`../${rel}`, import.meta.url).href
  const filename = fileURLToPath(url)
  return { url, filename, dirname: dirname(filename) }
}
