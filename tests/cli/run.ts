import { spawn } from 'node:child_process'
import { join } from 'node:path'

const REPO = join(import.meta.dirname, '..', '..')

export interface CliRun {
  code: number | null
  out: string
  err: string
}

/**
 * Runs the real `tidewatch` program (bin/tidewatch.js) as a child process,
 * from the sources (TIDEWATCH_FROM_SOURCE=1: what is tested is what is
 * checked out, not a dist/ build that may be older).
 */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(REPO, 'bin', 'tidewatch.js'), ...args], {
      cwd: REPO,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', TIDEWATCH_FROM_SOURCE: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => void (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => void (err += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, out, err }))
  })
}

/** Runs fn over items, at most `limit` at a time (each is a Node process; the machine has 2 cores). */
export async function inBatches<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++
        results[i] = await fn(items[i]!)
      }
    }),
  )
  return results
}
