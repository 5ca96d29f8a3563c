/**
 * Parent side of the simulated stations: N child processes (station-worker.ts),
 * each owning a slice of the stations, commanded over IPC. Results are merged
 * back into station order.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const HERE = dirname(fileURLToPath(import.meta.url))
const RUN_TS = resolve(HERE, '../../bin/run-ts.js')

export interface StationCred {
  id: string
  password: string
}

export type WorkerCommand =
  | { cmd: 'connect'; host: string; port: number; stations: StationCred[]; localAddresses: Array<string | undefined>; concurrency: number; keepaliveSec: number }
  | { cmd: 'flood'; seconds: number; window: number }
  | { cmd: 'rate'; seconds: number; perStationPerSec: number; phaseOffset: number; phaseCount: number }
  | { cmd: 'backlog'; readings: number; batchSize: number; intervalMs: number; endAgoMs: number; window: number }
  | { cmd: 'close' }

export type WorkerResult =
  | { ev: 'ready' }
  | { ev: 'connected'; connected: number; failed: number; connectMs: number[]; wallMs: number }
  | { ev: 'done'; acked: number[]; ackedInWindow: number; pubackMs: number[]; wallMs: number; errors?: number }
  | { ev: 'closed' }
  | { ev: 'error'; message: string }

interface Worker {
  proc: ChildProcess
  stations: StationCred[]
  waiting?: (r: WorkerResult) => void
}

export interface FleetRun {
  /** Acknowledged readings per station id. */
  acked: Map<string, number>
  ackedTotal: number
  ackedInWindow: number
  pubackMs: number[]
  wallMs: number
  errors: number
}

export class Fleet {
  private constructor(private readonly workers: Worker[]) {}

  static async start(stations: StationCred[], workers: number): Promise<Fleet> {
    const n = Math.max(1, Math.min(workers, stations.length))
    const ws: Worker[] = []
    for (let w = 0; w < n; w++) {
      const proc = fork(RUN_TS, [join(HERE, 'station-worker.ts')], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: ['--max-old-space-size=4096'] })
      const worker: Worker = { proc, stations: stations.filter((_, i) => i % n === w) }
      proc.on('message', (m: WorkerResult) => {
        const cb = worker.waiting
        worker.waiting = undefined
        cb?.(m)
      })
      ws.push(worker)
    }
    await Promise.all(ws.map((w) => new Promise<void>((r) => (w.waiting = () => r()))))
    return new Fleet(ws)
  }

  get pids(): number[] {
    return this.workers.map((w) => w.proc.pid!)
  }

  private async all(make: (w: Worker, index: number) => WorkerCommand): Promise<WorkerResult[]> {
    return Promise.all(
      this.workers.map(
        (w, i) =>
          new Promise<WorkerResult>((resolve, reject) => {
            w.waiting = (r) => (r.ev === 'error' ? reject(new Error(r.message)) : resolve(r))
            w.proc.send(make(w, i))
          }),
      ),
    )
  }

  async connect(opts: { host: string; port: number; localAddresses?: string[]; concurrency?: number; keepaliveSec?: number }): Promise<{ connected: number; failed: number; connectMs: number[]; wallMs: number }> {
    const rs = (await this.all((w) => ({
      cmd: 'connect',
      host: opts.host,
      port: opts.port,
      stations: w.stations,
      localAddresses: opts.localAddresses?.length ? opts.localAddresses : [undefined],
      concurrency: opts.concurrency ?? 200,
      keepaliveSec: opts.keepaliveSec ?? 60,
    }))) as Array<Extract<WorkerResult, { ev: 'connected' }>>
    return {
      connected: rs.reduce((a, r) => a + r.connected, 0),
      failed: rs.reduce((a, r) => a + r.failed, 0),
      connectMs: rs.flatMap((r) => r.connectMs),
      wallMs: Math.max(...rs.map((r) => r.wallMs)),
    }
  }

  private merge(rs: WorkerResult[]): FleetRun {
    const done = rs as Array<Extract<WorkerResult, { ev: 'done' }>>
    const acked = new Map<string, number>()
    done.forEach((r, w) => this.workers[w]!.stations.forEach((s, i) => acked.set(s.id, r.acked[i] ?? 0)))
    return {
      acked,
      ackedTotal: [...acked.values()].reduce((a, b) => a + b, 0),
      ackedInWindow: done.reduce((a, r) => a + r.ackedInWindow, 0),
      pubackMs: done.flatMap((r) => r.pubackMs),
      wallMs: Math.max(...done.map((r) => r.wallMs)),
      errors: done.reduce((a, r) => a + (r.errors ?? 0), 0),
    }
  }

  async flood(seconds: number, window: number): Promise<FleetRun> {
    return this.merge(await this.all(() => ({ cmd: 'flood', seconds, window })))
  }

  async rate(seconds: number, perStationPerSec: number): Promise<FleetRun> {
    const n = this.workers.length
    return this.merge(await this.all((_, i) => ({ cmd: 'rate', seconds, perStationPerSec, phaseOffset: i, phaseCount: n * 97 })))
  }

  async backlog(opts: { readings: number; batchSize: number; intervalMs: number; endAgoMs: number; window: number }): Promise<FleetRun> {
    return this.merge(await this.all(() => ({ cmd: 'backlog', ...opts })))
  }

  async close(): Promise<void> {
    await this.all(() => ({ cmd: 'close' })).catch(() => undefined)
    for (const w of this.workers) w.proc.kill('SIGTERM')
  }
}
