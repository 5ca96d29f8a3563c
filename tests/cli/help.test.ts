/**
 * Every command and subcommand answers --help (and -h) with its usage on
 * stdout and exit 0, before it reads the configuration or opens anything.
 * The commands are walked from the dispatch table (cli/main.ts) and the
 * subcommands from each command's usage (run.ts commandPaths), so a new one
 * cannot escape. Every command runs as the real program in a child process;
 * the subcommands, which go through the same dispatch, run in-process through
 * main(), because a child process costs ~2 s of tsx here.
 */
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tempDir } from '../helpers/platform.ts'
import { COMMAND_NAMES } from '../../cli/main.ts'
import { commandPaths, inBatches, runCli, runInProcess } from './run.ts'

const tmp = tempDir('tidewatch-cli-help-')
afterAll(() => tmp.cleanup())

/** Paths the walk must find at least: it reads them from the usages, so a usage that stopped naming them would shrink the walk unnoticed. */
const KNOWN = [
  ['up'],
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
  ['devices', 'cert'],
  ['devices', 'revoke-cert'],
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
  ['staff', 'disable'],
  ['staff', 'enable'],
]

// A config that would fail and a data dir that must stay empty: help comes first.
const env = { TIDEWATCH_DATA_DIR: join(tmp.dir, 'data'), TIDEWATCH_MQTT_PORT: 'not-a-port' }
const dataDirEntries = (): string[] => (existsSync(join(tmp.dir, 'data')) ? readdirSync(join(tmp.dir, 'data')) : [])

let paths: string[][] = []
beforeAll(async () => {
  paths = await commandPaths(env)
})

describe('tidewatch <command> --help', () => {
  it('walks every command of the dispatch table and every subcommand the usages name', () => {
    const found = paths.map((p) => p.join(' '))
    expect(paths.filter((p) => p.length === 1).map((p) => p[0]).sort()).toEqual([...COMMAND_NAMES].sort())
    for (const known of KNOWN) if (COMMAND_NAMES.includes(known[0]!)) expect(found, known.join(' ')).toContain(known.join(' '))
  })

  it('the real program answers every command and the top level with its usage and exit 0, reading no config and touching no data', async () => {
    const commands = [[], ...COMMAND_NAMES.map((name) => [name])]
    const runs = await inBatches(commands, 3, (argv) => runCli([...argv, '--help'], env))
    commands.forEach((argv, i) => {
      const r = runs[i]!
      const label = `tidewatch ${argv.join(' ')} --help`
      expect(r.code, `${label}: ${r.err}`).toBe(0)
      expect(r.out, label).toMatch(/usage/i)
      expect(r.err, label).toBe('')
      if (argv[0]) expect(r.out, label).toContain(`tidewatch ${argv[0]}`)
    })
    expect(dataDirEntries()).toEqual([])
  })

  it('answers every subcommand with its usage and exit 0', async () => {
    for (const argv of paths) {
      const r = await runInProcess([...argv, '--help'], env)
      const label = `tidewatch ${argv.join(' ')} --help`
      expect(r.code, `${label}: ${r.err}`).toBe(0)
      expect(r.out, label).toMatch(/usage/i)
      expect(r.err, label).toBe('')
      // The usage names the command it is about.
      expect(r.out, label).toContain(`tidewatch ${argv.join(' ')}`)
      // A subcommand's usage is its own, not its command's whole usage: every synopsis line is about it
      // (`devices add --help` printed every devices subcommand; `alerts rules` has rules, rules set, rules rm).
      if (argv.length > 1) {
        const about = [...r.out.matchAll(/^\s*(?:Usage:\s*)?tidewatch ([a-z][a-z0-9-]*(?: [a-z][a-z0-9-]*)*)/gm)].map((m) => m[1]!)
        for (const synopsis of about) expect(`${synopsis} `.startsWith(`${argv.join(' ')} `), `${label} prints the usage of tidewatch ${synopsis}`).toBe(true)
      }
    }
    expect(dataDirEntries()).toEqual([])
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

  it('prints one subcommand\'s usage, wherever --help is and however help is asked for', async () => {
    for (const argv of [['devices', 'add', '--help'], ['help', 'devices', 'add'], ['devices', 'add', 'cm-x', '--name', 'X', '-h']]) {
      const r = await runInProcess(argv, {})
      expect(r.code, argv.join(' ')).toBe(0)
      expect(r.out, argv.join(' ')).toMatch(/^Usage:\n {2}tidewatch devices add <id> --name NAME --lat LAT --lon LON/)
      expect(r.out, argv.join(' ')).toContain('--zone')
      expect(r.out, argv.join(' ')).not.toContain('tidewatch devices list')
    }
    // Words that name no subcommand: the command's whole usage.
    const whole = await runInProcess(['tokens', 'nope', '--help'], {})
    expect(whole.out).toContain('tidewatch tokens create')
    expect(whole.out).toContain('tidewatch tokens revoke')
  })
})
