import { TidewatchError } from '../../core/errors.ts'
import type { Logger } from '../../core/log.ts'
import type { Subscriber, SubscriberInput, SubscriberWriter } from '../../alerts/subscribers.ts'
import type { RegistryMirror } from './mirror.ts'
import { asPostgresUnavailable } from './open.ts'
import type { MetadataRepository } from './repository.ts'

/**
 * Subscriber writes in cluster mode (issue 16): to PostgreSQL, the truth
 * for subscribers, never to the node's SQLite, which its RegistryMirror
 * owns. Each write resolves once this node's copy shows it
 * (RegistryMirror.refreshSubscriber), so the node that wrote reads its own
 * write at once (the API's GET after a POST, the console's redirect after a
 * form); other nodes see it when the change feed reaches them.
 *
 * The codes are the repository's (SUBSCRIBER_INVALID, SUBSCRIBER_EXISTS,
 * SUBSCRIBER_NOT_FOUND); PostgreSQL out of reach is POSTGRES_UNAVAILABLE
 * (503), as is a node whose first copy is not done yet: a write it could
 * not read back would break read-your-writes.
 */
export interface ClusterSubscriberWriterDeps {
  /** The repository and the mirror once the node follows PostgreSQL; undefined before. */
  following(): { repo: MetadataRepository; mirror: RegistryMirror } | undefined
  log?: Logger
  /**
   * How long a write waits for this node's copy before it answers anyway.
   * The write is committed either way; the wait only ends early when the
   * mirror is retrying a failed read. 2 s is twice issue 16's 1 s bar.
   */
  readBackMs?: number
}

/**
 * A write to PostgreSQL that resolves once this node's copy shows it (up to
 * readBackMs; the write is committed either way, a late copy is logged):
 * read-your-writes for every cluster-mode writer (subscribers here,
 * stations and rules in station-writer.ts). PostgreSQL errors become
 * POSTGRES_UNAVAILABLE; a node that does not follow PostgreSQL yet refuses.
 */
export function readBackWriter(deps: ClusterSubscriberWriterDeps, component: string) {
  const readBackMs = deps.readBackMs ?? 2_000
  const log = deps.log?.child({ component })
  return async <T>(fn: (repo: MetadataRepository) => Promise<T>, copy: (mirror: RegistryMirror, out: T) => Promise<unknown>, changed: (out: T) => unknown): Promise<T> => {
    const f = deps.following()
    if (!f) throw new TidewatchError('POSTGRES_UNAVAILABLE', {}, 'this node has not copied the PostgreSQL metadata yet; changes wait for it')
    let out: T
    try {
      out = await fn(f.repo)
    } catch (err) {
      throw asPostgresUnavailable(err)
    }
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), readBackMs)
      timer.unref()
    })
    const outcome = await Promise.race([copy(f.mirror, out).then(() => 'copied' as const), late])
    clearTimeout(timer)
    if (outcome === 'late') log?.warn({ changed: changed(out), readBackMs }, 'written to PostgreSQL; this node has not copied it back yet')
    return out
  }
}

export function clusterSubscriberWriter(deps: ClusterSubscriberWriterDeps): SubscriberWriter {
  const run = readBackWriter(deps, 'subscriber-writer')
  const write = <T>(fn: (repo: MetadataRepository) => Promise<T>, idOf: (out: T) => number): Promise<T> =>
    run(fn, (mirror, out) => mirror.refreshSubscriber(idOf(out)), (out) => ({ subscriber: idOf(out) }))
  return {
    create: (input: SubscriberInput, now: number): Promise<Subscriber> => write((repo) => repo.createSubscriber(input, now), (s) => s.id),
    update: (id: number, patch: Partial<SubscriberInput>, now: number): Promise<Subscriber> => write((repo) => repo.updateSubscriber(id, patch, now), (s) => s.id),
    remove: (id: number): Promise<void> => write((repo) => repo.removeSubscriber(id), () => id),
  }
}
