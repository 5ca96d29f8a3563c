#!/usr/bin/env node
// `npm start` and `npm test` on a fresh clone: install the npm dependencies
// first if they are missing, so one command sets everything up. (Then
// `npm start` compiles to dist/, bin/build.js; Debian's influxdb is installed,
// or the exact command printed, by `tidewatch up --demo` itself; `npm test`
// installs its Debian packages with bin/ensure-test-deps.js.)
import { existsSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const needed = ['tsx', 'typescript', 'vitest', 'aedes', 'better-sqlite3', 'fastify', '@influxdata/influxdb-client'].map((m) => join(m, 'package.json'))
// The native SQLite binding is built last: a first `npm start` interrupted
// during the install leaves the packages without it, and the next start must
// install again rather than fail.
needed.push(join('better-sqlite3', 'build', 'Release', 'better_sqlite3.node'))
if (!needed.every((f) => existsSync(join(root, 'node_modules', f)))) {
  console.log('Installing npm dependencies (first run)…')
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
  const cmd = existsSync(join(root, 'package-lock.json')) ? ['ci', '--no-audit', '--no-fund'] : ['install', '--no-audit', '--no-fund']
  const r = spawnSync(npm, cmd, { cwd: root, stdio: 'inherit' })
  if (r.status !== 0) {
    console.error(`npm ${cmd[0]} failed; run it yourself in ${root}`)
    process.exit(r.status ?? 1)
  }
}
