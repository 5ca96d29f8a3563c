/**
 * The cluster outbox record (cluster/metadata/outbox-record.ts) on a real
 * PostgreSQL 15: idempotent upserts by dedupe key, ordered by (term,
 * change) so a deposed leader never overwrites its successor; a new
 * leader's reload never turns a delivered message back; the recorder
 * bounds what waits and retries. The sink that fails in the last test is a
 * stand-in for PostgreSQL being away (said in its name).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../../core/log.ts'
import { PostgresMetadataRepository } from '../../cluster/metadata/postgres.ts'
import { OutboxRecorder, type OutboxRecordRow, type RecordedChange } from '../../cluster/metadata/outbox-record.ts'
import { freshDatabase, startLocalPostgres, type LocalPostgres } from '../helpers/postgres.ts'

let server: LocalPostgres

beforeAll(async () => {
  server = await startLocalPostgres()
}, 60_000)

afterAll(async () => {
  await server?.stop()
})

const row = (key: string, status: string, extra: Partial<OutboxRecordRow> = {}): OutboxRecordRow => ({
  dedupe_key: key, subscriber_id: 7, channel: 'smpp', address: '+84910000401', kind: 'alert', station: 'CM-R1', sensor: 'salinity', incident: 'i1', level: 'warning',
  severity: 'warning', text: 'CẢNH BÁO: Độ mặn 2,6‰', encoding: 'ucs2', segments: 1, status, reason: null, attempts: 0, next_attempt_at: 1, created_at: Date.now(),
  submitted_at: null, final_at: null, provider_id: null, ...extra,
})

describe('the outbox record in PostgreSQL', () => {
  it('orders changes by (term, change): a deposed leader never overwrites, a reload never turns delivered back', async () => {
    const repo = await PostgresMetadataRepository.open({ url: await freshDatabase(server), poolMax: 2 })
    try {
      const log = repo.outbox
      const change = (r: OutboxRecordRow, term: number, n: number): RecordedChange => ({ row: r, node: `n${term}`, term, change: n })
      const statuses = async () => Object.fromEntries((await log.changesSince(0, 0, 100)).map((r) => [r.dedupe_key, r.status]))
      await log.record([change(row('a', 'queued'), 2, 1), change(row('b', 'queued'), 2, 2)])
      await log.record([change(row('a', 'submitted', { provider_id: 'm1' }), 2, 3)])
      // The same change twice: idempotent.
      await log.record([change(row('a', 'submitted', { provider_id: 'm1' }), 2, 3)])
      // A deposed leader (term 1) still flushing: ignored.
      await log.record([change(row('a', 'failed'), 1, 99), change(row('b', 'cancelled'), 1, 100)])
      expect(await statuses()).toEqual({ a: 'submitted', b: 'queued' })
      await log.record([change(row('a', 'delivered'), 2, 4)])
      // Term 3's reload from KV (which keeps 'sent' as submitted, never receipts): adds what is missing,
      // corrects what is not yet sent, leaves delivered alone.
      await log.record([change(row('a', 'submitted'), 3, 0), change(row('b', 'submitted'), 3, 0), change(row('c', 'queued'), 3, 0)])
      expect(await statuses()).toEqual({ a: 'delivered', b: 'submitted', c: 'queued' })
      // The poll cursor: only what changed after it, in order.
      const all = await log.changesSince(0, 0, 100)
      const cursor = Math.max(...all.map((r) => r.changed))
      expect(await log.changesSince(cursor, 0, 100)).toEqual([])
      await log.record([change(row('c', 'submitted'), 3, 1)])
      expect((await log.changesSince(cursor, 0, 100)).map((r) => [r.dedupe_key, r.status])).toEqual([['c', 'submitted']])
      // One id per dedupe key, whatever the number of writes.
      expect(new Set(all.map((r) => r.id)).size).toBe(3)
    } finally {
      await repo.close()
    }
  }, 60_000)

  it('the recorder keeps the newest change per key, bounds what waits, and retries a sink that is away (stand-in sink)', async () => {
    const written: RecordedChange[][] = []
    let away = true
    const recorder = new OutboxRecorder(
      {
        record: async (changes) => {
          if (away) throw new Error('stand-in: PostgreSQL is away')
          written.push([...changes])
        },
      },
      { node: 'n1', log: silentLogger, maxPending: 3, everyMs: 60_000 },
    )
    try {
      recorder.push([row('a', 'queued'), row('b', 'queued')], 5)
      recorder.push([row('a', 'submitted')], 5)
      recorder.push([row('c', 'queued'), row('d', 'queued')], 5)
      expect(recorder.counters).toMatchObject({ pending: 3, dropped: 1 })
      await recorder.flush()
      expect(recorder.counters).toMatchObject({ failures: 1, pending: 3, recorded: 0 })
      away = false
      await recorder.stop()
      expect(written).toHaveLength(1)
      expect(written[0]!.map((c) => [c.row.dedupe_key, c.row.status, c.term])).toEqual([
        ['a', 'submitted', 5],
        ['c', 'queued', 5],
        ['d', 'queued', 5],
      ])
      // Changes of one leader are numbered in order.
      const [a, c, d] = written[0]!
      expect(a!.change < c!.change && c!.change < d!.change).toBe(true)
      expect(recorder.counters).toMatchObject({ recorded: 3, pending: 0 })
    } finally {
      await recorder.stop()
    }
  }, 30_000)
})
