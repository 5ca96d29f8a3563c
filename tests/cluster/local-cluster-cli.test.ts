/**
 * `tidewatch cluster up|status|down` as an operator runs them: `up` is a real
 * child process (`node bin/tidewatch.js cluster up`) that starts every engine
 * and node (3 nats-server, PostgreSQL, 2 influxd, HAProxy, 2 edges, 4
 * writers, 2 API nodes, the simulator); the simulator's stations publish
 * through HAProxy and their readings are read back from BOTH InfluxDBs;
 * `status` lists the processes with their real pids (engines too); a writer
 * killed with kill -9 is logged by the launcher and restarted; `down` from
 * another process stops them all, with nothing of the cluster left in /proc.
 */
import { spawn } from 'node:child_process'
import { afterAll, describe, expect, it } from 'vitest'
import { COMMAND_NAMES, main } from '../../cli/main.ts'
import { missingEngines, readState, stopRecordedCluster } from '../../cluster/local/cluster.ts'
import { alive, pidsMentioning, TIDEWATCH_BIN } from '../../cluster/local/node-process.ts'
import { readStored } from '../chaos/lib/ledger.ts'
import { tempDir } from '../helpers/platform.ts'
import { until } from './fixture.ts'

const runnable = missingEngines().length === 0 && COMMAND_NAMES.includes('cluster') && COMMAND_NAMES.includes('edge')

async function cli(args: string[]): Promise<{ code: number; out: string }> {
  let out = ''
  const code = await main(args, { stdout: (s) => void (out += s + '\n'), stderr: (s) => void (out += s + '\n') }, { TIDEWATCH_LOG_LEVEL: 'silent' })
  return { code, out }
}

describe.skipIf(!runnable)('tidewatch cluster up, status, down (real processes)', () => {
  const tmp = tempDir('tidewatch-cluster-cli-')
  afterAll(async () => {
    // Whatever happened above, leave nothing running.
    await stopRecordedCluster(tmp.dir)
    tmp.cleanup()
  }, 60_000)

  it('starts everything, stations publish through HAProxy into both InfluxDBs, down stops every process', async () => {
    let out = ''
    const up = spawn(process.execPath, [TIDEWATCH_BIN, 'cluster', 'up', '--dir', tmp.dir, '--stations', '2', '--interval', '1'], {
      env: { ...process.env, TIDEWATCH_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    up.stdout.on('data', (d: Buffer) => void (out += d.toString()))
    up.stderr.on('data', (d: Buffer) => void (out += d.toString()))
    const exited = new Promise<number | null>((r) => up.once('exit', (code) => r(code)))
    expect(await until(() => out.includes('stops it all') || up.exitCode !== null, 180_000, 250), out).toBe(true)
    expect(out).toContain('MQTT (stations, via HAProxy)')

    const state = readState(tmp.dir)!
    expect(state.launcherPid).toBe(up.pid)
    const roles = state.processes.map((p) => p.role)
    for (const role of ['nats', 'postgres', 'influxd', 'haproxy', 'edge', 'writer', 'api', 'sim']) expect(roles, role).toContain(role)
    expect(roles.filter((r) => r === 'edge')).toHaveLength(2)
    expect(roles.filter((r) => r === 'writer')).toHaveLength(4)
    // Every process with its real pid, the engines included.
    for (const p of state.processes) expect(p.pid && alive(p.pid), p.name).toBe(true)
    // PostgreSQL's data inside the cluster dir (its parents here let the postgres user through).
    expect(state.postgresDir.startsWith(tmp.dir + '/')).toBe(true)

    // The simulator's two stations, through HAProxy and the edges, in DC and DR.
    const simStations = async (url: string): Promise<number> => {
      let n = 0
      for (const points of (await readStored(url, state.influx.database)).values()) n += points.size
      return n
    }
    expect(await until(async () => (await simStations(state.influx.primary)) > 0 && (await simStations(state.influx.dr)) > 0, 60_000, 500)).toBe(true)
    // The API nodes answer through HAProxy, with the stations registered in PostgreSQL (their registries follow it).
    // Each API node's /health reports what it depends on: its InfluxDB read target and its copy of the PostgreSQL metadata.
    for (let i = 0; i < 2; i++) {
      const health = (await (await fetch(`${state.apiUrl}/health`)).json()) as { status: string; components: Record<string, { up: boolean }> }
      expect(health.status).toBe('ok')
      expect(health.components.readTarget?.up, JSON.stringify(health)).toBe(true)
      expect(health.components.metadata?.up, JSON.stringify(health)).toBe(true)
    }
    const listed = async (): Promise<string[]> => ((await (await fetch(`${state.apiUrl}/api/v1/stations`)).json()) as { stations: Array<{ id: string }> }).stations.map((s) => s.id)
    const sims = (await readStored(state.influx.primary, state.influx.database)).keys()
    const simId = [...sims][0]!
    // Both API nodes (HAProxy alternates between them).
    for (let i = 0; i < 4; i++) expect(await listed()).toContain(simId)
    expect((await fetch(`${state.apiUrl}/api/v1/stations/${simId}/latest`)).status).toBe(200)

    const status = await cli(['cluster', 'status', '--dir', tmp.dir])
    expect(status.code).toBe(0)
    expect(status.out).toContain(`pid ${state.processes.find((p) => p.role === 'edge')!.pid}`)

    // kill -9 of a writer by hand: the launcher logs it, restarts it, and status shows the new pid.
    const writer = state.processes.find((p) => p.role === 'writer')!
    process.kill(writer.pid!, 'SIGKILL')
    expect(await until(() => out.includes('node exited unexpectedly'), 10_000, 100), out).toBe(true)
    const restarted = await until(async () => {
      const s = await cli(['cluster', 'status', '--dir', tmp.dir])
      const line = s.out.split('\n').find((l) => l.includes(`${writer.name} `)) ?? ''
      return !line.includes(`pid ${writer.pid} `) && !line.includes('DEAD') && /pid \d+/.test(line)
    }, 30_000, 250)
    expect(restarted, out).toBe(true)
    const afterRestart = readState(tmp.dir)!

    const down = await cli(['cluster', 'down', '--dir', tmp.dir])
    expect(down.out).toContain('stopped')
    expect(await exited).toBe(0)
    // Nothing the cluster started is left: no process names a file under its dir.
    expect(await until(() => pidsMentioning(tmp.dir).length === 0, 10_000)).toBe(true)
    for (const p of [...state.processes, ...afterRestart.processes]) if (p.pid) expect(alive(p.pid), p.name).toBe(false)
    expect((await cli(['cluster', 'status', '--dir', tmp.dir])).out).toContain('no local cluster runs')
  }, 300_000)
})
