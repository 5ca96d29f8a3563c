/**
 * `tidewatch writer` stops on its first Ctrl-C while it still waits for the
 * readings stream: a real nats-server WITHOUT JetStream (so the stream can
 * never be made) and the real command as a child process.
 */
import { spawn } from 'node:child_process'
import { afterAll, describe, expect, it } from 'vitest'
import { findNatsServer } from '../../cluster/local/nats.ts'
import { TIDEWATCH_BIN } from '../../cluster/local/node-process.ts'
import { freePort } from '../../core/free-port.ts'
import { eventually, tempDir } from '../helpers/platform.ts'

const nats = findNatsServer()

describe.skipIf(!nats)('tidewatch writer, stopped while it starts', () => {
  const tmp = tempDir('tidewatch-writer-abort-')
  const children: Array<ReturnType<typeof spawn>> = []
  afterAll(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
    tmp.cleanup()
  })

  it('exits 0 on the first SIGINT while the readings stream cannot be made (NATS without JetStream)', async () => {
    const port = await freePort()
    const server = spawn(nats!, ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' })
    children.push(server)
    let err = ''
    const writer = spawn(process.execPath, [TIDEWATCH_BIN, 'writer', '--target', 'primary'], {
      env: { ...process.env, TIDEWATCH_DATA_DIR: tmp.dir, TIDEWATCH_INFLUX_URL: 'http://127.0.0.1:1', TIDEWATCH_NATS_SERVERS: `nats://127.0.0.1:${port}`, TIDEWATCH_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    children.push(writer)
    writer.stderr!.on('data', (d: Buffer) => void (err += d.toString()))
    const exited = new Promise<number | null>((r) => writer.once('exit', (code) => r(code)))
    expect(await eventually(() => err.includes('cannot ensure the readings stream yet'), 30_000, 100), err).toBe(true)
    writer.kill('SIGINT')
    const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('still running 10 s after SIGINT'), 10_000))])
    expect(code, err.slice(-2000)).toBe(0)
  }, 60_000)
})
