import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

/** A `tidewatch alerter` child process (the real CLI, from source) and its JSON log lines. */
export interface AlerterProcess {
  proc: ChildProcess
  logs: Array<Record<string, unknown>>
  node: string
  dataDir: string
  /** The first log line with this msg, if any. */
  logged(msg: string): Record<string, unknown> | undefined
  kill(): void
}

export function spawnAlerter(opts: { node: string; dir: string; configFile: string; natsServers: readonly string[]; postgresUrl?: string }): AlerterProcess {
  const dataDir = join(opts.dir, opts.node)
  mkdirSync(dataDir, { recursive: true })
  const proc = spawn(process.execPath, [join(REPO, 'bin/tidewatch.js'), 'alerter'], {
    cwd: REPO,
    env: {
      ...process.env,
      TIDEWATCH_CONFIG: opts.configFile,
      TIDEWATCH_DATA_DIR: dataDir,
      TIDEWATCH_NATS_SERVERS: opts.natsServers.join(','),
      TIDEWATCH_NODE_ID: opts.node,
      ...(opts.postgresUrl ? { TIDEWATCH_POSTGRES_URL: opts.postgresUrl } : {}),
      TIDEWATCH_LOG_LEVEL: 'info',
      TIDEWATCH_FROM_SOURCE: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const logs: Array<Record<string, unknown>> = []
  let rest = ''
  const take = (chunk: Buffer): void => {
    const lines = (rest + chunk.toString()).split('\n')
    rest = lines.pop()!
    for (const l of lines) {
      try {
        logs.push(JSON.parse(l) as Record<string, unknown>)
      } catch {
        logs.push({ msg: l })
      }
    }
  }
  proc.stdout!.on('data', take)
  proc.stderr!.on('data', take)
  return {
    proc,
    logs,
    node: opts.node,
    dataDir,
    logged: (msg) => logs.find((l) => l.msg === msg),
    kill: () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
    },
  }
}
