/**
 * API nodes are stateless (issue 16): two API nodes (two platforms with the
 * API only, wired as `tidewatch api` wires them in cluster mode) on one real
 * PostgreSQL 15, each with its own data dir. Tokens, console sessions, staff
 * accounts and the audit log are the cluster's. The operator commands run
 * in-process through their cluster-mode source (withOperatorRepository), as
 * cli/main.ts runs them. Nothing is faked; no timing is asserted (the
 * propagation delays are printed).
 */
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startApiNodeShared, type ApiNodeShared } from '../../cluster/metadata/api-node.ts'
import { withOperatorRepository } from '../../cluster/metadata/open.ts'
import { loadConfig, type Config } from '../../core/config.ts'
import { silentLogger } from '../../core/log.ts'
import { startPlatform, type Platform } from '../../platform/platform.ts'
import { staffToken } from '../../platform/credentials.ts'
import { devicesCommand } from '../../cli/commands/devices.ts'
import { staffCommand } from '../../cli/commands/staff.ts'
import { tokensCommand } from '../../cli/commands/tokens.ts'
import { alertsCommand } from '../../cli/commands/alerts.ts'
import { describeError, EXIT } from '../../cli/main.ts'
import { eventually, getJson, tempDir } from '../helpers/platform.ts'
import { freshDatabase, startLocalPostgres, type LocalPostgres } from '../helpers/postgres.ts'

interface ApiNode {
  name: string
  url: string
  config: Readonly<Config>
  shared: ApiNodeShared
  platform: Platform
  stop(): Promise<void>
}

let server: LocalPostgres
let url: string
let a: ApiNode
let b: ApiNode
/** The same bootstrap admin token on every node (the same config, as a deployment gives them). */
const BOOTSTRAP = 'tw_bootstrap_for_the_api_nodes_test_0123456789'
const tmp = tempDir('tidewatch-api-nodes-')

function configFor(name: string): Readonly<Config> {
  return loadConfig({
    env: {
      TIDEWATCH_DATA_DIR: join(tmp.dir, name),
      TIDEWATCH_HTTP_HOST: '127.0.0.1',
      TIDEWATCH_HTTP_PORT: '0',
      TIDEWATCH_LOG_LEVEL: 'silent',
      TIDEWATCH_POSTGRES_URL: url,
      TIDEWATCH_STAFF_TOKEN: BOOTSTRAP,
    },
  })
}

/** One API node as cli/commands/up.ts starts `tidewatch api` in cluster mode (without the registry mirror, which another test covers). */
async function startApiNode(name: string): Promise<ApiNode> {
  const config = configFor(name)
  const shared = await startApiNodeShared({ postgres: config.cluster.postgres, bootstrapToken: staffToken(config), log: silentLogger })
  const platform = await startPlatform({ config, log: silentLogger, parts: { api: true }, apiShared: shared })
  return {
    name,
    url: platform.apiUrl!,
    config,
    shared,
    platform,
    async stop() {
      await platform.stop()
      await shared.stop()
    },
  }
}

const io = () => {
  const out: string[] = []
  return { out, io: { stdout: (s: string) => void out.push(s), stderr: () => undefined } }
}

/** `tidewatch <command> …` in cluster mode, through the source cli/main.ts gives it. */
async function operator(command: 'tokens' | 'devices', args: string[]): Promise<string> {
  const o = io()
  await withOperatorRepository(a.config.cluster.postgres, (repo) => (command === 'tokens' ? tokensCommand(args, repo, o.io) : devicesCommand(args, repo, o.io)))
  return o.out.join('\n')
}

async function staff(args: string[], stdin?: string): Promise<void> {
  await staffCommand({ args, config: a.config, io: io().io, stdin: stdin === undefined ? undefined : () => stdin })
}

const auditStatus = async (node: ApiNode, token: string): Promise<number> => (await getJson(`${node.url}/api/v1/audit?limit=1`, token)).status

/** Milliseconds until `check` holds, polled every 5 ms; undefined past the (generous) deadline. */
async function measure(check: () => Promise<boolean>, deadlineMs = 10_000): Promise<number | undefined> {
  const t0 = performance.now()
  return (await eventually(check, deadlineMs, 5)) ? Math.round(performance.now() - t0) : undefined
}

// ---- the console, as a browser uses it ----

const cookieOf = (res: Response, name: string): string | undefined =>
  res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .find((c) => c.startsWith(`${name}=`))
    ?.slice(name.length + 1)

/** The sign-in form posted as a browser does (its pre-session CSRF cookie first); the answer as it comes. */
async function postSignIn(node: ApiNode, fields: Record<string, string>): Promise<Response> {
  const page = await fetch(`${node.url}/console/sign-in`)
  const pre = cookieOf(page, 'tw_console_pre')!
  return fetch(`${node.url}/console/sign-in`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `tw_console_pre=${pre}` },
    body: new URLSearchParams({ _pre: pre, next: '/console/audit', ...fields }).toString(),
  })
}

async function signIn(node: ApiNode, fields: Record<string, string>): Promise<string> {
  const res = await postSignIn(node, fields)
  expect(res.status).toBe(303)
  return cookieOf(res, 'tw_console')!
}

/** 200 when the session opens the page on this node; 303 (to sign-in) when it does not. */
async function consolePage(node: ApiNode, cookie: string, path = '/console/audit'): Promise<{ status: number; html: string }> {
  const res = await fetch(`${node.url}${path}`, { redirect: 'manual', headers: { cookie: `tw_console=${cookie}` } })
  return { status: res.status, html: await res.text() }
}

beforeAll(async () => {
  server = await startLocalPostgres()
  url = await freshDatabase(server)
  a = await startApiNode('api-1')
  b = await startApiNode('api-2')
}, 120_000)
afterAll(async () => {
  await a?.stop()
  await b?.stop()
  await server?.stop()
  tmp.cleanup()
})

describe('two API nodes on one PostgreSQL', () => {
  it('the bootstrap admin token works on every node', async () => {
    expect(await auditStatus(a, BOOTSTRAP)).toBe(200)
    expect(await auditStatus(b, BOOTSTRAP)).toBe(200)
    expect(await auditStatus(b, 'tw_not_a_token')).toBe(401)
  })

  it('a token made by the operator command is accepted on both; revoked on A, B refuses it (401)', async () => {
    const made = JSON.parse(await operator('tokens', ['create', '--name', 'ops-laptop', '--role', 'read', '--json'])) as { id: number; token: string }
    const acceptedOnB = await measure(async () => (await auditStatus(b, made.token)) === 200)
    expect(acceptedOnB).toBeDefined()
    expect(await auditStatus(a, made.token)).toBe(200)

    // Revoked through node A: refused on A at once (read-your-writes), on B when the notification arrives.
    const t0 = performance.now()
    await a.shared.tokens.revoke(made.id)
    expect(await auditStatus(a, made.token)).toBe(401)
    const refusedOnB = await measure(async () => (await auditStatus(b, made.token)) === 401)
    expect(refusedOnB).toBeDefined()
    console.log(`[api-nodes] token created by the CLI source accepted on B after ${acceptedOnB} ms; revoked on A, refused on B ${Math.round(performance.now() - t0)} ms after the revoke was sent`)
  })

  it('a token created on A works on A at once and on B after the notification', async () => {
    const { token } = await a.shared.tokens.create('sensor-portal', 'read')
    expect(await auditStatus(a, token)).toBe(200)
    const onB = await measure(async () => (await auditStatus(b, token)) === 200)
    expect(onB).toBeDefined()
    console.log(`[api-nodes] token created on A accepted on B after ${onB} ms`)
  })

  it('a console session made on A is used on B; disabling the account ends it on both', async () => {
    await staff(['add', 'chi-lan', '--role', 'staff', '--password-stdin'], 'mật khẩu đủ dài 2024')
    const cookie = await signIn(a, { username: 'chi-lan', password: 'mật khẩu đủ dài 2024' })
    expect((await consolePage(a, cookie)).status).toBe(200)
    // The token the session acts with was minted on A: B may wait for its notification.
    const usableOnB = await measure(async () => (await consolePage(b, cookie)).status === 200)
    expect(usableOnB).toBeDefined()
    console.log(`[api-nodes] console session signed in on A opened a page on B after ${usableOnB} ms`)

    await staff(['disable', 'chi-lan'])
    expect((await consolePage(b, cookie)).status).toBe(303)
    expect((await consolePage(a, cookie)).status).toBe(303)
    // And signing in again is refused on either node.
    const refused = await postSignIn(b, { username: 'chi-lan', password: 'mật khẩu đủ dài 2024' })
    expect(refused.status).toBe(401)
  })

  it('a console session signed in with an API token ends on A when the token is revoked on B', async () => {
    const { token, info } = await b.shared.tokens.create('duty-officer', 'staff')
    await eventually(async () => (await auditStatus(a, token)) === 200, 10_000)
    const cookie = await signIn(a, { token })
    expect((await consolePage(b, cookie)).status).toBe(200)
    await b.shared.tokens.revoke(info.id)
    expect((await consolePage(b, cookie)).status).toBe(303)
    const endedOnA = await measure(async () => (await consolePage(a, cookie)).status === 303)
    expect(endedOnA).toBeDefined()
  })

  it('a session whose token node B has not heard of yet (its notification held back) is served on B, not ended', async () => {
    // Deterministic "notification in flight": with the NOTIFY trigger of api_tokens off, no other node hears of a
    // token minted now; only the node that minted it has it (read-your-writes). B must ask PostgreSQL, not end the session.
    const admin = new pg.Client({ connectionString: url })
    await admin.connect()
    try {
      await admin.query('ALTER TABLE api_tokens DISABLE TRIGGER api_tokens_changed')
      await staff(['add', 'anh-tuan', '--role', 'staff', '--password-stdin'], 'một mật khẩu khác 2025')
      const cookie = await signIn(a, { username: 'anh-tuan', password: 'một mật khẩu khác 2025' })
      const minted = (await admin.query<{ minted_token_id: string }>("SELECT minted_token_id FROM console_sessions WHERE name = 'anh-tuan'")).rows[0]!.minted_token_id
      // The first request of the session lands on B, which has never seen its token.
      expect((await consolePage(b, cookie)).status).toBe(200)
      expect((await consolePage(a, cookie)).status).toBe(200)
      expect(Number((await admin.query("SELECT count(*) AS n FROM console_sessions WHERE name = 'anh-tuan'")).rows[0].n)).toBe(1)
      expect((await admin.query('SELECT revoked_at FROM api_tokens WHERE id = $1', [minted])).rows[0].revoked_at).toBeNull()

      // A session signed in with an API token made on A a moment ago, signed in on B.
      const { token } = await a.shared.tokens.create('night-shift', 'staff')
      const byToken = await signIn(b, { token })
      expect(byToken).toBeDefined()
      expect((await consolePage(b, byToken)).status).toBe(200)
      expect((await consolePage(a, byToken)).status).toBe(200)

      // A revocation B already knows of still ends a session at once (no round trip needed to say no).
      await staff(['disable', 'anh-tuan'])
      expect((await consolePage(b, cookie)).status).toBe(303)
    } finally {
      await admin.query('ALTER TABLE api_tokens ENABLE TRIGGER api_tokens_changed').catch(() => undefined)
      await admin.end()
    }
  })

  it('the console sign-in throttle is shared: ten failures for one username spread over A and B block it on both', async () => {
    const attempt = async (node: ApiNode): Promise<number> => (await postSignIn(node, { username: 'a-guessed-name', password: 'not the password' })).status
    // THROTTLE_DEFAULTS.maxPerUser (api/console/throttle.ts): 10 per username in 15 min, across the cluster.
    for (let i = 0; i < 10; i++) expect(await attempt(i % 2 === 0 ? a : b)).toBe(401)
    expect(await attempt(a)).toBe(429)
    expect(await attempt(b)).toBe(429)
  })

  it('a one-time secret is printed even when its audit record cannot be stored; the command fails with exit 3 and the record', async () => {
    const admin = new pg.Client({ connectionString: url })
    await admin.connect()
    try {
      // The audit INSERT refused by PostgreSQL (a trigger raising), everything else as usual.
      await admin.query(`CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit refused for the test' USING ERRCODE = 'insufficient_privilege'; END $$;
        CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse_audit()`)
      const cases: Array<{ run: (o: ReturnType<typeof io>) => Promise<unknown>; secret: RegExp }> = [
        { run: (o) => withOperatorRepository(a.config.cluster.postgres, (repo) => tokensCommand(['create', '--name', 'lost-audit', '--role', 'read'], repo, o.io)), secret: /tw_[A-Za-z0-9_-]{20,}/ },
        { run: (o) => staffCommand({ args: ['add', 'no-audit', '--role', 'read'], config: a.config, io: o.io }), secret: /Password \(shown only this once\):\n {2}\S{8,}/ },
        { run: (o) => withOperatorRepository(a.config.cluster.postgres, (repo) => devicesCommand(['add', 'no-audit-1', '--name', 'x', '--lat', '9', '--lon', '105', '--json'], repo, o.io)), secret: /"password":"[^"]{8,}"/ },
        { run: (o) => withOperatorRepository(a.config.cluster.postgres, (repo) => devicesCommand(['rotate', 'no-audit-1', '--json'], repo, o.io)), secret: /"password":"[^"]{8,}"/ },
      ]
      for (const c of cases) {
        const o = io()
        const err = await c.run(o).then(() => undefined, (e: unknown) => e)
        expect(err, 'the command fails').toBeDefined()
        expect(o.out.join('\n')).toMatch(c.secret)
        const { line, exit } = describeError(err)
        expect(exit).toBe(EXIT.RUNTIME)
        expect(line).toMatch(/the change was made, but its audit record could not be stored.*record it by hand: \{/)
      }
    } finally {
      await admin.query('DROP TRIGGER IF EXISTS refuse_audit ON audit_log; DROP FUNCTION IF EXISTS refuse_audit()')
      await admin.end()
    }
  })

  it('staff disable reports the session tokens it could not revoke and fails (exit 3); the account is disabled', async () => {
    await staff(['add', 'minh-chau', '--role', 'read', '--password-stdin'], 'mật khẩu thứ ba 2026')
    await signIn(a, { username: 'minh-chau', password: 'mật khẩu thứ ba 2026' })
    const admin = new pg.Client({ connectionString: url })
    await admin.connect()
    try {
      await admin.query(`CREATE FUNCTION refuse_revoke() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'revoke refused for the test' USING ERRCODE = 'admin_shutdown'; END $$;
        CREATE TRIGGER refuse_revoke BEFORE UPDATE OF revoked_at ON api_tokens FOR EACH ROW EXECUTE FUNCTION refuse_revoke()`)
      const o = io()
      const err = await staffCommand({ args: ['disable', 'minh-chau'], config: a.config, io: o.io }).then(() => undefined, (e: unknown) => e)
      expect(o.out.join('\n')).toContain('minh-chau disabled')
      const { line, exit } = describeError(err)
      expect(exit).toBe(EXIT.RUNTIME)
      expect(line).toMatch(/^POSTGRES_UNAVAILABLE: .*tidewatch tokens revoke \d+/)
      expect((await admin.query("SELECT disabled_at FROM staff_accounts WHERE username = 'minh-chau'")).rows[0].disabled_at).not.toBeNull()
    } finally {
      await admin.query('DROP TRIGGER IF EXISTS refuse_revoke ON api_tokens; DROP FUNCTION IF EXISTS refuse_revoke()')
      await admin.end()
    }
  })

  it('changes made on A, on B and by the operator command all appear in GET /audit and the console page on either node', async () => {
    const station = (id: string) => ({ id, name: `Trạm ${id}`, lat: 9.1, lon: 105.1 })
    const post = (node: ApiNode, id: string) =>
      fetch(`${node.url}/api/v1/stations`, { method: 'POST', headers: { authorization: `Bearer ${BOOTSTRAP}`, 'content-type': 'application/json' }, body: JSON.stringify(station(id)) })
    expect((await post(a, 'made-on-a')).status).toBe(201)
    expect((await post(b, 'made-on-b')).status).toBe(201)
    await operator('devices', ['add', 'made-by-cli', '--name', 'Trạm CLI', '--lat', '9.2', '--lon', '105.2', '--json'])
    const targets = ['station:made-on-a', 'station:made-on-b', 'station:made-by-cli']
    for (const node of [a, b]) {
      const seen = await eventually(async () => {
        const { body } = await getJson(`${node.url}/api/v1/audit?limit=1000`, BOOTSTRAP)
        const got = new Set((body.entries as Array<{ target: string }>).map((e) => e.target))
        return targets.every((t) => got.has(t)) ? (body.entries as Array<{ target: string; action: string; node: string }>) : undefined
      }, 10_000)
      expect(seen, node.name).toBeDefined()
      const byTarget = new Map(seen!.map((e) => [e.target, e]))
      expect(byTarget.get('station:made-by-cli')?.action).toBe('devices add')
      expect(byTarget.get('station:made-on-a')?.node).not.toBe(byTarget.get('station:made-on-b')?.node)
    }
    // The console's audit page on B shows what the CLI did.
    const { token } = await b.shared.tokens.create('auditor', 'read')
    const cookie = await signIn(b, { token })
    const page = await consolePage(b, cookie, '/console/audit?target=made-by-cli')
    expect(page.status).toBe(200)
    expect(page.html).toContain('station:made-by-cli')
  })

  it('tidewatch alerts in cluster mode is audited in the cluster log (rules and subscribers)', async () => {
    const run = (args: string[]) => withOperatorRepository(a.config.cluster.postgres, (repo) => alertsCommand(args, { repo, stdout: () => undefined }))
    await run(['rules', 'set', 'default', 'salinity', '{"levels":[{"name":"high","severity":"warning","direction":"above","threshold":4}]}'])
    const out: string[] = []
    await withOperatorRepository(a.config.cluster.postgres, (repo) => alertsCommand(['subscribers', 'add', '--phone', '0912345678', '--name', 'Cô Năm'], { repo, stdout: (s) => void out.push(s) }))
    const id = (JSON.parse(out.join('')) as { id: number }).id
    await run(['subscribers', 'rm', String(id)])
    await run(['rules', 'rm', 'default', 'salinity'])
    const { body } = await getJson(`${b.url}/api/v1/audit?limit=1000`, BOOTSTRAP)
    const seen = (body.entries as Array<{ action: string; target: string; actor: string }>).map((e) => `${e.action} ${e.target}`)
    expect(seen).toEqual(expect.arrayContaining(['rule.set rule:default/salinity', 'rule.remove rule:default/salinity', `subscriber.create subscriber:${id}`, `subscriber.delete subscriber:${id}`]))
  })

  it('the PostgreSQL audit log refuses UPDATE, DELETE and TRUNCATE', async () => {
    const c = new pg.Client({ connectionString: url })
    await c.connect()
    try {
      const n = Number((await c.query('SELECT count(*) AS n FROM audit_log')).rows[0].n)
      expect(n).toBeGreaterThan(0)
      await expect(c.query("UPDATE audit_log SET actor = 'someone-else'")).rejects.toThrow(/append-only/)
      await expect(c.query('DELETE FROM audit_log')).rejects.toThrow(/append-only/)
      await expect(c.query('TRUNCATE audit_log')).rejects.toThrow(/append-only/)
      expect(Number((await c.query('SELECT count(*) AS n FROM audit_log')).rows[0].n)).toBe(n)
    } finally {
      await c.end()
    }
  })

  it('audit records made while PostgreSQL is down arrive once it is back, each once; the console answers 503 meanwhile', async () => {
    await staff(['add', 'thu-ha', '--role', 'staff', '--password-stdin'], 'mật khẩu thứ tư 2027')
    const cookie = await signIn(a, { username: 'thu-ha', password: 'mật khẩu thứ tư 2027' })
    server.kill()
    // The console's sessions and accounts are in PostgreSQL: "unavailable, try again", not 500, and the session is not ended.
    // SIGKILL reaches the postmaster only: a backend already serving the pool answers until it notices its parent is gone,
    // so the first requests may still be served (200); the first one that is not must be 503.
    let whileDown = 200
    expect(await eventually(async () => (whileDown = (await consolePage(a, cookie)).status) !== 200, 10_000, 100)).toBe(true)
    expect(whileDown).toBe(503)
    const signInWhileDown = await postSignIn(b, { username: 'thu-ha', password: 'mật khẩu thứ tư 2027' })
    expect(signInWhileDown.status).toBe(503)
    // /health says the tokens' copy cannot be kept current (it still serves).
    expect(await eventually(() => a.shared.healthChecks.tokens!().then((h) => h.up === false), 10_000)).toBe(true)
    // Node A keeps serving: its tokens are in memory, its records go to its local log first.
    const ids = ['while-down-1', 'while-down-2', 'while-down-3']
    for (const id of ids) {
      const res = await fetch(`${a.url}/api/v1/stations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${BOOTSTRAP}`, 'content-type': 'application/json' },
        body: JSON.stringify({ id, name: id, lat: 9, lon: 105 }),
      })
      expect(res.status).toBe(201)
    }
    expect(await eventually(() => (a.shared.healthChecks.audit!().then((h) => h.up === false)), 10_000)).toBe(true)
    const t0 = performance.now()
    await server.restart()
    const arrived = await eventually(async () => {
      const { status, body } = await getJson(`${b.url}/api/v1/audit?limit=1000`, BOOTSTRAP)
      if (status !== 200) return undefined
      const targets = (body.entries as Array<{ target: string }>).map((e) => e.target)
      return ids.every((id) => targets.includes(`station:${id}`)) ? targets : undefined
    }, 60_000, 200)
    expect(arrived).toBeDefined()
    console.log(`[api-nodes] audit records made while PostgreSQL was down visible on B ${Math.round(performance.now() - t0)} ms after it was restarted`)
    for (const id of ids) expect(arrived!.filter((t) => t === `station:${id}`)).toHaveLength(1)
    const health = await a.shared.healthChecks.audit!()
    expect(health).toMatchObject({ up: true, backlog: 0 })
    expect(await eventually(() => a.shared.healthChecks.tokens!().then((h) => h.up === true), 30_000, 200)).toBe(true)
    // The session made before the outage is still there.
    expect(await eventually(async () => (await consolePage(a, cookie)).status === 200, 30_000, 200)).toBe(true)
  })
})
