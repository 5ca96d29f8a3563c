import { randomBytes } from 'node:crypto'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { isTidewatchError } from '../../core/errors.ts'
import { roleAtLeast, type Role } from '../../core/tokens.ts'
import { RuleBook } from '../../levels/book.ts'
import type { ApiDeps } from '../server.ts'
import { StaffAccounts } from './accounts.ts'
import { esc, errorMessage, layout } from './html.ts'
import { ERROR_VI, explainError } from './messages.ts'
import { SignInThrottle, THROTTLE_DEFAULTS, type ThrottleOptions } from './throttle.ts'
import { COOKIE, csrfMatches, readCookie, SESSION_DEFAULTS, sessionCookie, Sessions, type Session, type SessionOptions, type SessionStore } from './sessions.ts'
import { stationPages } from './pages/stations.ts'
import { levelPages } from './pages/levels.ts'
import { farmerPages } from './pages/farmers.ts'
import { incidentPages } from './pages/incidents.ts'
import { outboxPages, DEFAULT_COST_PER_SEGMENT } from './pages/outbox.ts'
import { quarantinePages } from './pages/quarantine.ts'
import { auditPages } from './pages/audit.ts'

/**
 * The staff console at /console: server-rendered pages over the same fastify
 * app and roles as the API (docs/CONSOLE.md). Changes are made by calling the
 * API's own routes in-process (app.inject) with the session's bearer token,
 * so the console and the API validate with the same zod schemas, answer the
 * same error codes and audit under the same name. The few actions the API has
 * no route for (quarantine release/discard, outbox retry) are audited here
 * with auditChange.
 */
export interface ConsoleOptions {
  clock?: () => number
  idleMs?: number
  absoluteMs?: number
  maxSessions?: number
  /** Sign-in failures allowed per username / per address in 15 min (throttle.ts). */
  signInLimits?: { maxPerUser?: number; maxPerAddress?: number }
  /** VND per SMS segment, per channel (docs/CONSOLE.md: a judgment default, not a quoted tariff). */
  costPerSegment?: Record<string, number>
  /**
   * Cluster mode: staff accounts and sessions in the shared PostgreSQL
   * (cluster/metadata/console-postgres.ts), so any API node behind HAProxy
   * serves any session. Unset: this node's SQLite accounts and in-memory
   * sessions, as a single process has always had them.
   */
  shared?: SharedConsole
}

/** A staff account as sign-in needs it. */
export interface ConsoleAccount {
  username: string
  role: Role
}

/** Staff accounts as the console reads them (api/console/accounts.ts StaffAccounts, or PostgreSQL's). */
export interface ConsoleAccounts {
  /** The account when the password matches and it is active; undefined otherwise, at the same cost. */
  verify(username: string, password: string, now: number): Promise<ConsoleAccount | undefined>
  /** False once the account is disabled: its sessions end at their next request. */
  isActive(username: string): boolean | Promise<boolean>
}

export interface SharedConsole {
  accounts: ConsoleAccounts
  /** The session store, told how long sessions live and what to do when one ends. */
  sessions(opts: SessionOptions): SessionStore
  /** The sign-in throttle, shared by every node (else each node counts alone: N nodes, N × the limits). */
  throttle?(opts: ThrottleOptions): SignInLimiter
}

/** Sign-in failures counted per username and address (throttle.ts SignInThrottle, or shared in PostgreSQL). */
export interface SignInLimiter {
  blocked(username: string, address: string): boolean | Promise<boolean>
  fail(username: string, address: string): void | Promise<void>
  succeed(username: string): void | Promise<void>
}

declare module 'fastify' {
  interface FastifyRequest {
    consoleSession?: Session
  }
}

export interface ApiAnswer {
  status: number
  body: any
}

export interface ConsoleCtx {
  deps: ApiDeps
  clock: () => number
  costPerSegment: Record<string, number>
  /** The platform's one rule book (the alerter's when it runs), as api/routes/manage.ts picks it. */
  rules: RuleBook
  /** Calls an API route in-process as the signed-in person. */
  api(req: FastifyRequest, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, body?: unknown): Promise<ApiAnswer>
  /** Sends a full page. */
  page(reply: FastifyReply, req: FastifyRequest, o: { title: string; active: string; body: string; status?: number }): FastifyReply
}

/** Form bodies arrive as URLSearchParams: handlers read f.get(x) and f.getAll(x). */
export type Form = URLSearchParams

const PRE_COOKIE = 'tw_console_pre'

function isTls(req: FastifyRequest): boolean {
  // Behind a TLS-terminating proxy the app sees http; the proxy says so in X-Forwarded-Proto.
  const fwd = String(req.headers['x-forwarded-proto'] ?? '').split(',')[0]!.trim().toLowerCase()
  return req.protocol === 'https' || fwd === 'https'
}

/** Where to go after signing in: only a console page of this site (no open redirect). */
export function safeNext(raw: unknown): string {
  const s = typeof raw === 'string' ? raw : ''
  return /^\/console\/[A-Za-z0-9]/.test(s) && !s.includes('//') && !s.includes('\\') && !s.startsWith('/console/sign-') ? s : '/console/stations'
}

function noStore(reply: FastifyReply): void {
  // Pages carry phone numbers and CSRF tokens: never cached by the browser or a proxy.
  void reply.header('cache-control', 'no-store').header('referrer-policy', 'same-origin')
}

export function consoleRoutes(deps: ApiDeps, opts: ConsoleOptions = {}): FastifyPluginAsync {
  return async (fastify: FastifyInstance) => {
    // Not in the API's OpenAPI document: these are HTML forms for people, behind a session cookie and a CSRF
    // token (docs/CONSOLE.md); every change they make goes through a documented API route (ctx.api).
    fastify.addHook('onRoute', (r) => {
      r.schema = { ...r.schema, hide: true }
    })
    const clock = opts.clock ?? Date.now
    const log = deps.log.child({ component: 'console' })
    const local = opts.shared ? undefined : new StaffAccounts(deps.registry.db)
    const accounts: ConsoleAccounts = opts.shared?.accounts ?? {
      verify: (username, password, now) => local!.verify(username, password, now),
      isActive: (username) => !local!.get(username)?.disabledAt,
    }
    const revoke = async (id: number): Promise<void> => {
      try {
        await deps.tokens.revoke(id)
      } catch (err) {
        // NOT_FOUND: already revoked (by hand, `tidewatch tokens revoke`, or `staff disable`). Anything else
        // (PostgreSQL away) leaves the token active: nothing sweeps it later (the session row that named it is
        // gone), so it is logged with its code and id for an operator to revoke by hand.
        const code = isTidewatchError(err) ? err.code : 'INTERNAL'
        if (code !== 'NOT_FOUND') {
          log.error({ err, code, token: id }, `could not revoke the API token of an ended console session; revoke it by hand: tidewatch tokens revoke ${id}`)
        }
      }
      local?.forgetToken(id)
    }
    // In-memory sessions die with the process: tokens minted for sessions of an earlier run are dead
    // weight. Not in cluster mode, where sessions (and their tokens) outlive any one node.
    if (local) for (const id of local.mintedTokens()) await revoke(id)
    const sessionOptions: SessionOptions = {
      idleMs: opts.idleMs ?? SESSION_DEFAULTS.idleMs,
      absoluteMs: opts.absoluteMs ?? SESSION_DEFAULTS.absoluteMs,
      max: opts.maxSessions ?? SESSION_DEFAULTS.max,
      clock,
      onEnd: (s) => {
        if (s.mintedTokenId !== null) void revoke(s.mintedTokenId)
      },
    }
    const sessions: SessionStore = opts.shared ? opts.shared.sessions(sessionOptions) : new Sessions(sessionOptions)

    const throttleOptions: ThrottleOptions = { ...THROTTLE_DEFAULTS, ...opts.signInLimits, clock }
    const throttle: SignInLimiter = opts.shared?.throttle?.(throttleOptions) ?? new SignInThrottle(throttleOptions)

    fastify.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
      done(null, new URLSearchParams(body as string))
    })

    const ctx: ConsoleCtx = {
      deps,
      clock,
      costPerSegment: { ...DEFAULT_COST_PER_SEGMENT, ...opts.costPerSegment },
      rules: deps.rules instanceof RuleBook ? deps.rules : (deps.alerter?.rules ?? new RuleBook(deps.registry.db, deps.registry)),
      async api(req, method, url, body) {
        const s = req.consoleSession
        const res = await fastify.inject({
          method,
          url,
          headers: { authorization: `Bearer ${s?.apiToken ?? ''}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
          payload: body === undefined ? undefined : JSON.stringify(body),
          // The audit log records where the person was, not the loopback of the in-process call.
          remoteAddress: req.ip,
        })
        let parsed: unknown = res.body
        try {
          parsed = res.body ? JSON.parse(res.body) : {}
        } catch {
          // Non-JSON answers (none expected) stay text.
        }
        return { status: res.statusCode, body: parsed }
      },
      page(reply, req, o) {
        noStore(reply)
        return reply
          .status(o.status ?? 200)
          .type('text/html; charset=utf-8')
          .send(layout({ title: o.title, active: o.active, session: req.consoleSession, body: o.body }))
      },
    }

    const refuse = (reply: FastifyReply, req: FastifyRequest, status: number, code: string): FastifyReply => {
      if (req.headers.accept?.includes('application/json')) return reply.status(status).send({ error: { code, message: ERROR_VI[code] ?? code, details: {} } })
      return ctx.page(reply, req, { title: 'Không được phép', active: '', status, body: `<h1>Không thực hiện được</h1>${errorMessage({ code, text: ERROR_VI[code] ?? code, issues: [] })}<p><a href="/console/stations">Về trang đầu</a></p>` })
    }

    // ---- sign-in and sign-out (no session needed) ----
    const signInPage = (reply: FastifyReply, req: FastifyRequest, err?: string, status = 200, text?: string): FastifyReply => {
      // Login CSRF: a pre-session double-submit token (cookie + hidden field), so no other site can sign a browser in.
      const pre = randomBytes(24).toString('base64url')
      void reply.header('set-cookie', `${PRE_COOKIE}=${pre}; Path=/console; HttpOnly; SameSite=Strict${isTls(req) ? '; Secure' : ''}`)
      const q = (req.query ?? {}) as Record<string, string>
      const expired = q.expired === '1'
      const next = safeNext(req.body instanceof URLSearchParams ? req.body.get('next') : q.next)
      return ctx.page(reply, req, {
        title: 'Đăng nhập',
        active: '',
        status,
        body: `<div class="login"><h1>tidewatch · Bảng điều hành</h1>
${expired ? '<div class="msg err" role="alert">Phiên làm việc đã hết hạn. Vui lòng đăng nhập lại.</div>' : ''}${err ? errorMessage({ code: err, text: text ?? ERROR_VI[err] ?? err, issues: [] }) : ''}
<form method="post" action="/console/sign-in"><input type="hidden" name="_pre" value="${pre}"><input type="hidden" name="next" value="${esc(next)}">
<fieldset><legend>Tài khoản cán bộ</legend>
<label for="u">Tên đăng nhập</label><input id="u" name="username" autocomplete="username">
<label for="p">Mật khẩu</label><input id="p" name="password" type="password" autocomplete="current-password">
</fieldset>
<fieldset><legend>Hoặc mã truy cập API</legend>
<label for="t">Mã truy cập (tw_…)</label><input id="t" name="token" type="password" autocomplete="off">
</fieldset>
<button type="submit">Đăng nhập</button></form>
<p class="muted">Tài khoản do quản trị viên tạo bằng lệnh <code>tidewatch staff add</code>. Phiên tự hết hạn sau 30 phút không dùng, tối đa 12 giờ.</p></div>`,
      })
    }

    fastify.get('/console', async (req, reply) => reply.redirect((await sessions.get(readCookie(req.headers.cookie))) ? '/console/stations' : '/console/sign-in', 303))
    fastify.get('/console/sign-in', async (req, reply) => signInPage(reply, req))
    fastify.post('/console/sign-in', async (req, reply) => {
      // Never recorded with its body (a password); a successful sign-in is recorded below by name.
      req.audited = true
      const f = req.body as Form
      const pre = readCookie(req.headers.cookie, PRE_COOKIE)
      if (!(f instanceof URLSearchParams) || !pre || f.get('_pre') !== pre) return signInPage(reply, req, 'CONSOLE_CSRF_INVALID', 403)
      const username = (f.get('username') ?? '').trim()
      const token = (f.get('token') ?? '').trim()
      if (await throttle.blocked(username, req.ip)) {
        log.warn({ username: username || undefined, ip: req.ip }, 'console sign-in throttled')
        return signInPage(reply, req, 'RATE_LIMITED', 429, 'Đăng nhập sai quá nhiều lần. Vui lòng đợi 15 phút rồi thử lại, hoặc nhờ quản trị viên kiểm tra tài khoản.')
      }
      let created: { cookie: string; session: Session } | undefined
      if (token) {
        // verifyFresh: a token made on another API node a moment ago is accepted here too (cluster mode).
        const p = await deps.tokens.verifyFresh(token, clock())
        if (p) created = await sessions.create({ name: p.name, role: p.role, kind: 'token' }, token, null)
      } else if (username) {
        const account = await accounts.verify(username, f.get('password') ?? '', clock())
        if (account) {
          // The API token the console acts with, named after the person so the audit log shows who it was.
          const minted = await deps.tokens.create(account.username, account.role, clock())
          local?.rememberToken(minted.info.id, clock())
          created = await sessions.create({ name: account.username, role: account.role, kind: 'account' }, minted.token, minted.info.id)
        }
      }
      if (!created) {
        await throttle.fail(token ? '' : username, req.ip)
        log.warn({ username: username || undefined, ip: req.ip, kind: token ? 'token' : 'account' }, 'console sign-in refused')
        return signInPage(reply, req, 'CONSOLE_SIGNIN_FAILED', 401)
      }
      const p = created.session.principal
      if (p.kind === 'account') await throttle.succeed(p.name)
      deps.audit.record({ actor: p.name, role: p.role, action: 'console.sign_in', target: `console:${p.kind}`, ip: req.ip }, clock())
      noStore(reply)
      return reply
        .header('set-cookie', [sessionCookie(created.cookie, isTls(req)), `${PRE_COOKIE}=; Path=/console; Max-Age=0`])
        .redirect(safeNext(f.get('next')), 303)
    })

    // ---- everything else needs a session ----
    fastify.addHook('onRequest', async (req, reply) => {
      const path = req.url.split('?')[0]!
      if (!path.startsWith('/console/') || path === '/console/sign-in') return
      const s = await sessions.get(readCookie(req.headers.cookie))
      // Revocation applies at once: a revoked token or a disabled account ends the session on its next
      // request, on whichever node it lands (cluster mode: the token replica and PostgreSQL's accounts).
      // verifyFresh, not verify: a node that has not yet heard of the token (minted on another node, its
      // notification in flight) reads it from PostgreSQL rather than end a live session; it rejects
      // (503 POSTGRES_UNAVAILABLE, the session kept) when it cannot tell.
      const still = s && (await deps.tokens.verifyFresh(s.apiToken, clock())) && (s.principal.kind === 'token' || (await accounts.isActive(s.principal.name)))
      if (!s || !still) {
        if (s) await sessions.signOut(readCookie(req.headers.cookie))
        if (req.method === 'GET') {
          // Back to this page after signing in again.
          const expired = s || readCookie(req.headers.cookie) ? 'expired=1&' : ''
          return reply.redirect(`/console/sign-in?${expired}next=${encodeURIComponent(req.url)}`, 303)
        }
        return refuse(reply, req, 401, 'CONSOLE_SESSION_EXPIRED')
      }
      req.consoleSession = s
      // The console's own requests are not changes: what they change is audited by the API route they call
      // (or by auditChange here), so the API's fallback must not add a second, body-only record.
      req.audited = true
      // The API's audit helpers (auditChange) name whoever req.principal is.
      req.principal = { kind: 'token', id: s.mintedTokenId, name: s.principal.name, role: s.principal.role }
    })
    fastify.addHook('preHandler', async (req, reply) => {
      const s = req.consoleSession
      if (!s || req.method !== 'POST') return
      const f = req.body
      if (!(f instanceof URLSearchParams) || !csrfMatches(s, f.get('_csrf'))) {
        log.warn({ actor: s.principal.name, url: req.url.split('?')[0], ip: req.ip }, 'console form refused: CSRF token missing or wrong')
        return refuse(reply, req, 403, 'CONSOLE_CSRF_INVALID')
      }
      const need: Role = req.url.startsWith('/console/sign-out') ? 'read' : 'staff'
      if (!roleAtLeast(s.principal.role, need)) return refuse(reply, req, 403, 'FORBIDDEN')
    })

    fastify.post('/console/sign-out', async (req, reply) => {
      const p = req.consoleSession!.principal
      await sessions.signOut(readCookie(req.headers.cookie))
      deps.audit.record({ actor: p.name, role: p.role, action: 'console.sign_out', target: `console:${p.kind}`, ip: req.ip }, clock())
      noStore(reply)
      return reply.header('set-cookie', sessionCookie('', isTls(req), 0)).redirect('/console/sign-in', 303)
    })

    stationPages(fastify, ctx)
    levelPages(fastify, ctx)
    farmerPages(fastify, ctx)
    incidentPages(fastify, ctx)
    outboxPages(fastify, ctx)
    quarantinePages(fastify, ctx)
    auditPages(fastify, ctx)
  }
}

/** For pages: the API error of a failed call, as a message block (undefined when it succeeded). */
export function failure(a: ApiAnswer): ReturnType<typeof explainError> | undefined {
  return a.status >= 400 ? explainError(a.body) : undefined
}

export { esc, COOKIE }
