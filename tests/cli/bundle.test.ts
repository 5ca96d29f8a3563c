/**
 * The CLI bundle (bin/bundle.js, dist/bundle/ in `npm run build`) is the
 * program that runs the short commands: built here into a scratch folder
 * beside dist/bundle/ (same depth, so `import.meta` of a bundled module
 * points into dist/ as in the real build), every command it runs answers
 * --help, it lists stations and tokens, and it answers a bad flag and a bad
 * configuration (a value, an unknown key) with the same output and exit
 * code as the sources do. It keeps one zod locale (English).
 */
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tempDir } from '../helpers/platform.ts'
import { COMMAND_NAMES, runsFromBundle } from '../../cli/main.ts'
import { runInProcess } from './run.ts'
// @ts-expect-error: a plain ES module of the build, without types
import { buildBundle } from '../../bin/bundle.js'

const REPO = join(import.meta.dirname, '..', '..')
const tmp = tempDir('tidewatch-cli-bundle-')
mkdirSync(join(REPO, 'dist'), { recursive: true })
const outdir = mkdtempSync(join(REPO, 'dist', '.bundle-test-'))
const env = { TIDEWATCH_DATA_DIR: join(tmp.dir, 'data') }
const typo = join(tmp.dir, 'typo.json')
writeFileSync(typo, JSON.stringify({ http: { port: 8081 }, htttp: { port: 8082 } }))
const badAlerts = join(tmp.dir, 'alerts.json')
writeFileSync(badAlerts, JSON.stringify({ alerts: { smsChannel: 'sms' }, cluster: { nats: { replicas: 9 } } }))
let metafile: { outputs: Record<string, { inputs: Record<string, unknown> }> }

beforeAll(async () => {
  metafile = await buildBundle({ root: REPO, outdir })
  writeFileSync(join(outdir, 'run.mjs'), `const { main } = await import('./main.js')\nprocess.exitCode = await main(process.argv.slice(2))\n`)
}, 60_000)
afterAll(() => {
  rmSync(outdir, { recursive: true, force: true })
  tmp.cleanup()
})

/** `tidewatch ARGV` run from the bundle in a child process, as bin/tidewatch.js runs it. */
function runBundle(argv: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(outdir, 'run.mjs'), ...argv], {
      cwd: REPO,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => void (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => void (err += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, out, err }))
  })
}

describe('the CLI bundle', () => {
  it('answers as the sources do: --help, devices list, a bad flag, a bad configuration', async () => {
    const cases: Array<[string[], Record<string, string>]> = [
      [['--help'], {}],
      ...COMMAND_NAMES.filter((name) => runsFromBundle([name])).map((name): [string[], Record<string, string>] => [[name, '--help'], {}]),
      [['devices', 'list', '--help'], {}],
      [['devices', 'add', '--help'], {}],
      [['alerts', 'rules', '--no-such-flag'], {}],
      [['devices', 'list'], {}],
      [['devices', 'list', '--json'], {}],
      [['devices', 'list', '--bogus'], {}],
      [['tokens', 'list'], {}],
      [['devices', 'list'], { TIDEWATCH_MQTT_PORT: 'abc' }],
      [['devices', 'list', '--config', typo], {}],
      [['devices', 'list', '--config', badAlerts], {}],
      [['nope'], {}],
    ]
    for (const [argv, extra] of cases) {
      const bundled = await runBundle(argv, extra)
      const source = await runInProcess(argv, { ...env, ...extra })
      expect({ argv, code: bundled.code, out: bundled.out, err: bundled.err }).toEqual({ argv, code: source.code, out: source.out, err: source.err })
    }
  }, 60_000)

  it('keeps only the English zod locale', () => {
    const locales = new Set(Object.values(metafile.outputs).flatMap((o) => Object.keys(o.inputs).filter((k) => k.includes('zod/v4/locales/'))))
    expect([...locales]).toEqual(['node_modules/zod/v4/locales/en.js'])
  })

  it('runs the short commands; the long-running ones run from dist/ module by module', () => {
    for (const argv of [[], ['--help'], ['help'], ['help', 'devices'], ['devices', 'list'], ['tokens'], ['staff'], ['alerts'], ['certs'], ['dashboards'], ['nope']]) expect(runsFromBundle(argv), argv.join(' ')).toBe(true)
    for (const argv of [['up'], ['up', '--help'], ['help', 'up'], ['broker'], ['ingest'], ['api'], ['edge'], ['writer'], ['sim'], ['alerter'], ['cluster']]) expect(runsFromBundle(argv), argv.join(' ')).toBe(false)
  })
})
