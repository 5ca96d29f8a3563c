/**
 * A service runs on a thread of its own (cli/service-thread.ts): the real
 * program as a child process, from the sources. The thread has the young
 * generation the configuration asks for; the main thread keeps the signals,
 * passes the first on and exits with the service's code; a service that
 * fails to start ends the process with its one-line error instead of
 * leaving it hanging; 0 runs the service on the main thread as before.
 */
import { spawn } from 'node:child_process'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { freePort } from '../../core/free-port.ts'
import { tempDir } from '../helpers/platform.ts'
import { runCli } from './run.ts'

const REPO = join(import.meta.dirname, '..', '..')
const tmp = tempDir('tidewatch-thread-')
afterAll(() => tmp.cleanup())

interface Service {
  out: () => string
  err: () => string
  exited: Promise<number | null>
  signal(sig: NodeJS.Signals): void
  apiUrl: string
}

async function startUp(name: string, env: Record<string, string> = {}): Promise<Service> {
  const httpPort = await freePort()
  const child = spawn(process.execPath, [join(REPO, 'bin', 'tidewatch.js'), 'up'], {
    cwd: REPO,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      TIDEWATCH_FROM_SOURCE: '1',
      TIDEWATCH_DATA_DIR: join(tmp.dir, name),
      TIDEWATCH_BIND_HOST: '127.0.0.1',
      TIDEWATCH_HTTP_HOST: '127.0.0.1',
      TIDEWATCH_MQTT_PORT: String(await freePort()),
      TIDEWATCH_MQTTS_PORT: String(await freePort()),
      TIDEWATCH_HTTP_PORT: String(httpPort),
      // The thread's young generation is logged at debug.
      TIDEWATCH_LOG_LEVEL: 'debug',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => void (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => void (err += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return { out: () => out, err: () => err, exited, signal: (sig) => child.kill(sig), apiUrl: `http://127.0.0.1:${httpPort}` }
}

async function until(what: string, fn: () => boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

const threadLines = (err: string): Array<Record<string, unknown>> =>
  err
    .split('\n')
    .filter((l) => l.includes('"service running on a thread of its own"'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)

describe('tidewatch up on a thread of its own', () => {
  it('runs the service with the configured young generation, serves, and stops cleanly on SIGTERM with exit 0', async () => {
    const up = await startUp('threaded', { TIDEWATCH_YOUNG_GENERATION_MB: '96' })
    await until('"Press Ctrl-C to stop."', () => up.out().includes('Press Ctrl-C to stop.'))
    expect(threadLines(up.err())).toEqual([expect.objectContaining({ youngGenerationMb: 96, msg: 'service running on a thread of its own' })])
    const health = (await (await fetch(`${up.apiUrl}/health`)).json()) as { components: Record<string, unknown> }
    expect(health.components).toHaveProperty('broker')
    up.signal('SIGTERM')
    expect(await up.exited).toBe(0)
    expect(up.out()).toContain('Stopping…')
  })

  it('with runtime.youngGenerationMb 0 runs the service on the main thread, as before', async () => {
    const up = await startUp('main-thread', { TIDEWATCH_YOUNG_GENERATION_MB: '0' })
    await until('"Press Ctrl-C to stop."', () => up.out().includes('Press Ctrl-C to stop.'))
    expect(threadLines(up.err())).toEqual([])
    up.signal('SIGINT')
    expect(await up.exited).toBe(0)
  })

  it('a service that cannot start on its thread ends the process with one line and exit 3, not a hang', async () => {
    const busy: Server = createServer()
    const port = await freePort()
    await new Promise<void>((resolve) => busy.listen(port, '127.0.0.1', resolve))
    try {
      const up = await startUp('port-in-use', { TIDEWATCH_MQTT_PORT: String(port) })
      expect(await up.exited).toBe(3)
      const lines = up.err().split('\n').filter((l) => l.startsWith('tidewatch:'))
      expect(lines).toEqual([expect.stringMatching(new RegExp(`^tidewatch: port ${port} is already in use`))])
    } finally {
      busy.close()
    }
  })

  it('refuses a young generation that is not a whole number of MB from 0 to 4096, with one line and exit 2', async () => {
    const { code, err } = await runCli(['up'], { TIDEWATCH_YOUNG_GENERATION_MB: '-5' })
    expect(code).toBe(2)
    expect(err.trim().split('\n')).toEqual([expect.stringMatching(/^tidewatch: CONFIG_INVALID: .*runtime\.youngGenerationMb/)])
  })
})
