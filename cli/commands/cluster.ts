import { join, resolve } from 'node:path'
import { TidewatchError } from '../../core/errors.ts'
import type { Logger } from '../../core/log.ts'
import { numberFlag, parse, subcommandOf, type Io } from '../args.ts'

/** Each subcommand's usage, printed alone by `tidewatch cluster <subcommand> --help` (args.ts usageFor). */
export const SUBCOMMANDS = {
  up: `  tidewatch cluster up [--dir DIR] [--stations N] [--interval S] [--no-sim]
      starts it in the foreground and prints where everything is; the simulator
      publishes through HAProxy with N stations (default 6) registered in the
      shared metadata, one reading every S seconds (default 10); --no-sim
      starts no simulator. Ctrl-C stops it all.`,
  down: `  tidewatch cluster down [--dir DIR]
      stops the cluster running in DIR (from another terminal), or what a
      launcher that died left running`,
  status: `  tidewatch cluster status [--dir DIR]
      what runs in DIR: addresses, processes and their logs, the dead ones marked`,
}

export const USAGE = `Usage:
${Object.values(SUBCOMMANDS).join('\n')}
  A whole cluster on loopback, for trying cluster mode out (docs/CLUSTER.md):
  3 nats-server (JetStream, R3), PostgreSQL, 2 influxd (DC and DR), 2 edges
  and 2 API nodes behind HAProxy, 2 writers per InfluxDB target, and the
  simulator publishing through HAProxy.
  Everything lives in DIR (default ./tidewatch-cluster): logs/, each node's
  data, and cluster.json (pids and ports) that down and status read.
  Needs Debian's nats-server, postgresql, haproxy and influxdb; when one is
  missing it prints the apt-get line. Never needed by npm start or npm test.`

const DEFAULT_DIR = 'tidewatch-cluster'

export async function clusterCommand(argv: string[], log: () => Promise<Logger>, io: Io, until: Promise<void>): Promise<number> {
  const [sub, rest] = subcommandOf(argv)
  if (sub !== 'up' && sub !== 'down' && sub !== 'status') {
    throw new TidewatchError('BAD_REQUEST', { subcommand: sub ?? '' }, sub ? `cluster: unknown subcommand "${sub}" (up, down or status)` : 'cluster: needs a subcommand: up, down or status')
  }
  const { values } = parse(
    rest,
    {
      dir: { type: 'string' },
      ...(sub === 'up' ? { stations: { type: 'string' }, interval: { type: 'string' }, 'no-sim': { type: 'boolean', default: false } } : {}),
    },
    false,
  )
  const dir = resolve(values.dir ?? DEFAULT_DIR)
  const local = await import('../../cluster/local/cluster.ts')

  if (sub === 'down') {
    const did = await local.stopRecordedCluster(dir)
    io.stdout(did === 'none' ? `no local cluster runs in ${dir}` : did === 'stopped' ? `local cluster in ${dir} stopped` : `local cluster in ${dir}: its launcher was gone; stopped what it left running`)
    return 0
  }
  if (sub === 'status') {
    const status = local.clusterStatus(dir)
    if (status.kind === 'none') {
      io.stdout(`no local cluster runs in ${dir}`)
      return 0
    }
    if (status.kind === 'leftovers') {
      // The launcher is gone (kill -9, a crash) but what it started still runs, holding ports and files.
      io.stdout(`no launcher runs in ${dir}, but ${status.pids.length} processes it started are still running:`)
      for (const p of status.pids) io.stdout(`  pid ${String(p.pid).padEnd(8)} ${p.command}`)
      io.stdout(`stop them with: tidewatch cluster down --dir ${dir}`)
      return 1
    }
    io.stdout(describe(status.state, dir, status.processes))
    const dead = status.processes.filter((p) => !p.alive)
    if (dead.length) io.stdout(`${dead.length} dead: ${dead.map((p) => p.name).join(', ')} (the launcher restarts tidewatch nodes; see its output and each node's log)`)
    return 0
  }

  const v = values as { stations?: string; interval?: string; 'no-sim'?: boolean }
  const stations = numberFlag('stations', v.stations, 6, { min: 1, max: 1000, integer: true })
  const intervalSec = numberFlag('interval', v.interval, 10, { min: 0.1 })
  local.requireEngines()
  // Refuse before announcing a start: a second up on a running dir changes nothing.
  if (local.runningState(dir)) {
    throw new TidewatchError('CLUSTER_ALREADY_RUNNING', { dir }, `a local cluster already runs in ${dir}; stop it with: tidewatch cluster down --dir ${dir}`)
  }
  io.stdout(`starting a local cluster in ${dir} (first start takes a minute: initdb, JetStream, ${stations} stations)…`)
  const cluster = await local.startLocalCluster({
    dir,
    stations,
    simulator: v['no-sim'] ? false : { intervalSec },
    alerters: local.alerterAvailable() ? 2 : 0,
    restartNodes: true,
    ownProcessGroups: true,
    log: await log(),
  })
  io.stdout(describe(cluster.state(), dir))
  io.stdout(`Ctrl-C, or tidewatch cluster down --dir ${dir}, stops it all.`)
  await until
  io.stdout('stopping the local cluster…')
  await cluster.stop()
  return 0
}

type Local = typeof import('../../cluster/local/cluster.ts')

/** Where everything is; with `live`, each process marked by whether its recorded pid still runs. */
function describe(state: ReturnType<Local['readState']> & {}, dir: string, live?: Array<{ name: string; alive: boolean }>): string {
  const isAlive = (name: string): boolean | undefined => live?.find((p) => p.name === name)?.alive
  const lines = [
    `MQTT (stations, via HAProxy): ${state.mqttUrl}`,
    state.apiUrl ? `API (via HAProxy):            ${state.apiUrl}` : undefined,
    `InfluxDB DC (primary):        ${state.influx.primary}  db=${state.influx.database}`,
    `InfluxDB DR (dr):             ${state.influx.dr}  db=${state.influx.database}`,
    `NATS JetStream:               ${state.nats.join(',')}`,
    `PostgreSQL:                   ${state.postgres}  data ${state.postgresDir}${state.postgresDir.startsWith(dir + '/') ? '' : ' (outside DIR: the postgres user cannot pass through its parents; cluster down removes it)'}`,
    'processes:',
    ...state.processes.map((p) => {
      const mark = isAlive(p.name) === false ? '  DEAD' : ''
      return `  ${p.name.padEnd(18)} ${p.site}  pid ${p.pid ?? '-'}${mark}${p.port ? `  port ${p.port}` : ''}${p.log ? `  log ${p.log}` : ''}`
    }),
    `state: ${join(dir, 'cluster.json')}`,
  ]
  return lines.filter((l): l is string => l !== undefined).join('\n')
}
