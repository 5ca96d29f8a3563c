// Is dist/ up to date with the TypeScript sources? Asked on every `tidewatch`
// call, so it is kept cheap: one readdir per source folder and one stat per
// file (about 3 ms for ~200 files here; issue 13's start-up bar is 300 ms).
// The newest source mtime is compared with dist/.stamp, written when a build
// starts. Every file is stat'ed: a directory's mtime does not change when a
// file in it is edited in place, so a cheaper check would miss edits.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = join(dirname(fileURLToPath(import.meta.url)), '..')
export const distDir = join(root, 'dist')
export const stampFile = join(distDir, '.stamp')
export const entry = join(distDir, 'cli', 'main.js')
/** The CLI bundle (bin/bundle.js): the short commands run from it. */
export const bundleDir = join(distDir, 'bundle')
export const bundleEntry = join(bundleDir, 'main.js')

/** Files besides the sources that decide what the build makes: a change to one of them rebuilds too. */
const CONFIG_FILES = ['tsconfig.json', 'tsconfig.build.json', 'package.json', 'bin/bundle.js', 'bin/bundle-meta.js']

/** The folders tsconfig.build.json compiles (its `include`; the file's comments are whole `//` lines). */
function sourceDirs() {
  const text = readFileSync(join(root, 'tsconfig.build.json'), 'utf8').replace(/^\s*\/\/.*$/gm, '')
  return JSON.parse(text).include
}

/** Every file under the source folders, relative to the root: TypeScript and the assets beside it. */
function sourceFiles() {
  const files = []
  // Plain '/' joins: path.join normalizes every path, a measurable share of the check.
  const walk = (rel) => {
    let entries
    try {
      entries = readdirSync(`${root}/${rel}`, { withFileTypes: true })
    } catch {
      return
    }
    for (const e of entries) {
      if (e.isDirectory()) walk(`${rel}/${e.name}`)
      else files.push(`${rel}/${e.name}`)
    }
  }
  for (const d of sourceDirs()) walk(d)
  return files
}

/** Files that are not compiled but read at run time from beside the code (import.meta.dirname); the build copies them. */
export function assetFiles() {
  return sourceFiles().filter((f) => !f.endsWith('.ts'))
}

/** Newest mtime of anything the build reads; 0 in an installed package, which ships dist/ without sources. */
export function newestSource() {
  let newest = 0
  for (const f of [...sourceFiles(), ...CONFIG_FILES]) newest = Math.max(newest, statSync(`${root}/${f}`, { throwIfNoEntry: false })?.mtimeMs ?? 0)
  return newest
}

/** 'fresh', 'missing' or 'stale'. */
export function buildState() {
  if (!existsSync(entry)) return 'missing'
  // An installed package ships dist/ and no sources: nothing to compare.
  if (!existsSync(join(root, 'cli', 'main.ts'))) return 'fresh'
  if (!existsSync(stampFile)) return 'missing'
  return newestSource() > statSync(stampFile).mtimeMs ? 'stale' : 'fresh'
}
