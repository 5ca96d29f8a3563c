import { existsSync, readFileSync } from 'node:fs'
import { userInfo } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { TidewatchError } from '../core/errors.ts'

/** Thin wrapper over node:util parseArgs that turns its errors into BAD_REQUEST with the flag named. */
export function parse<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T, allowPositionals = true) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true })
  } catch (err) {
    throw new TidewatchError('BAD_REQUEST', {}, (err as Error).message)
  }
}

/**
 * Splits `<subcommand> ...rest` for a command with subcommands. A flag where
 * the subcommand belongs (`tidewatch devices --bogus`) is refused the way
 * parse refuses any unknown flag, naming it, not reported as an unknown
 * subcommand.
 */
export function subcommandOf(argv: readonly string[]): [sub: string | undefined, rest: string[]] {
  const [sub, ...rest] = argv
  if (sub !== undefined && sub.startsWith('-') && sub !== '--') parse([sub], {}, false)
  return [sub, rest]
}

/**
 * What `tidewatch <command> ARGS --help` prints: the usage entries of the
 * subcommand ARGS name, under `Usage:` (`devices add` → add's; `alerts
 * rules` → rules, rules set and rules rm), or the command's whole usage when
 * they name none. Entries are keyed by subcommand path ('add', 'rules set');
 * the longest run of leading words (up to the first flag) that selects one wins.
 */
export function usageFor(whole: string, entries: Readonly<Record<string, string>>, args: readonly string[]): string {
  const end = args.findIndex((a) => a.startsWith('-'))
  const words = end < 0 ? args : args.slice(0, end)
  for (let n = words.length; n > 0; n--) {
    const path = words.slice(0, n).join(' ')
    const chosen = Object.keys(entries).filter((key) => key === path || key.startsWith(`${path} `))
    if (chosen.length) return `Usage:\n${chosen.map((key) => entries[key]).join('\n')}`
  }
  return whole
}

export function numberFlag(name: string, value: string | undefined, fallback: number, opts: { min?: number; max?: number; integer?: boolean } = {}): number {
  if (value === undefined) return fallback
  const n = Number(value)
  const bad =
    value.trim() === '' || !Number.isFinite(n) || (opts.integer && !Number.isInteger(n)) || (opts.min !== undefined && n < opts.min) || (opts.max !== undefined && n > opts.max)
  if (bad) {
    const range = [opts.min !== undefined ? `>= ${opts.min}` : '', opts.max !== undefined ? `<= ${opts.max}` : ''].filter(Boolean).join(' and ')
    throw new TidewatchError('BAD_REQUEST', { flag: name, value }, `--${name} must be ${opts.integer ? 'an integer' : 'a number'}${range ? ` ${range}` : ''}, got "${value}"`)
  }
  return n
}

/** The CLI acts as the local operator; its changes are audited under that name. */
export function cliActor(): string {
  try {
    return `cli:${userInfo().username}`
  } catch {
    return 'cli'
  }
}

export interface Io {
  stdout: (s: string) => void
  stderr: (s: string) => void
}

/** A time in a listed row: ISO 8601 UTC, or '-' when there is none. */
export function timeCell(t: number | null): string {
  return t ? new Date(t).toISOString() : '-'
}

/**
 * Prints what a `list` subcommand lists: with `--json` one JSON array, for
 * scripts; otherwise a tab-separated table under its header, one row an item.
 */
export function printList<T>(io: Io, json: boolean, items: readonly T[], header: readonly string[], row: (item: T) => readonly unknown[]): void {
  if (json) return io.stdout(JSON.stringify(items))
  io.stdout(header.join('\t'))
  for (const item of items) io.stdout(row(item).join('\t'))
}

export const processIo: Io = {
  stdout: (s) => void process.stdout.write(s.endsWith('\n') ? s : s + '\n'),
  stderr: (s) => void process.stderr.write(s.endsWith('\n') ? s : s + '\n'),
}

/** The station registry's file: the platform's own rule (platform/data-files.ts loads only node:path). */
export { registryPath } from '../platform/data-files.ts'

/** The directory holding package.json: the repository, or the installed package. Works from cli/ and from dist/cli/. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir)
  return dir
}

/** A JSON file named on the command line; a syntax error names the file, line and column. */
export async function readJsonFile(file: string): Promise<unknown> {
  const text = readFileSync(file, 'utf8')
  try {
    return JSON.parse(text.replace(/^\uFEFF/, ''))
  } catch (err) {
    // Loaded here, not at the top: `tidewatch --help` must not load zod and the config schema.
    const { jsonSyntaxError } = await import('../core/config.ts')
    const at = jsonSyntaxError(text, err)
    throw new TidewatchError('BAD_REQUEST', { file, line: at.line, column: at.column }, `${file}:${at.line}:${at.column}: not valid JSON: ${at.reason}`)
  }
}

interface Issue {
  path: PropertyKey[]
  message: string
  code?: string
  errors?: Issue[][]
}

/** A zod error as one line: the first issue, its path and reason (inside a union, the first alternative's). */
export function zodLine(error: { issues: Issue[] }): string {
  let issue = error.issues[0]!
  let path = issue.path
  while (issue.code === 'invalid_union' && issue.errors?.[0]?.[0]) {
    issue = issue.errors[0][0]
    path = [...path, ...issue.path]
  }
  return `at ${path.map(String).join('.') || '(root)'}: ${issue.message}`
}
