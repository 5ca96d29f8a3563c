#!/usr/bin/env node
// The `tidewatch` command. Runs the compiled build (dist/, `npm run build`),
// so a call does not compile TypeScript first: the short commands from the
// CLI bundle (dist/bundle/, bin/bundle.js), the long-running ones from
// dist/ module by module (cli/main.ts runsFromBundle says which). In a
// source checkout where dist/ is missing or older than the sources, it runs
// the sources through tsx instead of stale code (slower, ~2 s), so a change
// is never ignored. TIDEWATCH_FROM_SOURCE=1 always runs the sources (the CLI
// tests do); TIDEWATCH_NO_BUNDLE=1 runs dist/ module by module for every command.
import { existsSync } from 'node:fs'
import { buildState, bundleEntry, entry } from './build-state.js'
import { fileURLToPath, pathToFileURL } from 'node:url'

// `tidewatch devices list | head`: the reader went away; stop quietly, as other CLI programs do.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0)
  throw err
})

const argv = process.argv.slice(2)
let main
// A service's thread runs this file again (cli/service-thread.ts); it runs
// what the process chose here, even when a build lands in between.
const fromSource = process.env.TIDEWATCH_FROM_SOURCE === '1' || (process.env.TIDEWATCH_FROM_DIST !== '1' && buildState() !== 'fresh')
process.env[fromSource ? 'TIDEWATCH_FROM_SOURCE' : 'TIDEWATCH_FROM_DIST'] = '1'
if (!fromSource) {
  const bundle = process.env.TIDEWATCH_NO_BUNDLE !== '1' && existsSync(bundleEntry) ? await import(pathToFileURL(bundleEntry).href) : undefined
  ;({ main } = bundle?.runsFromBundle(argv) ? bundle : await import(pathToFileURL(entry).href))
} else {
  const { register } = await import('tsx/esm/api')
  register()
  ;({ main } = await import('../cli/main.ts'))
}
// A service runs on a thread of its own, started from this file (cli/service-thread.ts).
process.exitCode = await main(argv, undefined, process.env, fileURLToPath(import.meta.url))
