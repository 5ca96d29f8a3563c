import { createHash } from 'node:crypto'
import type { NatsConnection } from '@nats-io/transport-node'
import { Kvm, type KV } from '@nats-io/kv'
import type { OutboxRow, StateRow } from '../../alerts/store.ts'
import { isWrongSequence } from './lease.ts'

/**
 * What a failover must not lose, in JetStream KV (replicated like the
 * readings stream, R3 in production), so any alerter node can carry on:
 *
 * - `<stream>-alerter-lease`: the lease (lease.ts), bucket TTL = lease time.
 * - `<stream>-alerter-state`: the engine's decision state, one key per
 *   (station, sensor, ladder) as alerts/store.ts keeps it in alert_states,
 *   and the group's cursor: the stream sequence of the last message whose
 *   decisions are all here. No TTL: a state must outlive any outage.
 * - `<stream>-alerter-outbox`: one entry per notification, under the
 *   Notifier's dedupe key (hashed into a key), holding the whole outbox row
 *   and where its sending got to: queued, claimed (by term N), sent, or a
 *   final suppressed / cancelled / failed. Kept OUTBOX_KEEP_MS: longer than
 *   the anti-spam window and the daily cap need to look back.
 */
export type ClaimStatus = 'queued' | 'claimed' | 'sent' | 'suppressed' | 'cancelled' | 'failed'

export interface OutboxEntry {
  status: ClaimStatus
  /** The lease term of the node that claimed or sent it. */
  term: number | null
  node: string | null
  row: Omit<OutboxRow, 'id'>
  providerId?: string | null
  parts?: number
}

/** 48 h: covers the daily cap (24 h) and the default anti-spam window (6 h, core/alerts-config.ts windowSec). */
const OUTBOX_KEEP_MS = 48 * 3600_000

export interface SharedStateOptions {
  stream: string
  replicas: number
  leaseTtlMs: number
}

export interface AlerterBuckets {
  lease: KV
  state: KV
  outbox: KV
}

/** Creates the three buckets or opens them as they are (safe to race: every alerter node calls it). */
export async function openAlerterBuckets(nc: NatsConnection, opts: SharedStateOptions): Promise<AlerterBuckets> {
  const kvm = new Kvm(nc)
  const base = opts.stream.toLowerCase()
  const [lease, state, outbox] = await Promise.all([
    kvm.create(`${base}-alerter-lease`, { replicas: opts.replicas, history: 1, ttl: opts.leaseTtlMs }),
    kvm.create(`${base}-alerter-state`, { replicas: opts.replicas, history: 1 }),
    kvm.create(`${base}-alerter-outbox`, { replicas: opts.replicas, history: 1, ttl: OUTBOX_KEEP_MS }),
  ])
  return { lease, state, outbox }
}

/** A KV key for a dedupe key: keys allow only [-/_=.a-zA-Z0-9], dedupe keys hold station ids and ':'. */
export function outboxKey(dedupeKey: string): string {
  return `m.${createHash('sha256').update(dedupeKey).digest('base64url')}`
}

function stateKey(row: Pick<StateRow, 'station' | 'sensor' | 'ladder'>): string {
  const b = (s: string): string => Buffer.from(s).toString('base64url') || '_'
  return `s.${b(row.station)}.${b(row.sensor)}.${row.ladder}`
}

const enc = (v: unknown): string => JSON.stringify(v)

export class SharedAlerterState {
  constructor(
    private readonly buckets: AlerterBuckets,
    private readonly group: string,
  ) {}

  private get cursorKey(): string {
    return `cursor.${this.group}`
  }

  /** Every engine state row, as the last leader left them. */
  async loadStates(): Promise<StateRow[]> {
    const out: StateRow[] = []
    for await (const e of await this.buckets.state.history({ key: 's.>' })) {
      if (e.operation === 'PUT') out.push(e.json<StateRow>())
    }
    return out
  }

  /** Every notification entry younger than OUTBOX_KEEP_MS. */
  async loadOutbox(): Promise<Array<{ revision: number; entry: OutboxEntry }>> {
    const out: Array<{ revision: number; entry: OutboxEntry }> = []
    for await (const e of await this.buckets.outbox.history()) {
      if (e.operation === 'PUT') out.push({ revision: e.revision, entry: e.json<OutboxEntry>() })
    }
    return out
  }

  async saveStates(rows: readonly StateRow[]): Promise<void> {
    await Promise.all(rows.map((r) => this.buckets.state.put(stateKey(r), enc(r))))
  }

  /** The stream sequence through which every decision is in KV (0: start of the stream). */
  async cursor(): Promise<{ seq: number; revision: number }> {
    const e = await this.buckets.state.get(this.cursorKey)
    if (!e || e.operation !== 'PUT') return { seq: 0, revision: 0 }
    return { seq: Number(e.string()), revision: e.revision }
  }

  /**
   * Advances the cursor by compare-and-set on the revision this leader last
   * wrote: a deposed leader that still runs finds a newer revision (its
   * successor's) and learns it is no longer the leader. Returns the new revision.
   */
  async advanceCursor(seq: number, revision: number): Promise<number> {
    return revision === 0 ? this.buckets.state.create(this.cursorKey, String(seq)) : this.buckets.state.update(this.cursorKey, String(seq), revision)
  }

  /**
   * Records a notification the evaluation decided on, unless it is there
   * already (a successor re-evaluating, or the pump claimed it first). A
   * queued entry is moved to a final status the evaluation gave it
   * (cancelled when the water was safe again before it was sent).
   */
  async record(row: OutboxRow, status: ClaimStatus): Promise<void> {
    const key = outboxKey(row.dedupe_key)
    const { id: _id, ...rest } = row
    try {
      await this.buckets.outbox.create(key, enc({ status, term: null, node: null, row: rest } satisfies OutboxEntry))
      return
    } catch (err) {
      if (!isWrongSequence(err)) throw err
    }
    if (status === 'queued') return
    const e = await this.buckets.outbox.get(key)
    if (!e || e.operation !== 'PUT') return
    const have = e.json<OutboxEntry>()
    if (have.status !== 'queued') return
    await this.buckets.outbox.update(key, enc({ ...have, status }), e.revision).catch((err: unknown) => {
      // Claimed meanwhile: the claim decides now.
      if (!isWrongSequence(err)) throw err
    })
  }

  async getEntry(dedupeKey: string): Promise<{ revision: number; entry: OutboxEntry } | null> {
    const e = await this.buckets.outbox.get(outboxKey(dedupeKey))
    if (!e || e.operation !== 'PUT') return null
    return { revision: e.revision, entry: e.json<OutboxEntry>() }
  }

  /** Creates the entry as claimed (revision 0) or moves it to claimed by compare-and-set; throws on a lost race. */
  async claim(dedupeKey: string, entry: OutboxEntry, revision: number): Promise<number> {
    const key = outboxKey(dedupeKey)
    return revision === 0 ? this.buckets.outbox.create(key, enc(entry)) : this.buckets.outbox.update(key, enc(entry), revision)
  }

  async settle(dedupeKey: string, entry: OutboxEntry, revision: number): Promise<number> {
    return this.buckets.outbox.update(outboxKey(dedupeKey), enc(entry), revision)
  }
}
