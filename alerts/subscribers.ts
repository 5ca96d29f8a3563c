import type Database from 'better-sqlite3'
import { z } from 'zod'
import { TidewatchError } from '../core/errors.ts'
import type { Station } from '../devices/registry.ts'
import { foldKey, normalizePhone } from './text.ts'

/**
 * Farmers (SMS, vi or en, with or without diacritics, following stations
 * and/or communes) and staff (SMS, email or webhook; every level plus
 * no-data and device health).
 */
const phone = z.string().transform((v, ctx) => {
  const p = normalizePhone(v)
  if (!p) {
    ctx.addIssue({ code: 'custom', message: 'phone must be a Vietnamese mobile number (+84…, 84… or 0…)' })
    return z.NEVER
  }
  return p
})

export const SubscriberInputSchema = z
  .object({
    kind: z.enum(['farmer', 'staff']).default('farmer'),
    name: z.string().max(100).default(''),
    phone: phone.optional(),
    email: z.email().optional(),
    webhook: z.url().optional(),
    lang: z.enum(['vi', 'en']).default('vi'),
    diacritics: z.boolean().default(false),
    stations: z.array(z.string().min(1).max(64)).max(500).default([]),
    communes: z.array(z.string().min(1).max(100)).max(100).default([]),
    active: z.boolean().default(true),
  })
  .refine((s) => (s.kind === 'farmer' ? !!s.phone : !!(s.phone || s.email || s.webhook)), {
    message: 'a farmer needs a phone; staff need a phone, email or webhook',
  })
export type SubscriberInput = z.input<typeof SubscriberInputSchema>

export interface Subscriber {
  id: number
  kind: 'farmer' | 'staff'
  name: string
  phone: string | null
  email: string | null
  webhook: string | null
  lang: 'vi' | 'en'
  diacritics: boolean
  stations: string[]
  communes: string[]
  active: boolean
  createdAt: number
  updatedAt: number
}

/**
 * Where subscriber changes are written. The node's own SQLite (Subscribers,
 * through localSubscriberWriter) by default; in cluster mode PostgreSQL
 * (cluster/metadata/subscriber-writer.ts), which resolves only once this
 * node's copy shows the change (read-your-writes on the node that wrote).
 */
export interface SubscriberWriter {
  create(input: SubscriberInput, now: number): Promise<Subscriber>
  update(id: number, patch: Partial<SubscriberInput>, now: number): Promise<Subscriber>
  remove(id: number): Promise<void>
}

export function localSubscriberWriter(subs: Subscribers): SubscriberWriter {
  return {
    create: async (input, now) => subs.create(input, now),
    update: async (id, patch, now) => subs.update(id, patch, now),
    remove: async (id) => subs.remove(id),
  }
}

/** A row of alert_subscribers (alerts/store.ts). */
export interface SubscriberRow {
  id: number
  kind: 'farmer' | 'staff'
  name: string
  phone: string | null
  email: string | null
  webhook: string | null
  lang: 'vi' | 'en'
  diacritics: number
  stations: string
  communes: string
  active: number
  created_at: number
  updated_at: number
}

export function toSubscriber(r: SubscriberRow): Subscriber {
  return {
    id: r.id,
    kind: r.kind,
    name: r.name,
    phone: r.phone,
    email: r.email,
    webhook: r.webhook,
    lang: r.lang,
    diacritics: r.diacritics === 1,
    stations: JSON.parse(r.stations) as string[],
    communes: JSON.parse(r.communes) as string[],
    active: r.active === 1,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  }
}

export class Subscribers {
  private readonly db: Database.Database
  private cache: Subscriber[] | null = null
  private cacheVersion = -1
  private readonly dataVersion

  constructor(db: Database.Database) {
    this.db = db
    this.dataVersion = db.prepare('PRAGMA data_version').pluck()
  }

  list(): Subscriber[] {
    // PRAGMA data_version changes when ANOTHER connection commits (e.g. the
    // `tidewatch alerts subscribers` CLI while `tidewatch up` runs), so a
    // farmer added from the CLI is seen at once without polling the table.
    const version = this.dataVersion.get() as number
    if (version !== this.cacheVersion) {
      this.cache = null
      this.cacheVersion = version
    }
    this.cache ??= (this.db.prepare('SELECT * FROM alert_subscribers ORDER BY id').all() as SubscriberRow[]).map(toSubscriber)
    return this.cache
  }

  get(id: number): Subscriber | undefined {
    return this.list().find((s) => s.id === id)
  }

  byPhone(p: string): Subscriber | undefined {
    return this.list().find((s) => s.phone === p)
  }

  create(input: SubscriberInput, now: number): Subscriber {
    const s = parseSubscriberInput(input)
    if (s.phone && this.byPhone(s.phone)) throw new TidewatchError('SUBSCRIBER_EXISTS', { phone: s.phone })
    const info = this.db
      .prepare(
        `INSERT INTO alert_subscribers (kind, name, phone, email, webhook, lang, diacritics, stations, communes, active, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(s.kind, s.name, s.phone ?? null, s.email ?? null, s.webhook ?? null, s.lang, s.diacritics ? 1 : 0, JSON.stringify(s.stations), JSON.stringify(s.communes), s.active ? 1 : 0, now, now)
    this.cache = null
    return this.get(Number(info.lastInsertRowid))!
  }

  update(id: number, patch: Partial<SubscriberInput>, now: number): Subscriber {
    const current = this.get(id)
    if (!current) throw new TidewatchError('SUBSCRIBER_NOT_FOUND', { id })
    const merged = mergeSubscriberPatch(current, patch)
    if (merged.phone) {
      const other = this.byPhone(merged.phone)
      if (other && other.id !== id) throw new TidewatchError('SUBSCRIBER_EXISTS', { phone: merged.phone })
    }
    this.db
      .prepare(
        `UPDATE alert_subscribers SET kind=?, name=?, phone=?, email=?, webhook=?, lang=?, diacritics=?, stations=?, communes=?, active=?, updated_at=? WHERE id=?`,
      )
      .run(merged.kind, merged.name, merged.phone ?? null, merged.email ?? null, merged.webhook ?? null, merged.lang, merged.diacritics ? 1 : 0, JSON.stringify(merged.stations), JSON.stringify(merged.communes), merged.active ? 1 : 0, now, id)
    this.cache = null
    return this.get(id)!
  }

  remove(id: number): void {
    const info = this.db.prepare('DELETE FROM alert_subscribers WHERE id = ?').run(id)
    this.cache = null
    if (info.changes === 0) throw new TidewatchError('SUBSCRIBER_NOT_FOUND', { id })
  }

  /** Active farmers following the station directly or through its commune. */
  farmersFor(station: Station): Subscriber[] {
    const commune = station.commune ? foldKey(station.commune) : null
    return this.list().filter((s) => s.active && s.kind === 'farmer' && follows(s, station.id, commune))
  }

  /**
   * The stations a subscriber follows, directly or through a commune, in the
   * order given (a TT without a station answers for all of them). The same
   * test as farmersFor, so TT lists exactly the stations that alert the farmer.
   */
  stationsOf<S extends Pick<Station, 'id' | 'commune'>>(sub: Subscriber, stations: readonly S[]): S[] {
    if (!sub.active) return []
    return stations.filter((st) => follows(sub, st.id, st.commune ? foldKey(st.commune) : null))
  }

  staff(): Subscriber[] {
    return this.list().filter((s) => s.active && s.kind === 'staff')
  }
}

/** What the console's farmer list filters by; every field optional. */
export interface SubscriberSearch {
  /** Part of the name (case and diacritics ignored), or at least 3 digits of the phone. */
  text?: string
  /** A commune, matched as farmersFor matches it (case and diacritics ignored). */
  commune?: string
  station?: string
  active?: boolean
}

/**
 * A filter for subscribers, with the same folding of Vietnamese text that
 * alert routing uses, so a search by commune finds exactly the farmers that
 * commune's alerts reach.
 */
export function subscriberFilter(q: SubscriberSearch): (s: Subscriber) => boolean {
  const needle = foldKey(q.text ?? '')
  // Phones are stored +84…: "0912 345", "912345" and "+84912" all find +84912345….
  const digits = (q.text ?? '').replace(/\D/g, '').replace(/^(84|0)/, '')
  const commune = foldKey(q.commune ?? '')
  return (s) =>
    (!needle || foldKey(s.name).includes(needle) || (digits.length >= 3 && (s.phone ?? '').includes(digits))) &&
    (!commune || s.communes.some((c) => foldKey(c) === commune)) &&
    (!q.station || s.stations.includes(q.station)) &&
    (q.active === undefined || q.active === s.active)
}

function follows(s: Subscriber, stationId: string, foldedCommune: string | null): boolean {
  return s.stations.includes(stationId) || (foldedCommune !== null && s.communes.some((c) => foldKey(c) === foldedCommune))
}

/** A subscriber as validated (SUBSCRIBER_INVALID), ready to store: both metadata backends store exactly this. */
export type ValidSubscriber = z.output<typeof SubscriberInputSchema>

/** The current subscriber with the patch over it, validated as a whole (SUBSCRIBER_INVALID). */
export function mergeSubscriberPatch(current: Subscriber, patch: Partial<SubscriberInput>): ValidSubscriber {
  return parseSubscriberInput({
    kind: current.kind,
    name: current.name,
    phone: current.phone ?? undefined,
    email: current.email ?? undefined,
    webhook: current.webhook ?? undefined,
    lang: current.lang,
    diacritics: current.diacritics,
    stations: current.stations,
    communes: current.communes,
    active: current.active,
    ...patch,
  })
}

export function parseSubscriberInput(input: unknown): ValidSubscriber {
  const r = SubscriberInputSchema.safeParse(input)
  if (!r.success) {
    throw new TidewatchError('SUBSCRIBER_INVALID', { issues: r.error.issues.map((i) => ({ key: i.path.join('.'), reason: i.message })) })
  }
  return r.data
}
