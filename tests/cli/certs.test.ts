import { X509Certificate } from 'node:crypto'
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ensureDevCertificates } from '../../broker/tls/dev-ca.ts'
import { certsCommand } from '../../cli/commands/certs.ts'
import { loadConfig } from '../../core/config.ts'
import { tempDir } from '../firmware-sim/helpers.ts'

/** Runs the command as cli/main.ts does (`tidewatch certs …`, its exit code) with a temp data dir; captures its output. */
async function cli(dataDir: string, command: 'certs', ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = []
  const err: string[] = []
  const config = loadConfig({ env: { TIDEWATCH_DATA_DIR: dataDir, TIDEWATCH_LOG_LEVEL: 'silent' } })
  const code = await certsCommand(argv, config, { stdout: (s) => out.push(s), stderr: (s) => err.push(s) })
  return { code, out: out.join('\n'), err: err.join('\n') }
}

describe('tidewatch certs dev', () => {
  const dirs: Array<ReturnType<typeof tempDir>> = []
  afterEach(() => {
    for (const d of dirs.splice(0)) d.cleanup()
  })
  const setup = () => {
    const t = tempDir('tidewatch-certs-')
    dirs.push(t)
    return { data: t.dir, tls: join(t.dir, 'tls') }
  }
  const read = (tls: string) => Object.fromEntries(['ca.crt', 'ca.key', 'server.crt', 'server.key'].map((f) => [f, readFileSync(join(tls, f))]))

  it('creates a CA and a server certificate signed by it, keys 0600', async () => {
    const { data, tls } = setup()
    const r = await cli(data, 'certs', 'dev')
    expect(r.code).toBe(0)
    const ca = new X509Certificate(readFileSync(join(tls, 'ca.crt')))
    const server = new X509Certificate(readFileSync(join(tls, 'server.crt')))
    expect(server.checkIssued(ca)).toBe(true)
    expect(server.verify(ca.publicKey)).toBe(true)
    expect(statSync(join(tls, 'server.key')).mode & 0o777).toBe(0o600)
    expect(statSync(join(tls, 'ca.key')).mode & 0o777).toBe(0o600)
  })

  it('refuses to overwrite an existing CA (exit 1, files unchanged, names the file and --force)', async () => {
    const { data, tls } = setup()
    expect((await cli(data, 'certs', 'dev')).code).toBe(0)
    const before = read(tls)
    const r = await cli(data, 'certs', 'dev')
    expect(r.code).toBe(1)
    expect(r.err).toContain(join(tls, 'ca.crt'))
    expect(r.err).toContain('--force')
    expect(read(tls)).toEqual(before)
  })

  it('replaces the CA with --force', async () => {
    const { data, tls } = setup()
    expect((await cli(data, 'certs', 'dev')).code).toBe(0)
    const before = read(tls)
    const r = await cli(data, 'certs', 'dev', '--force')
    expect(r.code).toBe(0)
    const after = read(tls)
    expect(after['ca.crt']).not.toEqual(before['ca.crt'])
    expect(after['server.crt']).not.toEqual(before['server.crt'])
    const server = new X509Certificate(after['server.crt']!)
    expect(server.checkIssued(new X509Certificate(after['ca.crt']!))).toBe(true)
  })

  it('re-issues a missing server certificate from the existing CA, keeping the CA', async () => {
    const { data, tls } = setup()
    expect((await cli(data, 'certs', 'dev', '--out', tls)).code).toBe(0)
    const ca = readFileSync(join(tls, 'ca.crt'))
    rmSync(join(tls, 'server.crt'))
    rmSync(join(tls, 'server.key'))
    const r = await cli(data, 'certs', 'dev', '--out', tls, '--host', 'tidewatch.local')
    expect(r.code).toBe(0)
    expect(readFileSync(join(tls, 'ca.crt'))).toEqual(ca)
    const server = new X509Certificate(readFileSync(join(tls, 'server.crt')))
    expect(server.checkIssued(new X509Certificate(ca))).toBe(true)
    expect(server.verify(new X509Certificate(ca).publicKey)).toBe(true)
    expect(server.subjectAltName).toContain('tidewatch.local')
  })

  it('refuses, rather than replace the CA, when the server certificate is missing and no CA key is left', async () => {
    const { data, tls } = setup()
    expect((await cli(data, 'certs', 'dev')).code).toBe(0)
    rmSync(join(tls, 'ca.key'))
    rmSync(join(tls, 'server.crt'))
    const ca = readFileSync(join(tls, 'ca.crt'))
    const r = await cli(data, 'certs', 'dev')
    expect(r.code).toBe(1)
    expect(r.err).toContain('--force')
    expect(readFileSync(join(tls, 'ca.crt'))).toEqual(ca)
    expect(existsSync(join(tls, 'server.crt'))).toBe(false)
  })

  it('lets `up` reuse the CA on every start (what cli/commands/up.ts calls)', () => {
    const { tls } = setup()
    const first = ensureDevCertificates(tls)
    expect(first.action).toBe('created')
    const ca = readFileSync(first.caFile)
    const server = readFileSync(first.certFile)
    const again = ensureDevCertificates(tls)
    expect(again.action).toBe('reused')
    expect(readFileSync(again.caFile)).toEqual(ca)
    expect(readFileSync(again.certFile)).toEqual(server)
  })
})
