import { destination as fdDestination, pino, symbols, type Logger } from 'pino'
import { writeSync } from 'node:fs'
import { serviceThreadData, stderrIsTerminal } from './service-thread.ts'

export type { Logger }

/**
 * The root logger; components take `log.child({ component })`.
 *
 * Logs are JSON lines (one object per line, for files, pipes and log
 * shippers), except when stderr is a terminal and no destination is given:
 * then a person is reading, and each line is printed as
 * `10:31:02 WARN  broker  message  key=value`, drawn around the live status
 * line (`statusLine`) so the two never run into each other.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const opts = { level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime, onChild: oneComponent }
  if (destination) return pino(opts, destination)
  if (stderrIsTerminal()) return pino(opts, { write: (line: string) => statusLine.print(prettyLine(line)) })
  // A service's thread writes to fd 2 itself, synchronously, as the main
  // thread's stderr does for a file or pipe: its process.stderr is a port to
  // the main thread with an unbounded queue, whose last lines a kill -9 loses.
  if (serviceThreadData()) return pino(opts, fdDestination({ fd: 2, sync: true }))
  return pino(opts, process.stderr)
}

/** stderr for the status line and terminal logs: fd 2 itself on a service's thread (see createLogger), else process.stderr. */
function writeStderr(text: string): void {
  if (serviceThreadData()) writeSync(2, text)
  else process.stderr.write(text)
}

export const silentLogger: Logger = pino({ level: 'silent' })

const { chindingsSym } = symbols

/**
 * Keeps one `component` per log line. pino appends a child's bindings to its
 * parent's (they are a JSON fragment, `,"component":"ingest"`), so a
 * component that takes `log.child({ component })` of a logger that already
 * names one wrote the key twice, which log shippers reject or resolve either
 * way (issue 13). The nested one is joined to its parent's
 * (`ingest.feedback`); one that repeats its parent's (`alerter` in `alerter`)
 * is dropped. Runs for every child (pino's documented `onChild` hook; the
 * bindings are in `pino.symbols.chindingsSym`), costing two substring checks
 * for a child that adds no component, as each HTTP request's does.
 */
function oneComponent(child: Logger): void {
  const self = child as unknown as Record<symbol, string>
  const inherited = (Object.getPrototypeOf(child) as Record<symbol, string | undefined>)[chindingsSym] ?? ''
  const added = self[chindingsSym]!.slice(inherited.length)
  if (!added.includes('"component":') || !inherited.includes('"component":')) return
  const parent = JSON.parse(`{${inherited.slice(1)}}`) as Record<string, unknown>
  const own = JSON.parse(`{${added.slice(1)}}`) as Record<string, unknown>
  if (parent.component === undefined || own.component === undefined) return
  const [outer, inner] = [String(parent.component), String(own.component)]
  const component = outer === inner || outer.endsWith(`.${inner}`) ? outer : `${outer}.${inner}`
  // The parent's keys in their order, then the child's; a key both bind once, with the child's value.
  const bindings = { ...parent, ...own, component }
  self[chindingsSym] = Object.entries(bindings).map(([key, value]) => `,${JSON.stringify(key)}:${JSON.stringify(value)}`).join('')
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' }
/** ANSI colours by level: grey, grey, plain, yellow, red, red. */
const COLOURS: Record<number, string> = { 10: '90', 20: '90', 30: '0', 40: '33', 50: '31', 60: '31' }

function fieldText(v: unknown): string {
  if (typeof v === 'string') return /[\s="]/.test(v) ? JSON.stringify(v) : v
  return JSON.stringify(v) ?? String(v)
}

/** One pino JSON line as one human line. Errors keep their message; their stack stays in JSON logs. */
export function prettyLine(json: string): string {
  let o: Record<string, unknown>
  try {
    o = JSON.parse(json) as Record<string, unknown>
  } catch {
    return json.trimEnd()
  }
  const { level, time, msg, component, err, ...rest } = o
  const clock = typeof time === 'string' ? new Date(time).toTimeString().slice(0, 8) : ''
  const lvl = typeof level === 'number' ? level : 30
  const parts = [clock, `\x1b[${COLOURS[lvl] ?? '0'}m${LEVELS[lvl] ?? String(level)}\x1b[0m`]
  if (component) parts.push(`\x1b[36m${String(component)}\x1b[0m`)
  if (msg !== undefined) parts.push(String(msg))
  if (err && typeof err === 'object') parts.push(`err=${fieldText((err as { message?: unknown }).message ?? err)}`)
  for (const [k, v] of Object.entries(rest)) parts.push(`${k}=${fieldText(v)}`)
  return parts.join('  ')
}

/**
 * The one status line at the bottom of a terminal (`tidewatch up`). Log
 * lines are printed above it: clear it, print, redraw it. Only used when
 * stderr is a TTY; elsewhere status updates are ordinary lines.
 */
export const statusLine = {
  current: '',
  show(line: string): void {
    this.current = line
    writeStderr(`\r\x1b[2K${line}`)
  },
  print(line: string): void {
    writeStderr(`\r\x1b[2K${line.endsWith('\n') ? line : `${line}\n`}${this.current}`)
  },
  clear(): void {
    if (this.current) writeStderr('\r\x1b[2K')
    this.current = ''
  },
}
