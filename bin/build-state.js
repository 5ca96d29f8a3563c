// Is dist/ up to date with the TypeScript sources? Cheap enough to ask on
// every `tidewatch` call (a few hundred stat calls, a few ms): the newest
// source mtime is compared with dist/.stamp, written when a build starts.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = join(dirname(fileURLToPath(import.meta.url)), '..')
export const distDir = join(root, 'dist')
export const stampFile = join(distDir, '.stamp')
export const entry = join(distDir, 'cli', 'main.js')

const CONFIG_FILES = ['tsconfig.json', 'tsconfig.build.json', 'package.json']

/** The folders tsconfig.build.json compiles (its `include`; the file's comments are whole `//` lines). */
function sourceDirs() {
  const text = readFileSync(join(root, 'tsconfig.build.json'), 'utf8').replace(/^\s*\/\/.*$/gm, '')
  return JSON.parse(text).include
}

function newestIn(dir, newest) {
  let entries
  try {
    entries = readdirSync(dir, { withFileTypes: true })
  } catch {
    return newest
  }
  for (const e of entries) {
    const p = join(dir, e.name)
    if (e.isDirectory()) newest = newestIn(p, newest)
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs)
  }
  return newest
}

/** Newest mtime of anything the build reads; 0 in an installed package, which ships dist/ without sources. */
export function newestSource() {
  let newest = 0
  for (const d of sourceDirs()) newest = newestIn(join(root, d), newest)
  for (const f of CONFIG_FILES) if (existsSync(join(root, f))) newest = Math.max(newest, statSync(join(root, f)).mtimeMs)
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
