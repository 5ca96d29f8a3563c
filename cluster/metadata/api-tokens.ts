import type { ApiTokens } from '../../api/auth/tokens.ts'
import type { Logger } from '../../core/log.ts'
import type { Principal, Role, TokenInfo } from '../../core/tokens.ts'
import { asPostgresUnavailable } from './open.ts'
import type { MetadataReplica } from './replica.ts'
import type { MetadataRepository } from './repository.ts'

/**
 * API tokens of an API node in cluster mode (issue 16): every node accepts
 * the tokens of the shared PostgreSQL repository, wherever they were made
 * (another node, the console, `tidewatch tokens` in cluster mode).
 *
 * - verify: from the node's MetadataReplica, in memory, synchronously (it
 *   runs on every request); kept fresh by LISTEN/NOTIFY, so a token created
 *   or revoked elsewhere applies here when its notification arrives.
 * - create, list, revoke: on PostgreSQL. The node that made the change then
 *   reads that token back into its replica before answering
 *   (read-your-writes): a token it created works at once, one it revoked
 *   stops at once, whatever the notification's delay.
 * - verifyFresh (a console session's token): a token this node has never
 *   seen is read from PostgreSQL before the answer, so a node whose
 *   notification is late does not end a session made on another node.
 * - the bootstrap admin token (config) is the replica's, so it works on
 *   every node that has the same config.
 */
export class ClusterApiTokens implements ApiTokens {
  constructor(
    private readonly replica: MetadataReplica,
    private readonly repo: MetadataRepository,
    private readonly log?: Logger,
  ) {}

  verify(token: string, now?: number): Principal | undefined {
    return this.replica.verifyToken(token, now)
  }

  /** A token this node has never seen is read from PostgreSQL first (replica.ts verifyTokenFresh); POSTGRES_UNAVAILABLE when that cannot be done. */
  async verifyFresh(token: string, now?: number): Promise<Principal | undefined> {
    return this.replica.verifyTokenFresh(token, now).catch((err: unknown) => Promise.reject(asPostgresUnavailable(err)))
  }

  async create(name: string, role: Role, now?: number): Promise<{ token: string; info: TokenInfo }> {
    const created = await this.repo.createToken(name, role, now).catch((err: unknown) => Promise.reject(asPostgresUnavailable(err)))
    await this.readBack(created.info.id)
    return created
  }

  async list(): Promise<TokenInfo[]> {
    return this.repo.listTokens().catch((err: unknown) => Promise.reject(asPostgresUnavailable(err)))
  }

  async revoke(id: number, now?: number): Promise<void> {
    await this.repo.revokeToken(id, now).catch((err: unknown) => Promise.reject(asPostgresUnavailable(err)))
    await this.readBack(id)
  }

  /** The change is committed: if reading it back fails, its notification (or the resync after a lost feed) still brings it. */
  private async readBack(id: number): Promise<void> {
    if (!(await this.replica.refreshToken(id))) {
      this.log?.warn({ token: id }, 'could not read a changed API token back in time; it applies here when its notification (or the reload after a lost feed) arrives')
    }
  }
}
