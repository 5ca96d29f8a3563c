import { TidewatchError } from '../../core/errors.ts'
import { AuditLog } from '../../api/auth/audit.ts'
import { TokenStore } from '../../api/auth/tokens.ts'
import { ROLES, type Role, type TokenInfo } from '../../core/tokens.ts'
import { cliActor, numberFlag, parse, printList, subcommandOf, timeCell, type Io } from '../args.ts'
import { clusterAuditOf, sourceOf, type MetadataSource } from './devices.ts'

/** Each subcommand's usage, printed alone by `tidewatch tokens <subcommand> --help` (args.ts usageFor). */
export const SUBCOMMANDS = {
  create: `  tidewatch tokens create --name NAME --role read|staff|admin [--json]   prints the token once`,
  list: `  tidewatch tokens list [--json]           id, name, role, prefix, created, last used, revoked`,
  revoke: `  tidewatch tokens revoke <id>             the token stops working at once`,
}

export const USAGE = `Usage:\n${Object.values(SUBCOMMANDS).join('\n')}`

/** The operator name the CLI's changes are audited under (cli/args.ts; re-exported for the commands that take it from here). */
export { cliActor }

/** What the subcommands do, over the node's SQLite tables or the cluster's PostgreSQL (issue 16), with the same NOT_FOUND for an unknown token. */
interface Tokens {
  create(name: string, role: Role): Promise<{ token: string; info: TokenInfo }>
  list(): Promise<TokenInfo[]>
  revoke(id: number): Promise<void>
  /** Audits a change: in the node's SQLite log, or in cluster mode the cluster's PostgreSQL log. */
  record(entry: { action: string; target: string; before?: unknown; after?: unknown }): Promise<void>
}

function tokensOf(source: MetadataSource): Tokens {
  const { registry, repo } = sourceOf(source)
  if (repo) return { create: (name, role) => repo.createToken(name, role), list: () => repo.listTokens(), revoke: (id) => repo.revokeToken(id), record: clusterAuditOf(repo) }
  const store = new TokenStore(registry.db)
  const audit = new AuditLog(registry.db)
  return {
    create: async (name, role) => store.create(name, role),
    list: async () => store.list(),
    revoke: async (id) => store.revoke(id),
    record: async (entry) => audit.record({ actor: cliActor(), role: 'admin', ...entry }),
  }
}

export async function tokensCommand(argv: string[], source: MetadataSource, io: Io): Promise<number> {
  const tokens = tokensOf(source)
  const [sub, rest] = subcommandOf(argv)
  switch (sub) {
    case 'create': {
      const { values } = parse(rest, { name: { type: 'string' }, role: { type: 'string' }, json: { type: 'boolean', default: false } }, false)
      if (!values.name) throw new TidewatchError('BAD_REQUEST', { flag: 'name' }, '--name is required (who or what will use the token)')
      if (!values.role || !ROLES.includes(values.role as Role)) throw new TidewatchError('BAD_REQUEST', { flag: 'role' }, `--role must be one of ${ROLES.join(', ')}`)
      const { token, info } = await tokens.create(values.name, values.role as Role)
      // The token exists from here on and is never shown again: printed before the audit record is stored,
      // so a failed record (cluster mode: PostgreSQL away) fails the command (exit 3, the record in the
      // message to store by hand) without losing the token.
      if (values.json) io.stdout(JSON.stringify({ id: info.id, name: info.name, role: info.role, token }))
      else io.stdout(`Token ${info.id} (${info.name}, ${info.role}):\n  ${token}\nShown only this once. Send it as: Authorization: Bearer <token>`)
      await tokens.record({ action: 'tokens create', target: `token:${info.id}`, after: info })
      return 0
    }
    case 'list': {
      const { values } = parse(rest, { json: { type: 'boolean', default: false } }, false)
      printList(io, values.json, await tokens.list(), ['ID', 'NAME', 'ROLE', 'PREFIX', 'CREATED', 'LAST USED', 'REVOKED'], (t) => [t.id, t.name, t.role, `${t.prefix}…`, timeCell(t.createdAt), timeCell(t.lastUsedAt), timeCell(t.revokedAt)])
      return 0
    }
    case 'revoke': {
      const { positionals } = parse(rest, {})
      const id = numberFlag('id', positionals[0], NaN, { min: 1, integer: true })
      const before = (await tokens.list()).find((t) => t.id === id)
      await tokens.revoke(id)
      await tokens.record({ action: 'tokens revoke', target: `token:${id}`, before, after: (await tokens.list()).find((t) => t.id === id) })
      io.stdout(`Token ${id} revoked; it stops working at once.`)
      return 0
    }
    case undefined:
      io.stdout(USAGE)
      return 0
    default:
      throw new TidewatchError('BAD_REQUEST', { sub }, `tokens: unknown subcommand "${sub}"`)
  }
}
