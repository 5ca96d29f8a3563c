/**
 * `tidewatch writer` and `tidewatch alerter` stop on their first Ctrl-C while
 * they still wait for the readings stream: a real nats-server WITHOUT
 * JetStream (so the stream can never be made) and the real commands as
 * child processes.
 */
import { spawn } from 'node:child_process'
import { afterAll, describe, expect, it } from 'vitest'
import { findNatsServer } from '../../cluster/local/nats.ts'
import { TIDEWATCH_BIN } from '../../cluster/local/node-process.ts'
import { freePort } from '../../core/free-port.ts'
import { eventually, tempDir } from '../helpers/platform.ts'

const nats = findNatsServer()

describe.skipIf(!nats)('cluster nodes stopped while they start', () => {
  const tmp = tempDir('tidewatch-node-abort-')
  const children: Array<ReturnType<typeof spawn>> = []
  afterAll(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
    tmp.cleanup()
  })

  it.each([
    ['writer', '--target', 'primary'],
    ['alerter'],
  ])('tidewatch %s exits 0 on the first SIGINT while the readings stream cannot be made (NATS without JetStream)', async (...command) => {
    const port = await freePort()
    const server = spawn(nats!, ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' })
    children.push(server)
    let err = ''
    const child = spawn(process.execPath, [TIDEWATCH_BIN, ...command], {
      env: { ...process.env, TIDEWATCH_DATA_DIR: `${tmp.dir}/${command[0]}`, TIDEWATCH_INFLUX_URL: 'http://127.0.0.1:1', TIDEWATCH_NATS_SERVERS: `nats://127.0.0.1:${port}`, TIDEWATCH_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    children.push(child)
    child.stderr!.on('data', (d: Buffer) => void (err += d.toString()))
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
    expect(await eventually(() => err.includes('cannot ensure the readings stream yet'), 30_000, 100), err).toBe(true)
    child.kill('SIGINT')
    const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('still running 10 s after SIGINT'), 10_000))])
    expect(code, err.slice(-2000)).toBe(0)
  }, 60_000)
})
