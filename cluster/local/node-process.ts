import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * One tidewatch node of the local cluster as a real child process
 * (`node bin/tidewatch.js edge|writer|api|alerter|sim …`), so `kill -9` is a
 * real kill: no shutdown code runs, its sockets are reset by the kernel, its
 * spool is whatever reached the disk. Ports are fixed for the life of the
 * handle, so a restarted node comes back where HAProxy expects it.
 */
export type NodeRole = 'edge' | 'writer' | 'api' | 'alerter' | 'sim'

export interface NodeSpec {
  /** A process group of its own: a Ctrl-C at the terminal then reaches only the launcher, which stops everything in order (`tidewatch cluster up`). */
  ownProcessGroup?: boolean
  /** e.g. `edge-1`, `writer-primary-2`; also the node id (TIDEWATCH_NODE_ID). */
  name: string
  role: NodeRole
  site: 'dc' | 'dr'
  /** Arguments after `bin/tidewatch.js`. */
  args: string[]
  env: Record<string, string>
  /** The port that answers once the node is ready (MQTT for an edge, HTTP for an API node). */
  readyPort?: number
  readyHttpPath?: string
  /** Output of the child, appended. */
  logFile: string
  /** The script node runs; TIDEWATCH_BIN by default. */
  bin?: string
  /**
   * Called when the child exits without kill() or stop() having asked it to
   * (a crash, an OOM kill, an operator's kill -9): the launcher logs it and
   * may restart the node.
   */
  onUnexpectedExit?: (exit: { pid: number | undefined; code: number | null; signal: NodeJS.Signals | null; ranMs: number }) => void
}

export interface NodeProcess {
  readonly spec: NodeSpec
  readonly pid: number | undefined
  running(): boolean
  /** Starts (or restarts) the child; resolves once its ready port answers. */
  start(timeoutMs?: number): Promise<void>
  /** Sends a signal and, unless it is SIGSTOP/SIGCONT, waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>
  /** SIGTERM, SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>
}

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
/** bin/tidewatch.js from src (cluster/local/) and from dist (dist/cluster/local/). */
export const TIDEWATCH_BIN = [join(REPO, 'bin/tidewatch.js'), join(REPO, '../bin/tidewatch.js')].find((p) => {
  try {
    readFileSync(p)
    return true
  } catch {
    return false
  }
}) ?? join(REPO, 'bin/tidewatch.js')

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

export function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1')
    c.once('connect', () => {
      c.destroy()
      resolve(true)
    })
    c.once('error', () => resolve(false))
  })
}

async function httpAnswers(port: number, path: string): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2000) })
    await res.body?.cancel()
    return res.ok
  } catch {
    return false
  }
}

export function startNodeProcess(spec: NodeSpec): NodeProcess {
  let child: ChildProcess | undefined
  let exited: Promise<void> = Promise.resolve()
  // Set by kill()/stop(): the exit that follows is ours, not a crash.
  let exitRequested = false

  const node: NodeProcess = {
    spec,
    get pid() {
      return child?.pid
    },
    running: () => child !== undefined,
    async start(timeoutMs = 60_000) {
      if (child) return
      mkdirSync(dirname(spec.logFile), { recursive: true })
      const out = openSync(spec.logFile, 'a')
      const proc = spawn(process.execPath, [spec.bin ?? TIDEWATCH_BIN, ...spec.args], {
        env: { ...process.env, ...spec.env },
        stdio: ['ignore', out, out],
        detached: spec.ownProcessGroup,
      })
      closeSync(out)
      child = proc
      exitRequested = false
      const startedAt = Date.now()
      exited = new Promise((resolve) =>
        proc.once('exit', (code, signal) => {
          if (child === proc) child = undefined
          if (!exitRequested) spec.onUnexpectedExit?.({ pid: proc.pid, code, signal, ranMs: Date.now() - startedAt })
          resolve()
        }),
      )
      const deadline = Date.now() + timeoutMs
      while (spec.readyPort !== undefined) {
        if (child !== proc) throw new Error(`${spec.name} exited during start-up; see ${spec.logFile}: ${lastLines(spec.logFile)}`)
        const ok = spec.readyHttpPath ? await httpAnswers(spec.readyPort, spec.readyHttpPath) : await portAnswers(spec.readyPort)
        if (ok) return
        if (Date.now() > deadline) throw new Error(`${spec.name} not ready within ${timeoutMs} ms; see ${spec.logFile}`)
        await sleep(100)
      }
    },
    async kill(signal = 'SIGKILL') {
      const proc = child
      if (!proc) return
      if (signal !== 'SIGSTOP' && signal !== 'SIGCONT') exitRequested = true
      proc.kill(signal)
      if (signal === 'SIGSTOP' || signal === 'SIGCONT') return
      await exited
    },
    async stop(graceMs = 15_000) {
      const proc = child
      if (!proc) return
      exitRequested = true
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs)
      // A stopped (SIGSTOP) process does not see SIGTERM until it runs again.
      proc.kill('SIGCONT')
      proc.kill('SIGTERM')
      await exited
      clearTimeout(timer)
    },
  }
  return node
}

function lastLines(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-3).join(' | ').slice(-600)
  } catch {
    return ''
  }
}

/**
 * Pids of every process whose command line mentions `path` (a config file or
 * data dir the launcher generated), from /proc. How the launcher finds the
 * engines its helpers started (nats-server, postgres, influxd, haproxy) to
 * SIGSTOP them, and how `cluster down` finds what a dead launcher left
 * behind: nothing outside the cluster's own dir matches.
 */
export function pidsMentioning(path: string): number[] {
  const pids: number[] = []
  let entries: string[]
  try {
    entries = readdirSync('/proc')
  } catch {
    return pids
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue
    try {
      const cmdline = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0')
      if (cmdline.some((arg) => arg.includes(path))) pids.push(Number(e))
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return pids
}

/** Whether a pid is alive (signal 0 checks without sending anything). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/**
 * When the kernel started `pid` (field 22 of /proc/<pid>/stat, clock ticks
 * since boot; proc(5)). With the pid it names one process for the life of the
 * machine: a pid the kernel has given to another process since has another
 * start time.
 */
export function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

/** Whether `pid` is alive and still the process recorded with `startTime` (not a recycled pid). */
export function sameProcess(pid: number, startTime: string | undefined): boolean {
  if (!alive(pid)) return false
  return startTime === undefined || startTimeOf(pid) === startTime
}
