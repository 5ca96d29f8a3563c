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
