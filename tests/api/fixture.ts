/** One platform with real influxd for the API tests, plus tokens of each role made with the CLI. */
import { main } from '../../cli/main.ts'
import { startTestInflux, startTestPlatform, tempDir, type TestInflux, type TestPlatform } from '../helpers/platform.ts'

export interface ApiFixture {
  tmp: ReturnType<typeof tempDir>
  influx: TestInflux
  tp: TestPlatform
  tokens: { read: string; staff: string; admin: string }
  cli(args: string[]): Promise<{ code: number; out: string; err: string }>
  call(method: string, path: string, opts?: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> }): Promise<{ status: number; body: any; text: string; headers: Headers }>
  stop(): Promise<void>
}

/** Writes a test made outside fixture.call/cli (its own fetch), registered so the audit check can count them. */
let extra = 0
export function countWrite(): void {
  extra++
}
const extraWrites = (): number => extra

export async function startApiFixture(env: Record<string, string> = {}): Promise<ApiFixture> {
  extra = 0
  const tmp = tempDir()
  const influx = await startTestInflux(tmp.dir)
  const tp = await startTestPlatform({ dir: tmp.dir, influxUrl: influx.server.url, env })
  const cliEnv = { TIDEWATCH_DATA_DIR: tp.dataDir, TIDEWATCH_LOG_LEVEL: 'silent' }
  // Every successful write made through the fixture, to check the audit log has each one.
  let writes = 0
  const CLI_WRITES = new Set(['tokens create', 'tokens revoke', 'devices add', 'devices set', 'devices rotate', 'devices disable', 'devices enable'])
  const cli = async (args: string[]) => {
    let out = ''
    let err = ''
    const code = await main(args, { stdout: (s) => void (out += s + '\n'), stderr: (s) => void (err += s + '\n') }, cliEnv)
    if (code === 0 && CLI_WRITES.has(args.slice(0, 2).join(' '))) writes++
    return { code, out, err }
  }
  const make = async (role: string) => JSON.parse((await cli(['tokens', 'create', '--name', `test-${role}`, '--role', role, '--json'])).out).token as string
  const tokens = { read: await make('read'), staff: await make('staff'), admin: await make('admin') }
  const call: ApiFixture['call'] = async (method, path, opts = {}) => {
    const headers: Record<string, string> = { ...opts.headers }
    if (opts.token) headers.authorization = `Bearer ${opts.token}`
    let body: string | undefined
    if (opts.raw !== undefined) body = opts.raw
    else if (opts.body !== undefined) body = JSON.stringify(opts.body)
    if (body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json'
    const res = await fetch(`${tp.apiUrl}${path}`, { method, headers, body })
    if (res.status < 400 && !['GET', 'HEAD', 'OPTIONS'].includes(method)) writes++
    const text = await res.text()
    let parsed: unknown = text
    try {
      parsed = JSON.parse(text)
    } catch {
      // not JSON
    }
    return { status: res.status, body: parsed, text, headers: res.headers }
  }
  return {
    tmp,
    influx,
    tp,
    tokens,
    cli,
    call,
    async stop() {
      // The audit log holds exactly one record for every write this suite made.
      const audited = (tp.platform.registry.db.prepare('SELECT COUNT(*) AS n FROM audit_log').get() as { n: number }).n
      const expectedWrites = writes + extraWrites()
      await tp.stop()
      await influx.server.stop()
      tmp.cleanup()
      if (audited !== expectedWrites) throw new Error(`audit log has ${audited} records for ${expectedWrites} writes`)
    },
  }
}
