import { loadConfig, type Config } from '../core/config.ts'
import { isTidewatchError, TidewatchError } from '../core/errors.ts'
import { createLogger, type Logger } from '../core/log.ts'
import { Registry } from '../devices/registry.ts'
import { parse, processIo, type Io } from './args.ts'
import { alertsCommand } from './commands/alerts.ts'
import { certsCommand } from './commands/certs.ts'
import { dashboardsCommand } from './commands/dashboards.ts'
import { devicesCommand } from './commands/devices.ts'
import { simCommand } from './commands/sim.ts'
import { tokensCommand } from './commands/tokens.ts'
import { runPlatform } from './commands/up.ts'
import { registryPath } from './platform.ts'

const USAGE = `tidewatch — environmental sensor network platform (Cà Mau, Mekong Delta)

Usage:
  tidewatch up [--config FILE] [--demo]     broker + ingest + API in one process
  tidewatch broker [--config FILE]          MQTT broker only (TCP, and TLS when configured)
  tidewatch ingest [--config FILE]          ingest only, consuming from TIDEWATCH_MQTT_URL
  tidewatch api [--config FILE]             HTTP API only
  tidewatch devices add|list|rotate|disable|enable|import …
  tidewatch sim --stations N [--interval S] [--speed X] [--seed N]
  tidewatch certs dev [--out DIR] [--force]
  tidewatch alerts rules|subscribers …     alert rules and SMS subscribers
  tidewatch tokens create|list|revoke …    API tokens with roles (read, staff, admin)
  tidewatch dashboards build|push …

Configuration: a JSON file (--config or TIDEWATCH_CONFIG) plus environment
overrides (TIDEWATCH_DATA_DIR, TIDEWATCH_MQTT_PORT, TIDEWATCH_MQTTS_PORT,
TIDEWATCH_HTTP_PORT, TIDEWATCH_INFLUX_URL, …; see README.md).
Exit codes: 0 ok, 1 error, 2 invalid configuration.`

/** Resolves on the first SIGINT/SIGTERM; a second one exits at once. */
function shutdownSignal(): Promise<void> {
  return new Promise((resolve) => {
    let count = 0
    const handler = (): void => {
      count++
      if (count === 1) resolve()
      else process.exit(130)
    }
    process.on('SIGINT', handler)
    process.on('SIGTERM', handler)
  })
}

export async function main(argv: string[], io: Io = processIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [command, ...rest] = argv
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    io.stdout(USAGE)
    return 0
  }
  let log: Logger | undefined
  try {
    // --config may appear on any command.
    const configIdx = rest.indexOf('--config')
    const configFile = configIdx >= 0 ? rest[configIdx + 1] : undefined
    const args = configIdx >= 0 ? [...rest.slice(0, configIdx), ...rest.slice(configIdx + 2)] : rest
    const config: Readonly<Config> = loadConfig({ file: configFile, env })
    log = createLogger(config.log.level)

    switch (command) {
      case 'up': {
        const { values } = parse(args, { demo: { type: 'boolean', default: false } }, false)
        return await runPlatform({ config, log, io, parts: { broker: true, ingest: 'embedded', api: true }, demo: values.demo, until: shutdownSignal() })
      }
      case 'broker':
        parse(args, {}, false)
        return await runPlatform({ config, log, io, parts: { broker: true }, until: shutdownSignal() })
      case 'ingest':
        parse(args, {}, false)
        return await runPlatform({ config, log, io, parts: { ingest: 'mqtt', api: true }, until: shutdownSignal() })
      case 'api':
        parse(args, {}, false)
        return await runPlatform({ config, log, io, parts: { api: true }, until: shutdownSignal() })
      case 'devices': {
        const registry = Registry.open(registryPath(config))
        try {
          return await devicesCommand(args, registry, io)
        } finally {
          registry.close()
        }
      }
      case 'tokens': {
        const registry = Registry.open(registryPath(config))
        try {
          return await tokensCommand(args, registry, io)
        } finally {
          registry.close()
        }
      }
      case 'sim':
        return await simCommand(args, config, log, io, shutdownSignal())
      case 'certs':
        return await certsCommand(args, config, io)
      case 'alerts': {
        const registry = Registry.open(registryPath(config))
        try {
          return await alertsCommand(args, { registry, config: config.alerts, stdout: io.stdout })
        } finally {
          registry.close()
        }
      }
      case 'dashboards':
        return await dashboardsCommand(args, io)
      default:
        io.stderr(`Unknown command "${command}".\n\n${USAGE}`)
        return 1
    }
  } catch (err) {
    if (isTidewatchError(err)) {
      if (err.code === 'CONFIG_INVALID' || err.code === 'CONFIG_FILE_UNREADABLE') {
        io.stderr(`tidewatch: ${err.message}`)
        const issues = (err.details.issues as Array<{ key: string; reason: string }> | undefined) ?? []
        for (const i of issues.slice(1)) io.stderr(`  also: ${i.key}: ${i.reason}`)
        return 2
      }
      io.stderr(`tidewatch: ${err.code}: ${err.message}`)
      return 1
    }
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      const e = err as NodeJS.ErrnoException & { port?: number }
      io.stderr(`tidewatch: port ${e.port ?? ''} is already in use; set TIDEWATCH_MQTT_PORT / TIDEWATCH_HTTP_PORT to a free port`)
      return 1
    }
    if (log) log.error({ err }, 'fatal error')
    else io.stderr(`tidewatch: ${(err as Error).stack ?? String(err)}`)
    return 1
  }
}

export { TidewatchError }
