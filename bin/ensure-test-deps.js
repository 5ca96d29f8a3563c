#!/usr/bin/env node
// `npm test` on a fresh machine (its `pretest`): the tests run against real
// servers, so they need Debian's influxdb, mosquitto and mosquitto-clients,
// chromium for the public board tests, and nats-server, postgresql and
// haproxy for the cluster tests. Installs the missing ones when it
// can (root, or sudo without a password); otherwise prints the exact command
// and stops, rather than let a hundred tests fail one by one.
// `--dry-run` only says what it would do.
import { existsSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { delimiter, join } from 'node:path'

const dryRun = process.argv.includes('--dry-run')

/** A program on PATH, or in the sbin folders Debian installs daemons to (often not on a user's PATH). */
function found(name, sbin = false) {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean)
  if (sbin) dirs.push('/usr/sbin', '/sbin')
  return dirs.some((d) => existsSync(join(d, name)))
}

// Debian package -> the program the tests start.
const PACKAGES = [
  ['influxdb', () => found('influxd')],
  ['mosquitto', () => found('mosquitto', true)],
  ['mosquitto-clients', () => found('mosquitto_pub')],
  ['chromium', () => found('chromium')],
  // The cluster tests (tests/cluster) start their own engines on loopback:
  // a replicated log, shared metadata and the TCP load balancer.
  ['nats-server', () => found('nats-server', true)],
  ['postgresql', () => existsSync('/usr/lib/postgresql') || found('initdb')],
  ['haproxy', () => found('haproxy', true)],
]
const missing = PACKAGES.filter(([, present]) => !present()).map(([pkg]) => pkg)
if (missing.length === 0) process.exit(0)

const install = `apt-get install -y ${missing.join(' ')}`
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
const hasApt = existsSync('/usr/bin/apt-get')
const sudo = !isRoot && hasApt && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0
if (!hasApt || (!isRoot && !sudo)) {
  console.error(`The tests need Debian packages that are not installed: ${missing.join(', ')}.`)
  console.error(hasApt ? `Install them, then run npm test again:\n  sudo apt-get update && sudo ${install}` : 'This machine has no apt-get; install the same programs (influxd 1.x, mosquitto, mosquitto_pub, chromium, nats-server, PostgreSQL 15, haproxy) another way.')
  process.exit(1)
}
const prefix = sudo ? ['sudo', '-n'] : []
const run = (args) => {
  console.error(`${dryRun ? 'would run' : 'running'}: ${[...prefix, ...args].join(' ')}`)
  if (dryRun) return
  const [cmd, ...rest] = [...prefix, ...args]
  const r = spawnSync(cmd, rest, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
  if (r.status !== 0) {
    console.error(`failed (exit ${r.status}); run it yourself: ${sudo ? 'sudo ' : ''}${args.join(' ')}`)
    process.exit(1)
  }
}
console.error(`Installing Debian packages the tests need: ${missing.join(' ')}`)
run(['apt-get', 'update', '-qq'])
run(['apt-get', 'install', '-y', '-qq', ...missing])
// Debian starts mosquitto as a service where systemd runs; the tests start
// their own on ephemeral ports and do not need it.
