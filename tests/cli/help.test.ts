/**
 * Every command and subcommand answers --help (and -h) with its usage on
 * stdout and exit 0, before it reads the configuration or opens anything.
 * Every command runs as the real program in a child process; the
 * subcommands, which go through the same dispatch (cli/main.ts), also run
 * in-process through main(), because a child process costs ~2 s of tsx here.
 */
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { tempDir } from '../helpers/platform.ts'
import { COMMAND_NAMES, main } from '../../cli/main.ts'
import { inBatches, runCli } from './run.ts'

const tmp = tempDir('tidewatch-cli-help-')
afterAll(() => tmp.cleanup())

const COMMANDS = [
  [],
  ['up'],
  ['up', '--demo'],
  ['broker'],
  ['ingest'],
  ['api'],
  ['devices'],
  ['devices', 'add'],
  ['devices', 'set'],
  ['devices', 'list'],
  ['devices', 'rotate'],
  ['devices', 'disable'],
  ['devices', 'enable'],
  ['devices', 'import'],
  ['sim'],
  ['certs'],
  ['certs', 'dev'],
  ['alerts'],
  ['alerts', 'rules'],
  ['alerts', 'rules', 'set'],
  ['alerts', 'rules', 'rm'],
  ['alerts', 'subscribers'],
  ['alerts', 'subscribers', 'add'],
  ['alerts', 'subscribers', 'rm'],
  ['tokens'],
  ['tokens', 'create'],
  ['tokens', 'list'],
  ['tokens', 'revoke'],
  ['dashboards'],
  ['dashboards', 'build'],
  ['dashboards', 'push'],
  ['dashboards', 'gazetteer'],
  ['staff'],
  ['staff', 'add'],
  ['staff', 'list'],
]

// A config that would fail and a data dir that must stay empty: help comes first.
const env = { TIDEWATCH_DATA_DIR: join(tmp.dir, 'data'), TIDEWATCH_MQTT_PORT: 'not-a-port' }

async function inProcess(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = ''
  let err = ''
  const code = await main(argv, { stdout: (s) => void (out += s), stderr: (s) => void (err += s) }, env)
  return { code, out, err }
}

describe('tidewatch <command> --help', () => {
  it('covers every command of the dispatch table', () => {
    expect(COMMANDS.filter((argv) => argv.length === 1).map((argv) => argv[0]).sort()).toEqual([...COMMAND_NAMES].sort())
  })

  it('the real program answers every command with its usage and exit 0, reading no config and touching no data', async () => {
    const commands = COMMANDS.filter((argv) => argv.length <= 1)
    const runs = await inBatches(commands, 3, (argv) => runCli([...argv, '--help'], env))
    commands.forEach((argv, i) => {
      const r = runs[i]!
      const label = `tidewatch ${argv.join(' ')} --help`
      expect(r.code, `${label}: ${r.err}`).toBe(0)
      expect(r.out, label).toMatch(/usage/i)
      expect(r.err, label).toBe('')
      if (argv[0]) expect(r.out, label).toContain(`tidewatch ${argv[0]}`)
    })
    expect(existsSync(join(tmp.dir, 'data')) ? readdirSync(join(tmp.dir, 'data')) : []).toEqual([])
  })

  it('answers every subcommand with its usage and exit 0', async () => {
    for (const argv of COMMANDS) {
      const r = await inProcess([...argv, '--help'])
      const label = `tidewatch ${argv.join(' ')} --help`
      expect(r.code, `${label}: ${r.err}`).toBe(0)
      expect(r.out, label).toMatch(/usage/i)
      expect(r.err, label).toBe('')
      // The usage names the command it is about.
      if (argv[0]) expect(r.out, label).toContain(`tidewatch ${argv[0]}`)
    }
    expect(existsSync(join(tmp.dir, 'data')) ? readdirSync(join(tmp.dir, 'data')) : []).toEqual([])
  })

  it('takes -h, `help <command>`, and --help after other flags', async () => {
    // up, broker, devices add, tokens create rejected --help before; alerts rules --help answered STATION_NOT_FOUND.
    const variants = [['-h'], ['help', 'devices'], ['broker', '-h'], ['devices', 'add', 'cm-x', '--name', 'X', '-h'], ['alerts', 'rules', '--help'], ['tokens', 'create', '--role', 'read', '--help']]
    const runs = await inBatches(variants, 3, (argv) => runCli(argv))
    variants.forEach((argv, i) => {
      expect(runs[i]!.code, argv.join(' ')).toBe(0)
      expect(runs[i]!.out, argv.join(' ')).toMatch(/usage/i)
    })
    expect(runs[1]!.out).toContain('tidewatch devices add')
  })
})
