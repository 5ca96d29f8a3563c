#!/usr/bin/env node
// The `tidewatch` command. Runs the compiled build (dist/, `npm run build`),
// so a call does not compile TypeScript first. In a source checkout where
// dist/ is missing or older than the sources, it runs the sources through
// tsx instead of stale code (slower, ~2 s), so a change is never ignored.
// TIDEWATCH_FROM_SOURCE=1 always runs the sources (the CLI tests do).
import { buildState, entry } from './build-state.js'
import { pathToFileURL } from 'node:url'

// `tidewatch devices list | head`: the reader went away; stop quietly, as other CLI programs do.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0)
  throw err
})

let main
if (process.env.TIDEWATCH_FROM_SOURCE !== '1' && buildState() === 'fresh') {
  ;({ main } = await import(pathToFileURL(entry).href))
} else {
  const { register } = await import('tsx/esm/api')
  register()
  ;({ main } = await import('../cli/main.ts'))
}
process.exitCode = await main(process.argv.slice(2))
