// Is dist/ up to date with the TypeScript sources? Cheap enough to ask on
// every `tidewatch` call (a few hundred stat calls, a few ms): the newest
// source mtime is compared with dist/.stamp, written when a build starts.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = join(dirname(fileURLToPath(import.meta.url)), '..')
export const distDir = join(root, 'dist')
export const stampFile = join(distDir, '.stamp')
export const entry = join(distDir, 'cli', 'main.js')

/** The folders tsconfig.build.json compiles, and the files that change its output. */
const SOURCE_DIRS = ['core', 'broker', 'devices', 'ingest', 'api', 'firmware-sim', 'influx', 'cli', 'alerts', 'dashboards', 'levels', 'types']
const CONFIG_FILES = ['tsconfig.json', 'tsconfig.build.json', 'package.json']

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
  for (const d of SOURCE_DIRS) newest = newestIn(join(root, d), newest)
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
