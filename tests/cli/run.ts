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

export interface InProcessRun {
  code: number
  out: string
  err: string
}

/**
 * Runs `tidewatch ARGV` in this process through main(): the same dispatch as
 * the real program without a child process each (one costs ~2 s of tsx here).
 */
export async function runInProcess(argv: string[], env: Record<string, string>): Promise<InProcessRun> {
  const { main } = await import('../../cli/main.ts')
  let out = ''
  let err = ''
  const code = await main(argv, { stdout: (s) => void (out += s.endsWith('\n') ? s : `${s}\n`), stderr: (s) => void (err += s.endsWith('\n') ? s : `${s}\n`) }, env)
  return { code, out, err }
}

/**
 * Every command of the dispatch table (cli/main.ts COMMAND_NAMES) and every
 * subcommand its usage names, e.g. ['devices'], ['devices', 'list'],
 * ['alerts', 'rules', 'set']: the plain words that follow
 * `tidewatch <command>` on a usage line, up to the first `<arg>`, `[flag]`,
 * `--flag` or wide gap. A command added to the table, or a subcommand added
 * to a usage, is walked by the tests without anyone listing it.
 */
export async function commandPaths(env: Record<string, string>): Promise<string[][]> {
  const { COMMAND_NAMES } = await import('../../cli/main.ts')
  const seen = new Map<string, string[]>()
  for (const name of COMMAND_NAMES) {
    seen.set(name, [name])
    const { out } = await runInProcess([name, '--help'], env)
    for (const m of out.matchAll(/\btidewatch ([a-z][a-z0-9-]*(?: [a-z][a-z0-9-]*)*)/g)) {
      const words = m[1]!.split(' ')
      if (words[0] === name) seen.set(words.join(' '), words)
    }
  }
  return [...seen.values()]
}
