import type { Config } from '../core/config.ts'
import { isTidewatchError, TidewatchError, type ErrorCode } from '../core/errors.ts'
import type { Logger } from '../core/log.ts'
import { serviceThreadData, serviceThreadYoungGenerationMb, stopFromMainThread } from '../core/service-thread.ts'
import { processIo, usageFor, type Io } from './args.ts'

/**
 * The `tidewatch` program: global flags (--config, --help), one dispatch
 * table, and one place that turns every failure into one line on stderr and
 * a documented exit code. Each command's module is imported only when that
 * command runs, so `tidewatch --help` or `tidewatch devices list` does not
 * load the broker, the ingest or the API (issue 13: at most 300 ms).
 */

/** Exit codes, documented in README.md ("Exit codes"). */
export const EXIT = {
  OK: 0,
  /** Usage or bad input: unknown command or flag, a missing or invalid argument or input file, an unknown station or token. */
  USAGE: 1,
  /** The configuration file or an environment override is unreadable or invalid. */
  CONFIG: 2,
  /** Something the command needs failed at run time: a port in use, InfluxDB down or not installed, an internal error. Retrying may help. */
  RUNTIME: 3,
} as const

const USAGE = `tidewatch — environmental sensor network platform (Cà Mau, Mekong Delta)

Usage:
  tidewatch up [--demo]                      broker + ingest + API in one process
  tidewatch broker                           MQTT broker only (TCP, and TLS when configured)
  tidewatch ingest                           ingest only, consuming from TIDEWATCH_MQTT_URL
  tidewatch api                              HTTP API only
  tidewatch edge                             cluster edge: broker whose PUBACK waits for the replicated log (NATS)
  tidewatch writer --target NAME             cluster writer: replicated log -> one InfluxDB target
  tidewatch devices add|set|list|rotate|disable|enable|import …
  tidewatch sim --stations N [--register] …  simulated stations
  tidewatch certs dev [--out DIR] [--force]  development CA and server certificate
  tidewatch alerts rules|subscribers …       alert rules and SMS subscribers
  tidewatch tokens create|list|revoke …      API tokens with roles (read, staff, admin)
  tidewatch staff add|list|disable|enable …   staff accounts for the console (/console)
  tidewatch dashboards build|push|gazetteer …
  tidewatch cluster up|down|status [--dir DIR]  a local cluster on loopback (docs/CLUSTER.md)
  tidewatch alerter [--group NAME]           cluster alerter node: one leader per group (NATS KV lease)
  tidewatch <command> --help                 help for one command

Every command takes --config FILE (or --config=FILE, or TIDEWATCH_CONFIG): a
JSON file, plus environment overrides (TIDEWATCH_DATA_DIR, TIDEWATCH_MQTT_PORT,
TIDEWATCH_HTTP_PORT, TIDEWATCH_INFLUX_URL, …; see README.md).
Exit codes: 0 ok, 1 usage or bad input, 2 invalid configuration, 3 run-time failure.`

const serviceUsage = (name: string, what: string, flags = ''): string =>
  `Usage: tidewatch ${name} [--config FILE]${flags}\n  ${what}\n  Logs are JSON lines on stderr (human-readable on a terminal); Ctrl-C stops cleanly.`

interface Context {
  args: string[]
  config: Readonly<Config>
  /** The root logger, made on first use: registry commands never load pino. */
  log(): Promise<Logger>
  io: Io
}

interface Command {
  /** Help text, loaded with the command's module when it lives there: the subcommand's that args name (`devices add`), else the command's. */
  help(args: readonly string[]): Promise<string>
  run(ctx: Context): Promise<number>
  /** A long-running service whose hot path allocates per message: it runs on a thread of its own (cli/service-thread.ts). */
  serviceThread?: boolean
}

/**
 * Resolves on the first SIGINT/SIGTERM/SIGHUP; a second one exits at once. On a
 * service's thread, which gets no signals, when the main thread passes the
 * first one on.
 */
function shutdownSignal(): Promise<void> {
  if (serviceThreadData()) return stopFromMainThread()
  return new Promise((resolve) => {
    let count = 0
    const handler = (): void => {
      count++
      if (count === 1) resolve()
      else process.exit(130)
    }
    process.on('SIGINT', handler)
    process.on('SIGTERM', handler)
    // A closed terminal: stop as cleanly as on Ctrl-C (the default would end us with no clean-up).
    process.on('SIGHUP', handler)
  })
}

async function withRegistry(config: Readonly<Config>, fn: (registry: import('../devices/registry.ts').Registry) => Promise<number>): Promise<number> {
  const [{ Registry }, { registryPath }] = await Promise.all([import('../devices/registry.ts'), import('./args.ts')])
  const registry = Registry.open(registryPath(config))
  try {
    return await fn(registry)
  } finally {
    registry.close()
  }
}

/**
 * The registry the station and token commands write: in cluster mode
 * (`cluster.postgres.url`) the shared PostgreSQL repository every node reads
 * (issue 16), else the node's own SQLite registry. pg and cluster/ are
 * imported only on the cluster path, so `devices list` stays cheap without it.
 */
async function withMetadata(config: Readonly<Config>, fn: (source: import('./commands/devices.ts').MetadataSource) => Promise<number>): Promise<number> {
  if (!config.cluster.postgres.url) return withRegistry(config, fn)
  const { withOperatorRepository } = await import('../cluster/metadata/open.ts')
  return withOperatorRepository(config.cluster.postgres, fn)
}

/** A command module's usage for `--help`: the subcommand's that args name, else the whole (cli/args.ts usageFor). */
function subcommandHelp(module: { USAGE: string; SUBCOMMANDS: Readonly<Record<string, string>> }, args: readonly string[]): string {
  return usageFor(module.USAGE, module.SUBCOMMANDS, args)
}

function service(name: string, what: string, parts: import('../platform/platform.ts').PlatformParts, flags = ''): Command {
  return {
    help: async () => serviceUsage(name, what, flags),
    async run({ args, config, log, io }) {
      const { parse } = await import('./args.ts')
      const { values } = parse(args, { demo: { type: 'boolean', default: false } }, false)
      if (values.demo && name !== 'up') throw new TidewatchError('BAD_REQUEST', { flag: 'demo' }, `--demo is only for tidewatch up`)
      const { runPlatform } = await import('./commands/up.ts')
      return runPlatform({ config, log: await log(), io, parts, demo: values.demo, until: shutdownSignal() })
    },
    serviceThread: true,
  }
}

const COMMANDS: Record<string, Command> = {
  up: service('up', 'Broker, ingest, alerter and API in one process. --demo also starts a local InfluxDB and simulated stations.', { broker: true, ingest: 'embedded', api: true }, ' [--demo]'),
  broker: service('broker', 'The MQTT broker only (TCP, and TLS when mqtt.certFile and mqtt.keyFile are set).', { broker: true }),
  ingest: service('ingest', 'The ingest only, subscribing to the broker at mqtt.url (TIDEWATCH_MQTT_URL), plus the API.', { ingest: 'mqtt', api: true }),
  api: service('api', 'The HTTP API only.', { api: true }),
  edge: {
    help: async () => (await import('./commands/edge.ts')).USAGE,
    run: async ({ args, config, log, io }) => (await import('./commands/edge.ts')).edgeCommand(args, config, await log(), io, shutdownSignal()),
    serviceThread: true,
  },
  writer: {
    help: async () => (await import('./commands/writer.ts')).USAGE,
    run: async ({ args, config, log, io }) => (await import('./commands/writer.ts')).writerCommand(args, config, await log(), io, shutdownSignal()),
  },
  devices: {
    help: async (args) => (await import('./commands/devices.ts')).usage(args),
    run: async ({ args, config, io }) => {
      const { devicesCommand } = await import('./commands/devices.ts')
      return withMetadata(config, (source) => devicesCommand(args, source, io))
    },
  },
  staff: { help: async (args) => subcommandHelp(await import('./commands/staff.ts'), args), run: async ({ args, config, io }) => (await import('./commands/staff.ts')).staffCommand({ args, config, io }) },
  tokens: {
    help: async (args) => subcommandHelp(await import('./commands/tokens.ts'), args),
    run: async ({ args, config, io }) => {
      const { tokensCommand } = await import('./commands/tokens.ts')
      return withMetadata(config, (source) => tokensCommand(args, source, io))
    },
  },
  alerts: {
    help: async (args) => subcommandHelp(await import('./commands/alerts.ts'), args),
    run: async ({ args, config, io }) => {
      const { alertsCommand } = await import('./commands/alerts.ts')
      // Cluster mode: PostgreSQL's rules and subscribers, which every node follows (withMetadata).
      return withMetadata(config, (source) => alertsCommand(args, { ...('backend' in source ? { repo: source } : { registry: source }), config: config.alerts, stdout: io.stdout }))
    },
  },
  sim: {
    help: async () => (await import('./commands/sim.ts')).USAGE,
    run: async ({ args, config, log, io }) => (await import('./commands/sim.ts')).simCommand(args, config, await log(), io, shutdownSignal()),
  },
  certs: {
    help: async () => (await import('./commands/certs.ts')).USAGE,
    run: async ({ args, config, io }) => (await import('./commands/certs.ts')).certsCommand(args, config, io),
  },
  alerter: {
    help: async () => (await import('./commands/alerter-node.ts')).USAGE,
    run: async ({ args, config, log, io }) => (await import('./commands/alerter-node.ts')).alerterNodeCommand(args, config, await log(), io, shutdownSignal()),
  },
  cluster: {
    help: async (args) => subcommandHelp(await import('./commands/cluster.ts'), args),
    run: async ({ args, log, io }) => (await import('./commands/cluster.ts')).clusterCommand(args, log, io, shutdownSignal()),
  },
  dashboards: {
    help: async (args) => subcommandHelp(await import('./commands/dashboards.ts'), args),
    run: async ({ args, io }) => (await import('./commands/dashboards.ts')).dashboardsCommand(args, io),
  },
}

/** The command names, for tests that must cover every one. */
export const COMMAND_NAMES: readonly string[] = Object.keys(COMMANDS)

/**
 * Commands that do one thing and exit: bin/tidewatch.js runs them from the
 * CLI bundle (bin/bundle.js, issue 13: `devices list` in at most 300 ms).
 * Every other command starts a long-running process (a service, the
 * simulator, a local cluster) and runs from dist/ module by module, where
 * the API's schemas and fastify-type-provider-zod share node_modules' zod.
 * A command missing here is only slower to start.
 */
const BUNDLED_COMMANDS: ReadonlySet<string> = new Set(['devices', 'tokens', 'staff', 'alerts', 'certs', 'dashboards'])

/** Whether `tidewatch ARGV` runs from the CLI bundle: a short command, help, or an unknown command's error. */
export function runsFromBundle(argv: readonly string[]): boolean {
  const command = argv[0] === 'help' ? argv[1] : argv[0]
  return !command || command === '--help' || command === '-h' || !Object.hasOwn(COMMANDS, command) || BUNDLED_COMMANDS.has(command)
}

/** `--help` or `-h` anywhere before a `--` asks for help, whatever else is on the line. */
function wantsHelp(args: string[]): boolean {
  const end = args.indexOf('--')
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h')
}

/** Takes `--config FILE` or `--config=FILE` out of the arguments; every command accepts it. */
export function takeConfigFlag(args: string[]): { file?: string; rest: string[] } {
  const rest: string[] = []
  let file: string | undefined
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a === '--') {
      rest.push(...args.slice(i))
      break
    }
    if (a === '--config' || a.startsWith('--config=')) {
      const value = a === '--config' ? args[++i] : a.slice('--config='.length)
      if (!value || (a === '--config' && value.startsWith('--'))) throw new TidewatchError('BAD_REQUEST', { flag: 'config' }, '--config needs a file name')
      file = value
    } else rest.push(a)
  }
  return { file, rest }
}

/** Codes that mean "the environment failed", not "the request was wrong". */
const RUNTIME_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'INFLUX_UNAVAILABLE',
  'INFLUX_QUERY_FAILED',
  'INFLUXD_NOT_INSTALLED',
  'POSTGRES_UNAVAILABLE',
  'INTERNAL',
  'SMPP_BIND_FAILED',
  'SMPP_TIMEOUT',
  'SMPP_NOT_BOUND',
  'SMS_GATEWAY_REJECTED',
  'SMS_GATEWAY_UNAVAILABLE',
])

const firstLine = (s: string): string => s.split('\n', 1)[0]!.trim()

/** One line and an exit code for anything a command throws. No stack traces, no raw zod dumps. */
export function describeError(err: unknown, command?: string): { line: string; exit: number } {
  const hint = command && COMMANDS[command] ? ` (tidewatch ${command} --help)` : ''
  if (isTidewatchError(err)) {
    if (err.code === 'CONFIG_INVALID') {
      const issues = (err.details.issues as Array<{ key: string; reason: string }> | undefined) ?? []
      const more = issues.length > 1 ? `; also ${issues.slice(1).map((i) => `${i.key}: ${i.reason}`).join('; ')}` : ''
      return { line: `CONFIG_INVALID: ${firstLine(err.message)}${more.replace(/\s*\n\s*/g, ' ')}`, exit: EXIT.CONFIG }
    }
    if (err.code === 'CONFIG_FILE_UNREADABLE') return { line: `CONFIG_FILE_UNREADABLE: ${firstLine(err.message)}`, exit: EXIT.CONFIG }
    // Cluster mode asked for without what it needs (cluster/): the configuration is at fault.
    if (err.code === 'CLUSTER_NOT_CONFIGURED' || err.code === 'CLUSTER_TARGET_UNKNOWN') return { line: `${err.code}: ${firstLine(err.message)}`, exit: EXIT.CONFIG }
    const runtime = RUNTIME_CODES.has(err.code)
    // The usage helps with a bad command line; a bad file, value or station says what to fix itself.
    const showHint = err.code === 'BAD_REQUEST' && err.details.file === undefined
    return { line: `${err.code}: ${firstLine(err.message)}${showHint ? hint : ''}`, exit: runtime ? EXIT.RUNTIME : EXIT.USAGE }
  }
  const e = err as NodeJS.ErrnoException & { port?: number }
  if (e?.code === 'EADDRINUSE') {
    return { line: `port ${e.port ?? ''} is already in use; set TIDEWATCH_MQTT_PORT / TIDEWATCH_HTTP_PORT to a free port`, exit: EXIT.RUNTIME }
  }
  // A file named on the command line that cannot be read or written.
  if (e?.path && typeof e.code === 'string') return { line: `${e.path}: ${e.code === 'ENOENT' ? 'no such file or directory' : firstLine(e.message)}`, exit: EXIT.USAGE }
  if (e?.code?.startsWith?.('ERR_PARSE_ARGS')) return { line: `BAD_REQUEST: ${firstLine(e.message)}${hint}`, exit: EXIT.USAGE }
  return { line: `INTERNAL: ${firstLine(e?.message ?? String(err))}`, exit: EXIT.RUNTIME }
}

/**
 * `programFile` is bin/tidewatch.js when the program runs as a process: a
 * service then runs on a thread of its own, started from it (runtime in
 * core/config.ts). Without it (tests calling main), every command runs here.
 */
export async function main(argv: string[], io: Io = processIo, env: NodeJS.ProcessEnv = process.env, programFile?: string): Promise<number> {
  // `tidewatch help devices add` is `tidewatch devices add --help`.
  const [command, ...rest] = argv[0] === 'help' && argv[1] ? [...argv.slice(1), '--help'] : argv[0] === 'help' ? [] : argv
  if (!command || command === '--help' || command === '-h') {
    io.stdout(USAGE)
    return EXIT.OK
  }
  const cmd = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined
  if (!cmd) {
    io.stderr(`tidewatch: BAD_REQUEST: unknown command "${command}" (tidewatch --help lists them)`)
    return EXIT.USAGE
  }
  let log: Logger | undefined
  let getLog: (() => Promise<Logger>) | undefined
  try {
    if (wantsHelp(rest)) {
      io.stdout(await cmd.help(rest))
      return EXIT.OK
    }
    const { file, rest: args } = takeConfigFlag(rest)
    const { loadConfig } = await import('../core/config.ts')
    const config = loadConfig({ file, env })
    getLog = async (): Promise<Logger> => (log ??= (await import('../core/log.ts')).createLogger(config.log.level))
    const { youngGenerationMb } = config.runtime
    if (cmd.serviceThread && programFile && youngGenerationMb > 0 && !serviceThreadData()) {
      // The thread logs its own start (below); the main thread loads no logger for it.
      const { runOnServiceThread } = await import('./service-thread.ts')
      return await runOnServiceThread({ programFile, argv, env, youngGenerationMb, until: shutdownSignal() })
    }
    const threadYoungMb = serviceThreadYoungGenerationMb()
    if (threadYoungMb !== undefined) (await getLog()).debug({ youngGenerationMb: threadYoungMb }, 'service running on a thread of its own')
    return await cmd.run({ args, config, log: getLog, io })
  } catch (err) {
    const { line, exit } = describeError(err, command)
    // The whole error, stack included, for whoever runs with log.level debug.
    const logger = await getLog?.().catch(() => undefined)
    logger?.debug({ err }, 'command failed')
    io.stderr(`tidewatch: ${line}`)
    return exit
  }
}

export { TidewatchError }
