/**
 * `tidewatch cluster status|down|up` on a recorded cluster, without starting
 * one: stand-in processes (`node -e …` whose command line names a file in the
 * cluster dir, as every engine and node of a real cluster does) play the
 * launcher and its children, so a dead node, a killed launcher and a recycled
 * pid are cheap to stage. The real cluster runs in local-cluster-cli.test.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { main } from '../../cli/main.ts'
import { missingEngines, STATE_FILE, type ClusterState } from '../../cluster/local/cluster.ts'
import { alive, startTimeOf } from '../../cluster/local/node-process.ts'
import { tempDir } from '../helpers/platform.ts'
import { until } from './fixture.ts'

async function cli(args: string[]): Promise<{ code: number; out: string }> {
  let out = ''
  const code = await main(args, { stdout: (s) => void (out += s + '\n'), stderr: (s) => void (out += s + '\n') }, { TIDEWATCH_LOG_LEVEL: 'silent' })
  return { code, out }
}

const children: ChildProcess[] = []
/** A process that runs until killed, its command line naming `file`. */
async function standIn(file: string): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)', file], { stdio: 'ignore' })
  children.push(child)
  await until(() => startTimeOf(child.pid!) !== undefined, 5_000)
  return child.pid!
}
/** A pid that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  await new Promise((r) => child.once('exit', r))
  return child.pid!
}

function record(dir: string, state: Partial<ClusterState>): void {
  const full: ClusterState = {
    launcherPid: 0,
    startedAt: new Date().toISOString(),
    mqttUrl: 'mqtt://127.0.0.1:1',
    influx: { primary: 'http://127.0.0.1:2', dr: 'http://127.0.0.1:3', database: 'tidewatch' },
    nats: ['nats://127.0.0.1:4'],
    postgres: 'postgres://tidewatch@127.0.0.1:5/tidewatch',
    postgresDir: join(dir, 'postgres'),
    processes: [],
    ...state,
  }
  writeFileSync(join(dir, STATE_FILE), JSON.stringify(full))
}

describe('tidewatch cluster status and down on a recorded cluster (stand-in processes)', () => {
  const tmp = tempDir('tidewatch-cluster-status-')
  afterEach(() => {
    for (const c of children.splice(0)) c.kill('SIGKILL')
  })
  afterAll(() => tmp.cleanup())

  it('status marks a node whose pid is gone as DEAD, and one whose pid now belongs to another process too', async () => {
    const dir = join(tmp.dir, 'dead-node')
    mkdirSync(dir)
    const launcher = await standIn(join(dir, 'launcher'))
    const edge = await standIn(join(dir, 'edge.conf'))
    const recycled = await standIn(join(dir, 'writer.conf'))
    record(dir, {
      launcherPid: launcher,
      launcherStartTime: startTimeOf(launcher),
      processes: [
        { name: 'edge-1', role: 'edge', site: 'dc', pid: edge, startTime: startTimeOf(edge) },
        { name: 'writer-dr-1', role: 'writer', site: 'dr', pid: await deadPid() },
        { name: 'writer-dr-2', role: 'writer', site: 'dr', pid: recycled, startTime: '1' },
      ],
    })
    const status = await cli(['cluster', 'status', '--dir', dir])
    expect(status.code).toBe(0)
    expect(status.out).toMatch(new RegExp(`edge-1 .* pid ${edge}  log|edge-1 .* pid ${edge}\\n`))
    expect(status.out).toMatch(/writer-dr-1 .* DEAD/)
    expect(status.out).toMatch(/writer-dr-2 .* DEAD/)
    expect(status.out).not.toMatch(/edge-1 .* DEAD/)
    expect(status.out).toContain('2 dead: writer-dr-1, writer-dr-2')
  })

  it('after the launcher was killed, status lists what it left running and says to run down; down stops it', async () => {
    const dir = join(tmp.dir, 'launcher-killed')
    mkdirSync(dir)
    const left = [await standIn(join(dir, 'nats', 'n1.conf')), await standIn(join(dir, 'influx-dc', 'influxdb.conf'))]
    // An operator's `tail -f` of a node's log names the dir too, and is not the cluster's.
    writeFileSync(join(dir, 'edge-1.log'), '')
    const tail = spawn('tail', ['-f', join(dir, 'edge-1.log')], { stdio: 'ignore' })
    children.push(tail)
    record(dir, { launcherPid: await deadPid() })
    const status = await cli(['cluster', 'status', '--dir', dir])
    expect(status.code).toBe(1)
    expect(status.out).toContain('2 processes it started are still running')
    for (const pid of left) expect(status.out).toContain(`pid ${pid}`)
    expect(status.out).not.toContain(`pid ${tail.pid}`)
    expect(status.out).toContain(`tidewatch cluster down --dir ${dir}`)

    expect((await cli(['cluster', 'down', '--dir', dir])).out).toContain('its launcher was gone')
    expect(await until(() => !left.some(alive), 10_000)).toBe(true)
    expect(alive(tail.pid!)).toBe(true)
    expect((await cli(['cluster', 'status', '--dir', dir])).out).toContain('no local cluster runs')
  })

  it('a launcher pid now held by another process is not taken for the launcher', async () => {
    const dir = join(tmp.dir, 'recycled-launcher')
    mkdirSync(dir)
    const other = await standIn(join(tmp.dir, 'not-the-cluster'))
    record(dir, { launcherPid: other, launcherStartTime: '1' })
    expect((await cli(['cluster', 'status', '--dir', dir])).out).toContain('no local cluster runs')
  })

  it('down removes a PostgreSQL dir that had to live outside the cluster dir', async () => {
    const dir = join(tmp.dir, 'pg-outside')
    mkdirSync(dir)
    const pgDir = join(tmpdir(), `tidewatch-cluster-pg-test-${process.pid}`)
    mkdirSync(join(pgDir, 'data'), { recursive: true })
    const postmaster = await standIn(join(pgDir, 'data'))
    record(dir, { launcherPid: await deadPid(), postgresDir: pgDir })
    expect((await cli(['cluster', 'down', '--dir', dir])).out).toContain('its launcher was gone')
    expect(await until(() => !alive(postmaster), 10_000)).toBe(true)
    expect(existsSync(pgDir)).toBe(false)
  })

  it.skipIf(missingEngines().length > 0)('up on a dir where a cluster runs refuses before announcing a start', async () => {
    const dir = join(tmp.dir, 'running')
    mkdirSync(dir)
    const launcher = await standIn(join(dir, 'launcher'))
    record(dir, { launcherPid: launcher, launcherStartTime: startTimeOf(launcher) })
    const up = await cli(['cluster', 'up', '--dir', dir])
    expect(up.code).not.toBe(0)
    expect(up.out).toContain('CLUSTER_ALREADY_RUNNING')
    expect(up.out).not.toContain('starting a local cluster')
  })
})
