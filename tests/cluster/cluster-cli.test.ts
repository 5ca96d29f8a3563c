/**
 * `tidewatch edge` and `tidewatch writer` refuse a configuration they cannot
 * run with one line, a stable code and exit 2, before touching any server.
 */
import { describe, expect, it } from 'vitest'
import { main } from '../../cli/main.ts'
import { tempDir } from '../helpers/platform.ts'

async function cli(args: string[], env: Record<string, string>): Promise<{ code: number; out: string; err: string }> {
  let out = ''
  let err = ''
  const code = await main(args, { stdout: (s) => void (out += s + '\n'), stderr: (s) => void (err += s + '\n') }, { TIDEWATCH_LOG_LEVEL: 'silent', ...env })
  return { code, out, err }
}

describe('cluster commands', () => {
  const tmp = tempDir()
  const base = { TIDEWATCH_DATA_DIR: tmp.dir, TIDEWATCH_INFLUX_URL: 'http://127.0.0.1:1' }

  it('print their help', async () => {
    for (const command of ['edge', 'writer']) {
      const r = await cli([command, '--help'], base)
      expect(r.code).toBe(0)
      expect(r.out).toContain(`tidewatch ${command}`)
    }
    expect((await cli(['--help'], base)).out).toMatch(/tidewatch edge[\s\S]*tidewatch writer --target/)
  })

  it('without NATS servers: CLUSTER_NOT_CONFIGURED, exit 2', async () => {
    for (const args of [['edge'], ['writer', '--target', 'primary']]) {
      const r = await cli(args, base)
      expect(r.code).toBe(2)
      expect(r.err.trim().split('\n')).toHaveLength(1)
      expect(r.err).toContain('CLUSTER_NOT_CONFIGURED')
    }
  })

  it('an unknown target: CLUSTER_TARGET_UNKNOWN naming the configured ones, exit 2; no target: usage, exit 1', async () => {
    const env = { ...base, TIDEWATCH_NATS_SERVERS: 'nats://127.0.0.1:1' }
    const unknown = await cli(['writer', '--target', 'backup'], env)
    expect(unknown.code).toBe(2)
    expect(unknown.err).toMatch(/CLUSTER_TARGET_UNKNOWN: .*"backup".*primary/)
    const missing = await cli(['writer'], env)
    expect(missing.code).toBe(1)
    expect(missing.err).toContain('--target')
  })
})
