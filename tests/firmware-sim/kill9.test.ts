import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { openOutbox } from '../../firmware-sim/outbox.ts'
import { log, tempDir } from './helpers.ts'

const fixture = fileURLToPath(new URL('./fixtures/append-forever.ts', import.meta.url))

describe('outbox under kill -9', () => {
  const dirs: Array<ReturnType<typeof tempDir>> = []
  afterEach(() => {
    for (const d of dirs.splice(0)) d.cleanup()
  })

  it('recovers a consistent, gap-free buffer after SIGKILL mid-append', async () => {
    const tmp = tempDir()
    dirs.push(tmp)
    const dir = join(tmp.dir, 'st')
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, dir], { stdio: ['ignore', 'pipe', 'inherit'] })
    let last = 0
    await new Promise<void>((resolve, reject) => {
      child.on('error', reject)
      child.on('exit', (code) => reject(new Error(`child exited early: ${code}`)))
      child.stdout.on('data', (chunk: Buffer) => {
        const lines = chunk.toString().trim().split('\n')
        last = Number(lines.at(-1))
        if (last >= 20_000) resolve()
      })
    })
    child.removeAllListeners('exit')
    const exited = new Promise((r) => child.on('exit', r))
    child.kill('SIGKILL')
    await exited

    const outbox = openOutbox<{ pad: string }>({ dir, log, maxRecords: 1_000_000 })
    const ids = outbox.peek(1_000_000).map((r) => r.id)
    // Everything after the last ack is still there, in order, without gaps,
    // and at least as far as the child had reported appending.
    expect(ids.length).toBeGreaterThan(0)
    for (let i = 1; i < ids.length; i++) expect(ids[i]).toBe(ids[i - 1]! + 1)
    expect(ids.at(-1)!).toBeGreaterThanOrEqual(last)
    expect(outbox.stats().corruptLines).toBeLessThanOrEqual(1)
    const next = outbox.append(() => ({ pad: '' })).id
    expect(next).toBe(ids.at(-1)! + 1)
    outbox.close()
  })
})
