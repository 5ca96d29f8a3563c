import { backoffWindow, equalJitter, type Backoff } from '../../core/backoff.ts'
import type { Logger } from '../../core/log.ts'
import type { Registry, Station } from '../../devices/registry.ts'
import { RuleBook } from '../../levels/book.ts'
import type { SensorRule } from '../../levels/rules.ts'
import { migrateAlerts } from '../../alerts/store.ts'
import type { Subscriber, SubscriberWriter } from '../../alerts/subscribers.ts'
import { FeedFollower, type FollowCounters } from './follow.ts'
import { clusterSubscriberWriter } from './subscriber-writer.ts'
import { clusterRuleWriter, clusterStationWriter } from './station-writer.ts'
import type { StationWriter } from '../../api/routes/manage.ts'
import type { RuleWriter } from '../../api/routes/alerts.ts'
import type { MetadataChange, MetadataRepository, StationSecret } from './repository.ts'
import type { PostgresOutboxLog } from './outbox-record.ts'
import type { PostgresMetadataRepository } from './postgres.ts'

/**
 * Keeps a node's own SQLite registry in step with the shared PostgreSQL
 * repository, so the parts that read SQLite directly (the API: station
 * list and detail, latest readings by station, the public board's rules)
 * serve the stations registered in the cluster (issue 16, API nodes).
 *
 * What it copies: stations (with their sensors, calibrations, secret hash
 * and enabled flag), stored alert rules and SMS subscribers, at start and on every change the
 * feed announces (follow.ts FeedFollower: one entity per change, everything
 * after a resync or a failed read, with backoff; a bounded queue); last seen
 * and clock offsets by a poll. The lowest-risk way to get there:
 * the API code is unchanged and reads a table as before.
 *
 * What it does not do: station and rule writes made through this node's
 * API stay in its SQLite, and a station or rule row it never copied is never
 * deleted; one it copied that PostgreSQL no longer has is. API tokens are not
 * copied: API nodes verify them from a MetadataReplica and write them to
 * PostgreSQL (api-tokens.ts, docs/CLUSTER.md "Tokens, console sessions and
 * the audit log").
 *
 * Subscribers are different: in cluster mode PostgreSQL is the truth for
 * alert_subscribers and this mirror owns the node's table. Every subscriber
 * write goes to PostgreSQL (subscriber-writer.ts), rows keep PostgreSQL's
 * ids (the outbox's subscriber_id, the console's /console/farmers/<id>
 * links mean one farmer on every node), and a row PostgreSQL does not have
 * is deleted. Ids a node gave out before it joined the cluster would
 * collide with PostgreSQL's, so the first time a node's mirror takes the
 * table over, the rows it finds are moved aside, whole, into
 * alert_subscribers_before_cluster (counted and logged with a warning), and
 * never merged: they receive nothing in cluster mode until an operator adds
 * them through the API, the console or `tidewatch alerts subscribers add`.
 * Merging them silently could resurrect a farmer removed elsewhere, or
 * split one farmer in two under two ids. The takeover is recorded
 * (metadata_mirror_owns), so a node that restarts, or comes back after
 * missing some changes, just copies PostgreSQL again.
 *
 * It writes through its own connection to the registry file, so the other
 * connections of the process see PRAGMA data_version move and reload their
 * caches (levels/book.ts RuleBook), exactly as for a CLI writing the file.
 */
export type MirrorCounters = FollowCounters

export interface MirrorOptions {
  log?: Logger
  /**
   * How often last-seen times and clock offsets are copied: the edges write
   * them to PostgreSQL without a notification (they change all the time), so
   * they are polled. A minute is finer than any "silent station" threshold.
   */
  sightingsEveryMs?: number
  /** Changes waiting before a full copy is cheaper (as MetadataReplica's maxPending). */
  maxPending?: number
  retry?: Backoff
  /** The cluster's outbox record to copy into alert_outbox (see startClusterRegistryMirror's copyOutbox); unset: the table is not touched. */
  copyOutbox?: Pick<PostgresOutboxLog, 'changesSince'>
  /** How often the outbox record is polled (no NOTIFY: statuses change too often); 1 s, issue 16's bar for a change to show. */
  outboxEveryMs?: number
}

/** Days of outbox a copy keeps: the console's outbox page counts 14 days (api/console/pages/outbox.ts DAYS), plus today. */
const OUTBOX_COPY_DAYS = 15
/** Outbox rows read per query and written per SQLite transaction. */
const OUTBOX_COPY_BATCH = 1000
/** alerts/store.ts alert_outbox's columns, in the order they are copied. */
const OUTBOX_COLUMNS = [
  'id', 'dedupe_key', 'subscriber_id', 'channel', 'address', 'kind', 'station', 'sensor', 'incident', 'level', 'severity', 'text', 'encoding', 'segments',
  'status', 'reason', 'attempts', 'next_attempt_at', 'created_at', 'submitted_at', 'final_at', 'provider_id',
] as const

/** The tables this mirror owns whole once it has taken them over (subscribers only, for now). */
const OWNS_TABLE = `CREATE TABLE IF NOT EXISTS metadata_mirror_owns (tbl TEXT PRIMARY KEY, since INTEGER NOT NULL)`
const SET_ASIDE_TABLE = `CREATE TABLE IF NOT EXISTS alert_subscribers_before_cluster AS SELECT *, 0 AS set_aside_at FROM alert_subscribers WHERE 0`
const SET_ASIDE_OUTBOX = `CREATE TABLE IF NOT EXISTS alert_outbox_before_cluster AS SELECT *, 0 AS set_aside_at FROM alert_outbox WHERE 0`

export class RegistryMirror {
  private readonly follower: FeedFollower
  private readonly log: Logger | undefined
  /** Local subscribers moved aside when this node's mirror first took alert_subscribers over (0 on every later start). */
  subscribersSetAside = 0
  private readonly sightingsTimer: NodeJS.Timeout
  private readonly outboxTimer: NodeJS.Timeout | undefined
  /** The last outbox change copied (PostgreSQL's alert_outbox.changed); 0 after a resync: copy again. */
  private outboxCursor = 0
  /** Station ids this mirror copied: the only ones it may delete. */
  private readonly copied = new Set<string>()
  /** `scope|sensor` of the rules this mirror copied. */
  private readonly copiedRules = new Set<string>()
  private readonly stmts

  private constructor(private readonly repo: MetadataRepository, private readonly registry: Registry, private readonly opts: MirrorOptions) {
    const db = registry.db
    // alert_rules is created by its owner, levels/book.ts, not by a migration; alert_subscribers by the alerter's.
    new RuleBook(db, registry)
    migrateAlerts(db)
    db.exec(OWNS_TABLE)
    db.exec(SET_ASIDE_TABLE)
    db.exec(SET_ASIDE_OUTBOX)
    this.log = opts.log?.child({ component: 'registry-mirror' })
    this.stmts = {
      upsertStation: db.prepare(
        `INSERT INTO stations (id, name, commune, district, lat, lon, coast, zone, code, interval_s, enabled, created_at, last_seen_at, clock_offset_s, clock_checked_at, password_hash, credentials_rotated_at)
         VALUES (@id, @name, @commune, @district, @lat, @lon, @coast, @zone, @code, @intervalSec, @enabled, @createdAt, @lastSeenAt, @clockOffsetSec, @clockCheckedAt, @hash, @createdAt)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, commune = excluded.commune, district = excluded.district, lat = excluded.lat, lon = excluded.lon,
           coast = excluded.coast, zone = excluded.zone, code = excluded.code, interval_s = excluded.interval_s, enabled = excluded.enabled,
           last_seen_at = excluded.last_seen_at, clock_offset_s = excluded.clock_offset_s, clock_checked_at = excluded.clock_checked_at, password_hash = excluded.password_hash`,
      ),
      deleteSensors: db.prepare('DELETE FROM station_sensors WHERE station_id = ?'),
      insertSensor: db.prepare('INSERT INTO station_sensors (station_id, kind, cal_offset, cal_scale) VALUES (?, ?, ?, ?)'),
      deleteStation: db.prepare('DELETE FROM stations WHERE id = ?'),
      // A local station holding the code PostgreSQL gives another loses it (the shared metadata wins).
      freeCode: db.prepare('UPDATE stations SET code = NULL WHERE code = ? COLLATE NOCASE AND id != ?'),
      touch: db.prepare('UPDATE stations SET last_seen_at = ?, clock_offset_s = ?, clock_checked_at = ? WHERE id = ?'),
      deleteRule: db.prepare('DELETE FROM alert_rules WHERE scope = ? AND sensor = ?'),
      insertRule: db.prepare('INSERT OR REPLACE INTO alert_rules (scope, sensor, spec, updated_at) VALUES (?, ?, ?, ?)'),
      ownsSubscribers: db.prepare("SELECT 1 FROM metadata_mirror_owns WHERE tbl = 'alert_subscribers'").pluck(),
      takeSubscribers: db.prepare("INSERT INTO metadata_mirror_owns (tbl, since) VALUES ('alert_subscribers', ?)"),
      unlinkOutbox: db.prepare('UPDATE alert_outbox SET subscriber_id = NULL WHERE subscriber_id IS NOT NULL'),
      setAsideSubscribers: db.prepare('INSERT INTO alert_subscribers_before_cluster SELECT *, ? FROM alert_subscribers'),
      deleteAllSubscribers: db.prepare('DELETE FROM alert_subscribers'),
      deleteSubscriber: db.prepare('DELETE FROM alert_subscribers WHERE id = ?'),
      // Another row holding the phone PostgreSQL now gives this subscriber is stale: its own change is read next.
      phoneHolders: db.prepare('SELECT id FROM alert_subscribers WHERE phone = ? AND id != ?').pluck(),
      ownsOutbox: db.prepare("SELECT 1 FROM metadata_mirror_owns WHERE tbl = 'alert_outbox'").pluck(),
      takeOutbox: db.prepare("INSERT INTO metadata_mirror_owns (tbl, since) VALUES ('alert_outbox', ?)"),
      setAsideOutbox: db.prepare('INSERT INTO alert_outbox_before_cluster SELECT *, ? FROM alert_outbox'),
      // INSERT OR REPLACE: one row per id and per dedupe key, both PostgreSQL's.
      copyOutboxRow: db.prepare(`INSERT OR REPLACE INTO alert_outbox (${OUTBOX_COLUMNS.join(', ')}) VALUES (${OUTBOX_COLUMNS.map((c) => `@${c}`).join(', ')})`),
      pruneOutbox: db.prepare('DELETE FROM alert_outbox WHERE created_at < ?'),
      insertSubscriber: db.prepare(
        `INSERT INTO alert_subscribers (id, kind, name, phone, email, webhook, lang, diacritics, stations, communes, active, created_at, updated_at)
         VALUES (@id, @kind, @name, @phone, @email, @webhook, @lang, @diacritics, @stations, @communes, @active, @createdAt, @updatedAt)`,
      ),
    }
    this.follower = new FeedFollower(repo, {
      reload: () => this.copyAll(),
      apply: (change) => this.copyOne(change),
      // A station's row holds its secret: one read for both kinds. Tokens and certificates are not copied (above).
      keyOf: (change) =>
        change.kind === 'station' || change.kind === 'secret' ? `station|${change.id}` : change.kind === 'rule' || change.kind === 'subscriber' ? `${change.kind}|${change.id}` : undefined,
      maxPending: opts.maxPending,
      retry: opts.retry,
      log: this.log,
      what: 'registry mirror',
    })
    this.sightingsTimer = setInterval(() => this.follower.request('sightings', () => this.copySightings()), opts.sightingsEveryMs ?? 60_000)
    this.sightingsTimer.unref()
    const outbox = opts.copyOutbox
    if (outbox) {
      this.outboxTimer = setInterval(() => this.follower.request('outbox', () => this.copyOutbox(outbox)), opts.outboxEveryMs ?? 1000)
      this.outboxTimer.unref()
    }
  }

  get counters(): MirrorCounters {
    return this.follower.counters
  }

  /** Copies everything once (rejects if the repository cannot be read now), then follows the feed. */
  static async start(repo: MetadataRepository, registry: Registry, opts: MirrorOptions = {}): Promise<RegistryMirror> {
    const mirror = new RegistryMirror(repo, registry, opts)
    try {
      await mirror.follower.start()
    } catch (err) {
      mirror.stop()
      throw err
    }
    return mirror
  }

  stop(): void {
    this.follower.stop()
    clearInterval(this.sightingsTimer)
    clearInterval(this.outboxTimer)
  }

  /** Resolves when nothing is waiting to be copied (tests, readiness). */
  idle(): Promise<void> {
    return this.follower.idle()
  }

  /**
   * Reads one subscriber again now and resolves once this node's table shows
   * it as PostgreSQL has it after the caller's committed write: the
   * writer's read-your-writes (subscriber-writer.ts), without waiting for
   * the notification's round trip.
   */
  async refreshSubscriber(id: number): Promise<void> {
    this.follower.enqueue({ kind: 'subscriber', id: String(id) })
    await this.follower.idle()
  }

  /** As refreshSubscriber, for one station (row and secret) or one rule scope: station-writer.ts's read-your-writes. */
  async refresh(change: { kind: 'station' | 'rule'; id: string }): Promise<void> {
    this.follower.enqueue(change)
    await this.follower.idle()
  }

  private async copyOne(change: MetadataChange & { id: string }): Promise<void> {
    if (change.kind === 'rule') return this.writeRules(change.id, await this.repo.rules(change.id))
    if (change.kind === 'subscriber') {
      const id = Number(change.id)
      const sub = await this.repo.getSubscriber(id)
      // Before the takeover (a first copy still to come) the table is not ours to write.
      if (this.stmts.ownsSubscribers.get() !== undefined) this.registry.db.transaction(() => this.writeSubscriber(id, sub))()
      return
    }
    const [station, secret] = await Promise.all([this.repo.getStation(change.id), this.repo.credentials(change.id)])
    this.registry.db.transaction(() => this.writeStation(change.id, station, secret && { id: change.id, ...secret }))()
  }

  private async copyAll(): Promise<void> {
    // A resync may follow missed changes: the outbox is read again from the start of what a copy keeps.
    this.outboxCursor = 0
    if (this.opts.copyOutbox) this.follower.request('outbox', () => this.copyOutbox(this.opts.copyOutbox!))
    const [stations, secrets, rules, subscribers] = await Promise.all([this.repo.listStations(), this.repo.listSecrets(), this.repo.listRules(), this.repo.listSubscribers()])
    const secretOf = new Map(secrets.map((s) => [s.id, s]))
    const ids = new Set(stations.map((s) => s.id))
    const byScope = new Map<string, Record<string, SensorRule>>()
    for (const r of rules) byScope.set(r.scope, { ...byScope.get(r.scope), [r.sensor]: r.rule })
    for (const key of this.copiedRules) {
      const scope = key.slice(0, key.indexOf('|'))
      if (!byScope.has(scope)) byScope.set(scope, {})
    }
    this.registry.db.transaction(() => {
      for (const id of [...this.copied]) if (!ids.has(id)) this.writeStation(id, undefined, undefined)
      for (const s of stations) this.writeStation(s.id, s, secretOf.get(s.id))
      for (const [scope, scoped] of byScope) this.writeRules(scope, scoped)
      this.replaceSubscribers(subscribers)
    })()
  }

  /** The whole table becomes PostgreSQL's (after the first takeover, see above); call inside a transaction. */
  private replaceSubscribers(subscribers: readonly Subscriber[]): void {
    if (this.stmts.ownsSubscribers.get() === undefined) {
      const now = Date.now()
      this.subscribersSetAside = this.stmts.setAsideSubscribers.run(now).changes
      // The node's outbox rows name the moved-aside farmers by ids PostgreSQL
      // gives to others: unlinked, so a new farmer N inherits neither old N's
      // anti-spam window and daily cap nor an all-clear for old N's incident
      // (alerts/notify.ts reads them by subscriber_id).
      this.stmts.unlinkOutbox.run()
      this.stmts.takeSubscribers.run(now)
      if (this.subscribersSetAside > 0) {
        this.log?.warn(
          { setAside: this.subscribersSetAside, table: 'alert_subscribers_before_cluster' },
          "this node's own subscribers were moved aside: in cluster mode PostgreSQL holds the subscribers; add them again through the API, the console or tidewatch alerts subscribers add",
        )
      }
    }
    this.stmts.deleteAllSubscribers.run()
    for (const s of subscribers) this.stmts.insertSubscriber.run(subscriberRow(s))
  }

  /** One subscriber as PostgreSQL has it (undefined: gone); call inside a transaction. */
  private writeSubscriber(id: number, sub: Subscriber | undefined): void {
    this.stmts.deleteSubscriber.run(id)
    if (!sub) return
    if (sub.phone !== null) {
      for (const other of this.stmts.phoneHolders.all(sub.phone, id) as number[]) {
        this.stmts.deleteSubscriber.run(other)
        this.follower.enqueue({ kind: 'subscriber', id: String(other) })
      }
    }
    this.stmts.insertSubscriber.run(subscriberRow(sub))
  }

  /**
   * The cluster's outbox record since the last copy, into this node's
   * alert_outbox under PostgreSQL's ids (the console's links and the
   * farmers' pages mean one message on every API node). As for subscribers,
   * the first copy moves the rows the node had aside, whole, into
   * alert_outbox_before_cluster: they are another outbox's, and their ids
   * would collide. Rows older than OUTBOX_COPY_DAYS are pruned.
   */
  private async copyOutbox(source: Pick<PostgresOutboxLog, 'changesSince'>): Promise<void> {
    const db = this.registry.db
    for (;;) {
      const keepFrom = Date.now() - OUTBOX_COPY_DAYS * 86_400_000
      const rows = await source.changesSince(this.outboxCursor, keepFrom, OUTBOX_COPY_BATCH)
      db.transaction(() => {
        if (this.stmts.ownsOutbox.get() === undefined) {
          const now = Date.now()
          const setAside = this.stmts.setAsideOutbox.run(now).changes
          db.exec('DELETE FROM alert_outbox; DELETE FROM alert_parts')
          this.stmts.takeOutbox.run(now)
          if (setAside > 0) this.log?.warn({ setAside, table: 'alert_outbox_before_cluster' }, "this node's own outbox was moved aside: in cluster mode it shows the cluster's (PostgreSQL)")
        }
        for (const r of rows) this.stmts.copyOutboxRow.run(Object.fromEntries(OUTBOX_COLUMNS.map((c) => [c, r[c] ?? null])))
        this.stmts.pruneOutbox.run(keepFrom)
      })()
      if (rows.length) this.outboxCursor = rows.at(-1)!.changed
      if (rows.length < OUTBOX_COPY_BATCH) return
    }
  }

  /** Last seen and clock offsets of the stations this mirror copied. */
  private async copySightings(): Promise<void> {
    const stations = await this.repo.listStations()
    this.registry.db.transaction(() => {
      for (const s of stations) if (this.copied.has(s.id)) this.stmts.touch.run(s.lastSeenAt, s.clockOffsetSec, s.clockCheckedAt, s.id)
    })()
  }

  /** One station as PostgreSQL has it (undefined: gone); call inside a transaction. */
  private writeStation(id: string, station: Station | undefined, secret: StationSecret | undefined): void {
    if (!station || !secret) {
      if (this.copied.has(id)) this.stmts.deleteStation.run(id)
      this.copied.delete(id)
      return
    }
    if (station.code !== null) this.stmts.freeCode.run(station.code, id)
    const { sensors: _sensors, ...row } = station
    this.stmts.upsertStation.run({ ...row, enabled: secret.enabled ? 1 : 0, hash: secret.hash })
    this.stmts.deleteSensors.run(id)
    for (const s of station.sensors) this.stmts.insertSensor.run(id, s.kind, s.offset, s.scale)
    this.copied.add(id)
  }

  /** One scope's rules as PostgreSQL has them; the copied ones it no longer has are deleted. */
  private writeRules(scope: string, rules: Record<string, SensorRule>): void {
    this.registry.db.transaction(() => {
      for (const key of [...this.copiedRules]) {
        const [s, sensor] = [key.slice(0, key.indexOf('|')), key.slice(key.indexOf('|') + 1)]
        if (s === scope && !(sensor in rules)) {
          this.stmts.deleteRule.run(scope, sensor)
          this.copiedRules.delete(key)
        }
      }
      for (const [sensor, rule] of Object.entries(rules)) {
        this.stmts.insertRule.run(scope, sensor, JSON.stringify(rule), Date.now())
        this.copiedRules.add(`${scope}|${sensor}`)
      }
    })()
  }
}

/** A subscriber as a row of alerts/store.ts alert_subscribers. */
function subscriberRow(s: Subscriber): Record<string, unknown> {
  return { ...s, diacritics: s.diacritics ? 1 : 0, active: s.active ? 1 : 0, stations: JSON.stringify(s.stations), communes: JSON.stringify(s.communes) }
}

/** Retry delays while PostgreSQL cannot be reached at a node's start (one client, one server). */
const START_RETRY: Backoff = { baseMs: 500, capMs: 10_000 }

export interface ClusterRegistryMirror {
  /** The cluster's outbox record once this node follows PostgreSQL (a leading alerter writes it). */
  outboxLog(): PostgresOutboxLog | undefined
  /** The mirror once its first copy is done; undefined when stopped before. */
  ready: Promise<RegistryMirror | undefined>
  /** Where this node writes subscribers (PostgreSQL, read back into its own copy): the API's subscriber routes. */
  subscribers: SubscriberWriter
  /** Where this node writes stations (PostgreSQL, read back into its own copy): the API's station management routes. */
  stations: StationWriter
  /** Where this node's API writes stored alert rules (PostgreSQL, read back likewise). */
  rules: RuleWriter
  stop(): Promise<void>
}

/**
 * Cluster mode of `tidewatch api`, `up` and `alerter`: opens the PostgreSQL
 * repository and a second connection to the node's registry file, and runs a
 * RegistryMirror between them. It starts in the background: the node serves
 * what its SQLite holds until the first copy is done, and keeps retrying
 * (with backoff, logged) while PostgreSQL cannot be reached.
 */
export async function startClusterRegistryMirror(opts: {
  url: string
  poolMax?: number
  /** Opens the node's registry file on a connection of its own (devices/registry.ts Registry.open). */
  registry: () => Registry
  log: Logger
  /** How long to wait for the first copy before returning (the node then starts serving either way). */
  waitMs?: number
  /**
   * Copy the cluster's outbox record into this node's alert_outbox (an API
   * node without an alerter: the console's outbox page, GET /alerts/messages).
   * Never on a node whose alerter owns that table.
   */
  copyOutbox?: boolean
}): Promise<ClusterRegistryMirror> {
  let stopped = false
  let repo: PostgresMetadataRepository | undefined
  let registry: Registry | undefined
  let mirror: RegistryMirror | undefined
  let wake: (() => void) | undefined
  const ready = (async (): Promise<RegistryMirror | undefined> => {
    const { PostgresMetadataRepository } = await import('./postgres.ts')
    for (let attempt = 0; !stopped; attempt++) {
      try {
        repo = await PostgresMetadataRepository.open({ url: opts.url, poolMax: opts.poolMax, log: opts.log })
        registry ??= opts.registry()
        mirror = await RegistryMirror.start(repo, registry, { log: opts.log, copyOutbox: opts.copyOutbox ? repo.outbox : undefined })
        if (stopped) mirror.stop()
        else opts.log.info("this node's registry follows the PostgreSQL metadata")
        return mirror
      } catch (err) {
        await repo?.close().catch(() => undefined)
        repo = undefined
        const delay = equalJitter(backoffWindow(attempt, START_RETRY))
        opts.log.warn({ err, retryInMs: delay }, 'cannot copy the PostgreSQL metadata into this node yet; retrying')
        await new Promise<void>((r) => {
          wake = r
          setTimeout(r, delay).unref()
        })
      }
    }
    return undefined
  })()
  await Promise.race([ready, new Promise((r) => setTimeout(r, opts.waitMs ?? 5_000).unref())])
  return {
    ready,
    outboxLog: () => (mirror && !stopped ? repo?.outbox : undefined),
    subscribers: clusterSubscriberWriter({ following: () => (repo && mirror && !stopped ? { repo, mirror } : undefined), log: opts.log }),
    stations: clusterStationWriter({ following: () => (repo && mirror && !stopped ? { repo, mirror } : undefined), log: opts.log }),
    rules: clusterRuleWriter({ following: () => (repo && mirror && !stopped ? { repo, mirror } : undefined), log: opts.log }),
    async stop() {
      stopped = true
      wake?.()
      await ready
      mirror?.stop()
      await repo?.close().catch(() => undefined)
      registry?.close()
    },
  }
}
