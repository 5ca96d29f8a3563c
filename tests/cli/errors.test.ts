/**
 * One bad input per command: the real program (a child process) answers with
 * one line on stderr — `tidewatch: CODE: …`, no stack trace, no zod dump —
 * and the documented exit code (README "Exit codes": 1 usage or bad input,
 * 2 configuration). File errors name the file and the line or position.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { tempDir } from '../helpers/platform.ts'
import { loadConfig } from '../../core/config.ts'
import { COMMAND_NAMES } from '../../cli/main.ts'
import { commandPaths, inBatches, runCli, runInProcess } from './run.ts'

const tmp = tempDir('tidewatch-cli-errors-')
afterAll(() => tmp.cleanup())
const env = { TIDEWATCH_DATA_DIR: join(tmp.dir, 'data') }
const file = (name: string, text: string): string => {
  const p = join(tmp.dir, name)
  writeFileSync(p, text)
  return p
}

const typo = file('typo.json', JSON.stringify({ http: { port: 8081 }, htttp: { port: 8082 } }, null, 2))
const broken = file('broken.json', '{\n  "http": {\n    "port": 8081,\n  }\n}\n')
const badCsv = file('stations.csv', 'id,name,lat,lon\ncm-ok-01,A,9,105\ncm-bad-02,B,north,105\n')
const badCreds = file('creds.json', '[\n  {"id": "cm-1", "password": "x"},\n  {"id": "cm-2" "password": "y"}\n]\n')
const badGazetteer = file('gazetteer.json', '[{"id": "cm-1", "lat": 9}]')

/** [argv, exit code, what the line must say] */
const CASES: Array<[string[], number, RegExp]> = [
  [['nope'], 1, /unknown command "nope"/],
  [['up', '--bogus'], 1, /BAD_REQUEST: .*--bogus/],
  [['broker', '--demo'], 1, /BAD_REQUEST: --demo is only for tidewatch up/],
  [['ingest', 'extra'], 1, /BAD_REQUEST: .*extra/],
  [['api', '--port', '1'], 1, /BAD_REQUEST: .*--port/],
  [['devices', 'add', 'cm-x-01', '--name', 'X', '--lat', 'north', '--lon', '105'], 1, /BAD_REQUEST: --lat must be a number/],
  [['devices', 'import', badCsv], 1, new RegExp(`CSV_INVALID: ${badCsv}:3: --lat must be a number`)],
  [['devices', 'import', join(tmp.dir, 'missing.csv')], 1, /CSV_INVALID: cannot read .*missing\.csv/],
  [['sim', '--stations', '3'], 1, /BAD_REQUEST: sim: needs --credentials FILE\.json .* or --register/],
  [['sim', '--credentials', badCreds], 1, new RegExp(`BAD_REQUEST: ${badCreds}:3:17: not valid JSON`)],
  [['certs', 'prod'], 1, /BAD_REQUEST: certs: unknown subcommand "prod"/],
  [['alerts', 'rules', 'set', 'default', 'salinity', '{levels'], 1, /ALERT_RULE_INVALID: the rule is not JSON/],
  [['alerts', 'rules', 'cm-nope'], 1, /STATION_NOT_FOUND/],
  [['tokens', 'create', '--name', 'x', '--role', 'god'], 1, /BAD_REQUEST: --role must be one of read, staff, admin/],
  [['staff', 'add', 'lan', '--role', 'boss'], 1, /BAD_REQUEST: --role must be one of/],
  [['dashboards', 'gazetteer', '--stations', badGazetteer], 1, /gazetteer\.json: not a list of stations .*at 0\.lon/],
  [['edge', 'extra'], 1, /BAD_REQUEST: .*extra/],
  [['writer'], 1, /BAD_REQUEST: --target NAME is required/],
  [['alerter', '--group', 'a b'], 1, /BAD_REQUEST: --group must be/],
  [['cluster', 'sideways'], 1, /BAD_REQUEST: cluster: unknown subcommand "sideways"/],
  [['devices', 'list', `--config=${typo}`], 2, /CONFIG_INVALID: Invalid config: htttp: unknown key \(.*typo\.json\)/],
  [['devices', 'list', '--config', broken], 2, new RegExp(`CONFIG_INVALID: ${broken}:4:3: not valid JSON`)],
  [['devices', 'list', '--config', join(tmp.dir, 'nope.json')], 2, /CONFIG_FILE_UNREADABLE: .*nope\.json/],
  [['devices', 'list', '--config'], 1, /BAD_REQUEST: --config needs a file name/],
]

/** `tidewatch sim` listens for Ctrl-C before it reads its flags; the in-process walk must not leave that on the test worker. */
const SIGNALS = ['SIGINT', 'SIGTERM'] as const
const listenersBefore = new Map(SIGNALS.map((sig) => [sig, process.listeners(sig)]))
afterAll(() => {
  for (const sig of SIGNALS) for (const l of process.listeners(sig)) if (!listenersBefore.get(sig)!.includes(l)) process.off(sig, l)
})

describe('tidewatch errors', () => {
  it('has a bad input for every command of the dispatch table', () => {
    const covered = new Set(CASES.map(([argv]) => argv[0]))
    for (const name of COMMAND_NAMES) expect(covered.has(name), `no bad-input case for tidewatch ${name} in CASES`).toBe(true)
  })

  it('every command and subcommand refuses an unknown flag: one line naming it, exit 1, nothing started', async () => {
    // The walk of help.test.ts: the dispatch table, and the subcommands each usage names. The flag is
    // refused as a flag (node:util parseArgs through cli/args.ts parse), never taken for an argument:
    // `alerts rules --no-such-flag` answered STATION_NOT_FOUND, `devices --no-such-flag` "unknown subcommand".
    // After an argument too, where one is taken.
    const afterArgument = [['alerts', 'rules', 'cm-x-01'], ['alerts', 'rules', 'rm', 'default', 'salinity'], ['alerts', 'subscribers', 'rm', '1'], ['devices', 'set', 'cm-x-01'], ['tokens', 'revoke', '1']]
    for (const argv of [...(await commandPaths(env)), ...afterArgument]) {
      const r = await runInProcess([...argv, '--no-such-flag'], env)
      const label = `tidewatch ${argv.join(' ')} --no-such-flag`
      expect(r.code, `${label}\n${r.err}`).toBe(1)
      expect(r.out, label).toBe('')
      expect(r.err.trimEnd().split('\n'), label).toHaveLength(1)
      // dashboards names the subcommand after the code.
      expect(r.err, label).toMatch(/^tidewatch: BAD_REQUEST: (dashboards [a-z]+: )?Unknown option '--no-such-flag'/)
    }
  })

  it('one bad input per command: one line, no stack, the documented exit code', async () => {
    // Cases for commands being added or removed elsewhere run once they are in the dispatch table; `nope` is the unknown command.
    const cases = CASES.filter(([argv]) => argv[0] === 'nope' || COMMAND_NAMES.includes(argv[0]!))
    const runs = await inBatches(cases, 3, ([argv]) => runCli(argv, env))
    cases.forEach(([argv, code, says], i) => {
      const r = runs[i]!
      const label = `tidewatch ${argv.join(' ')}`
      expect(r.code, `${label}\n${r.err}`).toBe(code)
      expect(r.err.trimEnd().split('\n'), label).toHaveLength(1)
      expect(r.err, label).toMatch(/^tidewatch: /)
      expect(r.err, label).toMatch(says)
      expect(r.err, label).not.toMatch(/\n\s+at |ZodError|"code":/)
    })
  })

  it('a bad environment value names the variable and exits 2', async () => {
    const r = await runCli(['devices', 'list'], { ...env, TIDEWATCH_HTTP_PORT: 'eighty' })
    expect(r.code).toBe(2)
    expect(r.err.trimEnd()).toMatch(/^tidewatch: CONFIG_INVALID: Invalid config: http\.port: .*\(TIDEWATCH_HTTP_PORT\)$/)
  })

  it('refuses unknown keys at any depth, the alerts section and influx targets included', () => {
    for (const [json, key] of [
      [{ alerts: { smpp: { hots: 'smsc' } } }, 'alerts.smpp.hots'],
      [{ influx: { targets: [{ name: 'primary', url: 'http://127.0.0.1:8086', dbname: 'x' }] } }, 'influx.targets.0.dbname'],
      [{ mqtt: { auth: { perAdressBurst: 5 } } }, 'mqtt.auth.perAdressBurst'],
    ] as const) {
      const f = file('unknown.json', JSON.stringify(json))
      expect(() => loadConfig({ file: f, env: {} })).toThrow(`Invalid config: ${key}: unknown key (${f})`)
    }
  })
})
