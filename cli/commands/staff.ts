import { readFileSync } from 'node:fs'
import type { Config } from '../../core/config.ts'
import { isTidewatchError, TidewatchError, type ErrorCode } from '../../core/errors.ts'
import { generatePassword } from '../../core/password.ts'
import { Registry } from '../../devices/registry.ts'
import { AuditLog } from '../../api/auth/audit.ts'
import { ROLES } from '../../core/tokens.ts'
import { StaffAccounts, type StaffAccount } from '../../api/console/accounts.ts'
import { cliActor, parse, printList, registryPath, subcommandOf, timeCell, type Io } from '../args.ts'
import { clusterAuditOf } from './devices.ts'

/** Each subcommand's usage, printed alone by `tidewatch staff <subcommand> --help` (args.ts usageFor). */
export const SUBCOMMANDS = {
  add: `  tidewatch staff add <username> --role read|staff|admin [--password-stdin]
      creates a console account (/console). Without --password-stdin a random
      password is generated and printed once; with it, the first line of stdin
      is the password (at least 8 characters).`,
  list: `  tidewatch staff list [--json]
      username, role, created, last sign-in, disabled`,
  disable: `  tidewatch staff disable <username>
      refuses the account's sign-in; its console sessions end at their next request`,
  enable: `  tidewatch staff enable <username>
      lets a disabled account sign in again`,
}

export const USAGE = `Usage:\n${Object.values(SUBCOMMANDS).join('\n')}`

function firstLineOfStdin(): string {
  // fd 0 read synchronously: a piped password, never echoed.
  return readFileSync(0, 'utf8').split(/\r?\n/)[0] ?? ''
}

/** What the subcommands do, over the node's SQLite or, in cluster mode, the cluster's PostgreSQL (issue 16), with the same codes. */
interface StaffStore {
  add(username: string, role: string, password: string): Promise<StaffAccount>
  list(): Promise<StaffAccount[]>
  /**
   * found: false when there is no such account. Disabling ends the account's console sessions (cluster: on
   * every node) and revokes their API tokens; `unrevoked` are those whose revocation failed (still active).
   */
  setDisabled(username: string, disabled: boolean): Promise<{ found: boolean; unrevoked: Array<{ id: number; code: string }> }>
  record(entry: { action: string; target: string; after?: unknown }): Promise<void>
}

export async function staffCommand(ctx: { args: string[]; config: Readonly<Config>; io: Io; stdin?: () => string }): Promise<number> {
  const { io } = ctx
  const [sub, rest] = subcommandOf(ctx.args)
  if (sub === undefined || sub === '--help' || sub === '-h') {
    io.stdout(USAGE)
    return 0
  }
  if (ctx.config.cluster.postgres.url) {
    // Cluster mode: the accounts every API node signs people in with, in PostgreSQL.
    const { withOperatorRepository, asPostgresUnavailable } = await import('../../cluster/metadata/open.ts')
    return withOperatorRepository(ctx.config.cluster.postgres, (repo) => {
      const audit = clusterAuditOf(repo)
      return run(sub, rest, ctx, {
        add: (username, role, password) => repo.staff.add(username, role, password),
        list: () => repo.staff.list(),
        setDisabled: async (username, disabled) => {
          const { found, mintedTokenIds } = await repo.staff.setDisabled(username, disabled)
          // Its sessions are gone on every node; the API tokens they acted with are revoked too. NOT_FOUND is a
          // token already revoked; any other failure leaves a token active, which nothing revokes later (the
          // session rows naming it are gone): reported after the audit record, and the command fails.
          const unrevoked: Array<{ id: number; code: string }> = []
          for (const id of mintedTokenIds) {
            await repo.revokeToken(id).catch((err: unknown) => {
              const e = asPostgresUnavailable(err)
              const code = isTidewatchError(e) ? e.code : 'INTERNAL'
              if (code !== 'NOT_FOUND') unrevoked.push({ id, code })
            })
          }
          return { found, unrevoked }
        },
        record: (entry) => audit(entry),
      })
    })
  }
  const registry = Registry.open(registryPath(ctx.config))
  try {
    const accounts = new StaffAccounts(registry.db)
    const audit = new AuditLog(registry.db)
    return await run(sub, rest, ctx, {
      add: (username, role, password) => accounts.add(username, role, password),
      list: async () => accounts.list(),
      setDisabled: async (username, disabled) => ({ found: accounts.setDisabled(username, disabled), unrevoked: [] }),
      record: async (entry) => audit.record({ actor: cliActor(), role: 'admin', ...entry }),
    })
  } finally {
    registry.close()
  }
}

async function run(sub: string, rest: string[], ctx: { io: Io; stdin?: () => string }, staff: StaffStore): Promise<number> {
  const { io } = ctx
  switch (sub) {
    case 'add': {
      const { values, positionals } = parse(rest, { role: { type: 'string' }, 'password-stdin': { type: 'boolean', default: false } })
      const username = positionals[0]
      if (!username) throw new TidewatchError('BAD_REQUEST', { argument: 'username' }, 'staff add: a username is required')
      if (!values.role || !ROLES.includes(values.role as (typeof ROLES)[number])) throw new TidewatchError('BAD_REQUEST', { flag: 'role' }, `--role must be one of ${ROLES.join(', ')}`)
      const generated = values['password-stdin'] ? undefined : generatePassword()
      const password = generated ?? (ctx.stdin ?? firstLineOfStdin)()
      const account = await staff.add(username, values.role, password)
      // Printed before the audit record is stored: a failed record fails the command (exit 3, the record in
      // the message) but never loses the one-time password of an account that now exists.
      io.stdout(`Staff account ${account.username} (${account.role}) created. Sign in at /console.`)
      if (generated) io.stdout(`Password (shown only this once):\n  ${generated}`)
      await staff.record({ action: 'staff.create', target: `staff:${account.username}`, after: { username: account.username, role: account.role } })
      return 0
    }
    case 'list': {
      const { values } = parse(rest, { json: { type: 'boolean', default: false } }, false)
      printList(io, values.json, await staff.list(), ['USERNAME', 'ROLE', 'CREATED', 'LAST SIGN-IN', 'DISABLED'], (a) => [a.username, a.role, timeCell(a.createdAt), timeCell(a.lastLoginAt), timeCell(a.disabledAt)])
      return 0
    }
    case 'disable':
    case 'enable': {
      const { positionals } = parse(rest, {})
      const username = positionals[0] ?? ''
      const { found, unrevoked } = await staff.setDisabled(username, sub === 'disable')
      if (!found) throw new TidewatchError('NOT_FOUND', { username }, `no staff account "${username}"`)
      await staff.record({ action: `staff.${sub}`, target: `staff:${username}`, ...(unrevoked.length ? { after: { unrevokedTokens: unrevoked.map((t) => t.id) } } : {}) })
      io.stdout(`Staff account ${username} ${sub}d${sub === 'disable' ? '; its console sessions end at their next request' : ''}.`)
      if (unrevoked.length > 0) {
        const ids = unrevoked.map((t) => t.id)
        throw new TidewatchError(
          unrevoked[0]!.code as ErrorCode,
          { username, tokens: ids },
          `the account is disabled and its sessions ended, but the API tokens they acted with could not all be revoked (${unrevoked.map((t) => `${t.id}: ${t.code}`).join(', ')}); revoke them by hand: ${ids.map((id) => `tidewatch tokens revoke ${id}`).join('; ')}`,
        )
      }
      return 0
    }
    default:
      throw new TidewatchError('BAD_REQUEST', { sub }, `staff: unknown subcommand "${sub}"`)
  }
}
