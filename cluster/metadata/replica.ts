import { createHash, timingSafeEqual } from 'node:crypto'
import type { Backoff } from '../../core/backoff.ts'
import { TidewatchError } from '../../core/errors.ts'
import type { Logger } from '../../core/log.ts'
import type { StationContext } from '../../core/reading.ts'
import { stationContext, type Sighting, type Station } from '../../devices/registry.ts'
import { tokenHash, type Principal } from '../../core/tokens.ts'
import type { StationAuthenticator } from '../../broker/hooks/authenticate.ts'
import type { ZoneDirectory } from '../../levels/book.ts'
import type { SensorRule } from '../../levels/rules.ts'
import type { Zone } from '../../levels/zones.ts'
import { FeedFollower, type FollowCounters } from './follow.ts'
import type { MetadataChange, MetadataRepository, TokenRecord } from './repository.ts'

/**
 * The node-local copy of the metadata the hot path reads (issue 16): station
 * secrets and enabled flags, calibrations, revoked certificate serials, API
 * tokens and stored alert rules, in memory, kept fresh from the repository's
 * change feed.
 *
 * It answers synchronously, so a broker CONNECT (StationAuthenticator), an
 * ingest batch (`context`) or an API request (`verifyToken`) never waits on a
 * database round trip, and keeps answering from what it last loaded while
 * PostgreSQL restarts or is unreachable: already-registered stations keep
 * connecting and publishing (issue 16, chaos scenario 7). A change is applied
 * when its notification arrives (milliseconds on one LAN; the bar is 1 s).
 *
 * Freshness: follow.ts FeedFollower (one entity per change, a full reload
 * after a resync or a failed read, a bounded queue).
 */
export interface ReplicaOptions {
  log?: Logger
  /** The bootstrap admin token (config), accepted as api/auth/tokens.ts TokenStore accepts it. */
  bootstrapToken?: string
  /** Entities waiting to be re-read before a full reload is cheaper; 10,000 is a province's stations ×10 (FIELD-NOTES: 10^2–10^3). */
  maxPending?: number
  /** Retry delays of a failed reload (core/backoff.ts): one client retrying one server. */
  retry?: Backoff
  /**
   * How often the last-used times of API tokens verified here are written
   * back (`tokens list` shows them); a minute is fine-grained enough for
   * "is this token still in use".
   */
  tokenUseFlushMs?: number
}

export interface ReplicaCounters extends FollowCounters {
  /** Token uses not recorded because the buffer of unwritten uses was full. */
  tokenUsesDropped: number
  /** Station sightings (last seen, clock offset) written to the repository. */
  sightingsWritten: number
  /** Sightings not recorded because the buffer of unwritten ones was full (the database away for long). */
  sightingsDropped: number
  /** Sighting writes that failed; their sightings are kept for the next one. */
  sightingWriteFailures: number
}

interface Secret {
  hash: string
  enabled: boolean
}

interface Snapshot {
  stations: Map<string, Station>
  secrets: Map<string, Secret>
  revoked: Set<string>
  tokens: Map<string, TokenRecord>
  rules: Map<string, SensorRule>
}

const ruleKey = (scope: string, sensor: string): string => `${scope}|${sensor}`

/**
 * How long a read-your-writes refresh waits for the follower's loop: the
 * 1 s propagation bar of issue 16, twice, so a loop busy with a reload on a
 * healthy PostgreSQL finishes; past it PostgreSQL is taken to be away.
 */
const REFRESH_WAIT_MS = 2_000


export class MetadataReplica implements StationAuthenticator, ZoneDirectory {
  private data: Snapshot = { stations: new Map(), secrets: new Map(), revoked: new Set(), tokens: new Map(), rules: new Map() }
  private readonly follower: FeedFollower
  private stopped = false
  private zoneGen = 0
  private readonly bootstrapHash: Buffer | undefined
  private readonly log: Logger | undefined
  private readonly maxPending: number
  /** Token id → last use not yet written back; bounded by maxPending, what does not fit is counted. */
  private tokenUses = new Map<number, number>()
  private readonly tokenUseTimer: NodeJS.Timeout
  /** Station → newest sighting not yet written; bounded by maxPending, what does not fit is counted. */
  private sightings = new Map<string, Sighting>()
  private sightingWrite: Promise<void> | undefined
  private readonly own = { tokenUsesDropped: 0, sightingsWritten: 0, sightingsDropped: 0, sightingWriteFailures: 0 }
  /** When the replica last matched the repository fully (a completed reload), ms. */
  lastReloadAt = 0
  /** The last read of the repository that failed, until a read succeeds again (the follower retries with backoff). */
  lastReadError: string | undefined

  private constructor(private readonly repo: MetadataRepository, private readonly opts: ReplicaOptions) {
    this.log = opts.log?.child({ component: 'metadata-replica' })
    this.maxPending = opts.maxPending ?? 10_000
    this.bootstrapHash = opts.bootstrapToken ? createHash('sha256').update(opts.bootstrapToken).digest() : undefined
    this.follower = new FeedFollower(repo, {
      reload: () => this.tracked(() => this.reload()),
      apply: (change) => this.tracked(() => this.apply(change)),
      maxPending: this.maxPending,
      retry: opts.retry,
      log: this.log,
      what: 'metadata replica',
    })
    this.tokenUseTimer = setInterval(() => void this.flushTokenUse(), opts.tokenUseFlushMs ?? 60_000)
    this.tokenUseTimer.unref()
  }

  /** Loads everything once; rejects if the repository cannot be read now (nothing to serve yet). */
  static async start(repo: MetadataRepository, opts: ReplicaOptions = {}): Promise<MetadataReplica> {
    const replica = new MetadataReplica(repo, opts)
    try {
      await replica.follower.start()
    } catch (err) {
      replica.stop()
      throw err
    }
    return replica
  }

  /** Stops following changes; call flushTokenUse() first to keep the last token uses. */
  stop(): void {
    this.stopped = true
    this.follower.stop()
    clearInterval(this.tokenUseTimer)
  }

  /** Writes the buffered last-used times of tokens; on failure they are kept for the next flush. */
  async flushTokenUse(): Promise<void> {
    if (this.tokenUses.size === 0) return
    const batch = this.tokenUses
    this.tokenUses = new Map()
    try {
      await this.repo.touchTokens(batch)
    } catch (err) {
      this.log?.warn({ err, tokens: batch.size }, 'could not record API token use; keeping it for the next flush')
      for (const [id, at] of batch) this.noteTokenUse(id, at)
    }
  }

  /**
   * Last-seen bookkeeping of cluster/edge.ts (the Registry's touchMany, which
   * the edge calls every 5 s): buffered here and written to the repository
   * in the background, one batch in flight at a time, so a CONNECT or a
   * PUBACK never waits on the database. While the database is away the
   * sightings wait in the buffer (newest per station) and go with the next
   * call; stations beyond maxPending are dropped and counted. Last seen is
   * bookkeeping for staff (the console's "silent stations"), not a reading:
   * a lost sighting is corrected by the station's next one.
   */
  touchMany(seen: ReadonlyMap<string, Sighting>): void {
    for (const [id, s] of seen) this.noteSighting(id, s)
    if (!this.sightingWrite && this.sightings.size > 0 && !this.stopped) this.sightingWrite = this.writeSightings()
  }

  /** Waits for the write in flight, then writes what is buffered (a node's shutdown). */
  async flushSightings(): Promise<void> {
    await this.sightingWrite
    if (this.sightings.size > 0) await (this.sightingWrite = this.writeSightings())
  }

  private async writeSightings(): Promise<void> {
    const batch = this.sightings
    this.sightings = new Map()
    try {
      await this.repo.touchStations(batch)
      this.own.sightingsWritten += batch.size
    } catch (err) {
      this.own.sightingWriteFailures++
      this.log?.warn({ err, stations: batch.size }, 'could not record station sightings; keeping them for the next write')
      for (const [id, s] of batch) this.noteSighting(id, s)
    } finally {
      this.sightingWrite = undefined
    }
  }

  private noteSighting(id: string, s: Sighting): void {
    const known = this.sightings.get(id)
    if (known === undefined) {
      if (this.sightings.size >= this.maxPending) {
        this.own.sightingsDropped++
        return
      }
      this.sightings.set(id, s)
    } else if (s.lastSeenAt >= known.lastSeenAt) {
      // The newer sighting wins; a clock offset measured earlier is kept if the newer one has none.
      this.sightings.set(id, s.clockOffsetMs === undefined && known.clockOffsetMs !== undefined ? { lastSeenAt: s.lastSeenAt, clockOffsetMs: known.clockOffsetMs } : s)
    }
  }

  private noteTokenUse(id: number, at: number): void {
    const known = this.tokenUses.get(id)
    if (known === undefined && this.tokenUses.size >= this.maxPending) {
      this.own.tokenUsesDropped++
      return
    }
    this.tokenUses.set(id, Math.max(known ?? 0, at))
  }

  // ---- what the hot path reads (synchronous) ----

  /** broker/hooks/authenticate.ts StationAuthenticator. */
  credentials(id: string): { hash: string; enabled: boolean } | undefined {
    const s = this.data.secrets.get(id)
    return s ? { hash: s.hash, enabled: s.enabled } : undefined
  }

  /**
   * Compare-and-set here at once, then in the repository. If the repository
   * refuses (a rotation landed first) or cannot be reached, the station's
   * secret is read again, so the stored truth wins and a legacy hash is
   * migrated at a later login.
   */
  upgradeHash(id: string, from: string, to: string): boolean {
    const s = this.data.secrets.get(id)
    if (!s || s.hash !== from) return false
    s.hash = to
    this.repo.upgradeHash(id, from, to).then(
      (done) => {
        if (!done) this.follower.enqueue({ kind: 'secret', id })
      },
      (err) => {
        this.log?.warn({ err, station: id }, 'could not store the migrated station hash; will retry at a later login')
        this.follower.enqueue({ kind: 'secret', id })
      },
    )
    return true
  }

  certRevoked(serial: string): boolean {
    return this.data.revoked.has(serial)
  }

  /** ingest/ingest.ts IngestDeps.stations: enabled flag and calibration. */
  context(id: string): StationContext | undefined {
    const station = this.data.stations.get(id)
    return station ? stationContext(station) : undefined
  }

  station(id: string): Station | undefined {
    return this.data.stations.get(id)
  }

  stations(): Station[] {
    return [...this.data.stations.values()]
  }

  /** As api/auth/tokens.ts TokenStore.verify, from memory; the use is written back in batches (flushTokenUse). */
  verifyToken(token: string, now = Date.now()): Principal | undefined {
    if (!token) return undefined
    if (this.bootstrapHash && timingSafeEqual(createHash('sha256').update(token).digest(), this.bootstrapHash)) {
      return { kind: 'bootstrap', id: null, name: 'bootstrap-admin', role: 'admin' }
    }
    const t = this.data.tokens.get(tokenHash(token))
    if (!t || t.revokedAt !== null) return undefined
    this.noteTokenUse(t.id, now)
    return { kind: 'token', id: t.id, name: t.name, role: t.role }
  }

  /**
   * Reads one token again now, for read-your-writes on the node that changed
   * it (cluster/metadata/api-tokens.ts): a token created or revoked here
   * applies here at once, without waiting for its notification.
   *
   * The read goes through the follower's loop, as mirror.ts refreshSubscriber
   * does, so it never races a full reload in flight: a reload that read the
   * tokens before a revocation committed is applied first, and this read
   * after it (a just-revoked token must not be accepted again).
   *
   * Waits at most `waitMs` (the loop may be backing off while PostgreSQL is
   * away); resolves false when the read has not been applied by then.
   */
  async refreshToken(id: number, waitMs = REFRESH_WAIT_MS): Promise<boolean> {
    this.follower.enqueue({ kind: 'token', id: String(id) })
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), waitMs)
      timer.unref()
    })
    try {
      return await Promise.race([this.follower.idle().then(() => true as const), timedOut])
    } finally {
      clearTimeout(timer)
    }
  }

  /** True when this replica holds token `token` (active or revoked): it has seen it, so verifyToken's answer is the stored one. */
  knowsToken(token: string): boolean {
    return this.data.tokens.has(tokenHash(token))
  }

  /**
   * verifyToken for a token whose answer must not be a false "no" (a console
   * session's token, api/console/routes.ts): when this replica has never seen
   * the token (minted on another node, its notification still in flight or
   * the feed reconnecting), PostgreSQL is asked which token it is, and that
   * token is read into the replica before answering again. A token this
   * replica knows is answered from memory, as verifyToken does: a known
   * revocation stays a "no" without a round trip.
   *
   * Rejects (the caller answers POSTGRES_UNAVAILABLE) when PostgreSQL has the
   * token but it could not be read into the replica in time: "not sure" must
   * not end a session.
   */
  async verifyTokenFresh(token: string, now = Date.now()): Promise<Principal | undefined> {
    const known = this.verifyToken(token, now)
    if (known || !token || this.knowsToken(token)) return known
    const stored = await this.repo.verifyToken(token, now)
    if (!stored || stored.id === null) return undefined
    await this.refreshToken(stored.id)
    if (!this.knowsToken(token)) {
      throw new TidewatchError('POSTGRES_UNAVAILABLE', { token: stored.id }, `API token ${stored.id} is in PostgreSQL but could not be read into this node's copy in time`)
    }
    return this.verifyToken(token, now)
  }

  /**
   * Stores what was read of token `id` (undefined: it is gone). A revocation
   * never goes back (nothing un-revokes a token): a read that started before
   * the revocation committed and lands after it must not bring the token back.
   */
  private putToken(id: number, record: TokenRecord | undefined): void {
    let revokedAt: number | null = null
    for (const [hash, t] of this.data.tokens) {
      if (t.id !== id) continue
      revokedAt ??= t.revokedAt
      this.data.tokens.delete(hash)
    }
    if (record) this.data.tokens.set(record.hash, record.revokedAt === null && revokedAt !== null ? { ...record, revokedAt } : record)
  }

  /** A stored rule (scope 'default', 'zone:<zone>' or a station id); resolution stays in levels/book.ts. */
  rule(scope: string, sensor: string): SensorRule | undefined {
    return this.data.rules.get(ruleKey(scope, sensor))
  }

  // levels/book.ts ZoneDirectory
  zoneOf(stationId: string): Zone | null {
    return this.data.stations.get(stationId)?.zone ?? null
  }

  zoneGeneration(): number {
    return this.zoneGen
  }

  /** Nothing to poll: changes arrive on the feed. */
  syncZones(): void {}

  /** Resolves when no change is waiting to be applied (tests, and a node's readiness probe). */
  idle(): Promise<void> {
    return this.follower.idle()
  }

  /** The feed's counters and this replica's own. */
  get counters(): ReplicaCounters {
    return { ...this.follower.counters, ...this.own }
  }

  // ---- keeping it fresh ----

  /** A read of the repository, its failure kept for /health until a later read succeeds. */
  private async tracked(read: () => Promise<void>): Promise<void> {
    try {
      await read()
      this.lastReadError = undefined
    } catch (err) {
      this.lastReadError = (err as Error)?.message ?? String(err)
      throw err
    }
  }

  private async reload(): Promise<void> {
    const [stations, secrets, revoked, tokens, rules] = await Promise.all([
      this.repo.listStations(),
      this.repo.listSecrets(),
      this.repo.revokedSerials(),
      this.repo.listTokenRecords(),
      this.repo.listRules(),
    ])
    // Swapped whole: a reader never sees half of one load.
    this.data = {
      stations: new Map(stations.map((s) => [s.id, s])),
      secrets: new Map(secrets.map((s) => [s.id, { hash: s.hash, enabled: s.enabled }])),
      revoked: new Set(revoked),
      tokens: this.keepRevocations(tokens),
      rules: new Map(rules.map((r) => [ruleKey(r.scope, r.sensor), r.rule])),
    }
    this.zoneGen++
    this.lastReloadAt = Date.now()
  }

  /**
   * The tokens of a full reload, with every revocation this replica already
   * holds kept: a revocation never goes back, even if the reload's read
   * started before it committed.
   */
  private keepRevocations(tokens: TokenRecord[]): Map<string, TokenRecord> {
    const out = new Map<string, TokenRecord>()
    for (const t of tokens) {
      const held = this.data.tokens.get(t.hash)
      out.set(t.hash, t.revokedAt === null && held?.revokedAt != null ? { ...t, revokedAt: held.revokedAt } : t)
    }
    return out
  }

  private async apply(change: MetadataChange & { id: string }): Promise<void> {
    const { id } = change
    switch (change.kind) {
      case 'station':
      case 'secret': {
        const [station, secret] = await Promise.all([change.kind === 'station' ? this.repo.getStation(id) : this.data.stations.get(id), this.repo.credentials(id)])
        if (station) this.data.stations.set(id, station)
        else this.data.stations.delete(id)
        if (secret) this.data.secrets.set(id, secret)
        else this.data.secrets.delete(id)
        if (change.kind === 'station') this.zoneGen++
        return
      }
      case 'cert':
        if (await this.repo.certRevoked(id)) this.data.revoked.add(id)
        else this.data.revoked.delete(id)
        return
      case 'token':
        this.putToken(Number(id), await this.repo.tokenRecord(Number(id)))
        return
      case 'rule': {
        const rules = await this.repo.rules(id)
        for (const key of [...this.data.rules.keys()]) if (key.startsWith(`${id}|`)) this.data.rules.delete(key)
        for (const [sensor, rule] of Object.entries(rules)) this.data.rules.set(ruleKey(id, sensor), rule)
        return
      }
    }
  }
}
