#!/usr/bin/env node
// `npm run build`: compiles the sources to dist/ with tsc (tsconfig.build.json),
// then bundles the CLI into dist/bundle/ with esbuild (bin/bundle.js).
// `--if-stale` (npm start's prestart) builds only when dist/ is missing or
// older than a source file, so a fresh clone still starts with one command.
import { cpSync, mkdirSync, rmSync, writeFileSync, utimesSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { assetFiles, buildState, bundleDir, distDir, root, stampFile } from './build-state.js'
import { buildBundle } from './bundle.js'

const ifStale = process.argv.includes('--if-stale')
const state = buildState()
if (ifStale && state === 'fresh') process.exit(0)
if (ifStale) console.error(`Compiling TypeScript to dist/ (${state === 'missing' ? 'first run' : 'sources changed'})…`)

// The stamp takes the time the build started: a source saved during the
// build is newer than it, so the next start builds again.
const started = new Date()
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc', { paths: [root] })
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' })
if (r.status !== 0) {
  console.error('tsc failed; dist/ is not up to date (see the errors above)')
  process.exit(r.status ?? 1)
}
// Files the code reads next to itself (import.meta.dirname), such as the
// board's scripts and maps, go where the compiled code will look for them.
for (const file of assetFiles()) cpSync(join(root, file), join(distDir, file))
// Chunks are named by content hash: a new build's chunks replace the old ones, none are left behind.
rmSync(bundleDir, { recursive: true, force: true })
try {
  await buildBundle({ root, outdir: bundleDir })
} catch (err) {
  console.error(`esbuild failed; dist/bundle/ is not up to date: ${err.message}`)
  process.exit(1)
}
mkdirSync(distDir, { recursive: true })
writeFileSync(stampFile, `${started.toISOString()}\n`)
utimesSync(stampFile, started, started)
