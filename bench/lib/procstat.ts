/**
 * CPU and memory of other processes, read from /proc (Linux): utime+stime
 * from /proc/<pid>/stat, VmRSS from /proc/<pid>/status. A sampler keeps the
 * peak RSS seen and the CPU used between start() and stop().
 */
import { readdirSync, readFileSync } from 'node:fs'

const CLK_TCK = 100 // sysconf(_SC_CLK_TCK) on Linux x86-64 and arm64

export interface ProcUsage {
  name: string
  pid: number
  /** CPU time / wall time over the window, 100 = one full core. */
  cpuPercent: number
  peakRssMb: number
}

function cpuTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the ")" of comm: state is field 3, utime 14, stime 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return Number(rest[11]) + Number(rest[12])
  } catch {
    return undefined
  }
}

function rssKb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) : undefined
  } catch {
    return undefined
  }
}

/** The pid of the process whose command line contains `needle` (e.g. an influxd config path). */
export function findPid(needle: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8')
      if (cmd.includes(needle)) return Number(entry)
    } catch {
      // gone
    }
  }
  return undefined
}

export class ProcSampler {
  private readonly procs: Array<{ name: string; pid: number; t0?: number; peak: number }> = []
  private timer: NodeJS.Timeout | undefined
  private started = 0
  private ended: Map<string, ProcUsage> | undefined

  add(name: string, pid: number | undefined): this {
    if (pid) this.procs.push({ name, pid, peak: 0 })
    return this
  }

  start(intervalMs = 250): this {
    this.started = performance.now()
    for (const p of this.procs) p.t0 = cpuTicks(p.pid)
    this.sample()
    this.timer = setInterval(() => this.sample(), intervalMs)
    this.timer.unref()
    return this
  }

  private sample(): void {
    for (const p of this.procs) p.peak = Math.max(p.peak, rssKb(p.pid) ?? 0)
  }

  /** Current RSS of one process, MB. */
  rssMb(name: string): number {
    const p = this.procs.find((x) => x.name === name)
    return p ? (rssKb(p.pid) ?? 0) / 1024 : 0
  }

  stop(): ProcUsage[] {
    if (this.ended) return [...this.ended.values()]
    clearInterval(this.timer)
    this.sample()
    const wallS = (performance.now() - this.started) / 1000
    this.ended = new Map()
    for (const p of this.procs) {
      const t1 = cpuTicks(p.pid)
      const cpu = p.t0 !== undefined && t1 !== undefined ? ((t1 - p.t0) / CLK_TCK / wallS) * 100 : NaN
      this.ended.set(p.name, { name: p.name, pid: p.pid, cpuPercent: Math.round(cpu), peakRssMb: Math.round(p.peak / 1024) })
    }
    return [...this.ended.values()]
  }
}

/** Nanoseconds each thread of a process spent on a CPU and waiting in the run queue for one (/proc/<pid>/task/<tid>/schedstat). */
function threadSchedNs(pid: number): Map<number, { onCpu: number; runQueue: number }> {
  const out = new Map<number, { onCpu: number; runQueue: number }>()
  let tids: string[] = []
  try {
    tids = readdirSync(`/proc/${pid}/task`)
  } catch {
    return out
  }
  for (const tid of tids) {
    try {
      const [onCpu, runQueue] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number)
      out.set(Number(tid), { onCpu: onCpu!, runQueue: runQueue! })
    } catch {
      // the thread ended
    }
  }
  return out
}

export interface BusiestThread {
  tid: number
  /** Share of the wall time on a CPU. */
  onCpuPercent: number
  /** Share of the wall time runnable but waiting for a CPU: what a busy machine costs a serial thread. */
  runQueuePercent: number
}

/**
 * The busiest thread of a process over a window. A process's CPU % cannot
 * tell a saturated serial thread on a shared machine (on a CPU 70 %, waiting
 * for one 24 %) from one with work to spare; this can (docs/PERFORMANCE.md,
 * "The group commit in one turn").
 */
export class ThreadWatch {
  private before = new Map<number, { onCpu: number; runQueue: number }>()
  private started = 0

  constructor(private readonly pid: number) {}

  start(): this {
    this.before = threadSchedNs(this.pid)
    this.started = performance.now()
    return this
  }

  stop(): BusiestThread | undefined {
    const wallNs = (performance.now() - this.started) * 1e6
    let busiest: BusiestThread | undefined
    for (const [tid, now] of threadSchedNs(this.pid)) {
      const was = this.before.get(tid) ?? { onCpu: 0, runQueue: 0 }
      const onCpuPercent = Math.round(((now.onCpu - was.onCpu) / wallNs) * 100)
      if (!busiest || onCpuPercent > busiest.onCpuPercent) busiest = { tid, onCpuPercent, runQueuePercent: Math.round(((now.runQueue - was.runQueue) / wallNs) * 100) }
    }
    return busiest
  }
}
