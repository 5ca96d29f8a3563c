/**
 * The one test suite of the metadata repository (cluster/metadata/), run
 * against SQLite (repository-sqlite.test.ts) and a real PostgreSQL 15
 * (repository-postgres.test.ts): same behaviour, same error codes.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { verifyPassword } from '../../core/password.ts'
import { tokenHash } from '../../core/tokens.ts'
import type { MetadataChange, MetadataRepository } from '../../cluster/metadata/repository.ts'
import { MetadataReplica } from '../../cluster/metadata/replica.ts'
import { eventually } from '../helpers/platform.ts'

export interface RepositoryUnderTest {
  repo: MetadataRepository
  dispose(): Promise<void>
}

const BD_RULE = { levels: [{ name: 'bd1', severity: 'warning', direction: 'above', threshold: 65 }] }

async function code(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p
    return undefined
  } catch (err) {
    return (err as { code?: string }).code
  }
}

export function repositorySuite(backend: string, open: () => Promise<RepositoryUnderTest>): void {
  describe(`metadata repository on ${backend}`, () => {
    let current: RepositoryUnderTest | undefined
    afterEach(async () => {
      await current?.dispose()
      current = undefined
    })
    const fresh = async (): Promise<MetadataRepository> => {
      current = await open()
      return current.repo
    }

    it('registers stations with sensors, zone and code, and returns a secret that verifies', async () => {
      const repo = await fresh()
      const creds = await repo.addStation({ id: 'SD-01', name: 'Sông Đốc', lat: 9.04, lon: 104.83, zone: 'rice_shrimp', code: 'sd01', sensors: ['salinity', { kind: 'ph', offset: 0.1, scale: 1.02 }] }, 1_000)
      await repo.addStation({ id: 'NC-01', name: 'Năm Căn', lat: 8.76, lon: 104.98 })
      expect(creds.username).toBe('SD-01')
      const station = await repo.getStation('SD-01')
      expect(station).toMatchObject({ id: 'SD-01', name: 'Sông Đốc', zone: 'rice_shrimp', code: 'SD01', enabled: true, createdAt: 1_000, intervalSec: 900 })
      expect(station!.sensors).toEqual([
        { kind: 'ph', offset: 0.1, scale: 1.02 },
        { kind: 'salinity', offset: 0, scale: 1 },
      ])
      expect((await repo.listStations()).map((s) => s.id)).toEqual(['NC-01', 'SD-01'])
      expect((await repo.getStation('NC-01'))!.zone).toBe('rice')
      expect(await repo.stationByCode('Sd01')).toBe('SD-01')
      expect(await repo.getStation('nope')).toBeUndefined()
      const secret = await repo.credentials('SD-01')
      expect(secret?.enabled).toBe(true)
      expect(await verifyPassword(creds.password, secret!.hash)).toBe(true)
      expect((await repo.listSecrets()).map((s) => s.id)).toEqual(['NC-01', 'SD-01'])
    })

    it('refuses bad stations with the stable error codes of the SQLite registry', async () => {
      const repo = await fresh()
      await repo.addStation({ id: 'A1', name: 'a', lat: 9, lon: 105, code: 'AB1' })
      expect(await code(repo.addStation({ id: 'A1', name: 'again', lat: 9, lon: 105 }))).toBe('STATION_EXISTS')
      expect(await code(repo.addStation({ id: 'bad id!', name: 'x', lat: 9, lon: 105 }))).toBe('STATION_ID_INVALID')
      expect(await code(repo.addStation({ id: 'B1', name: 'x', lat: 91, lon: 105 }))).toBe('BAD_REQUEST')
      expect(await code(repo.addStation({ id: 'B1', name: 'x', lat: 9, lon: 105, zone: 'desert' as never }))).toBe('STATION_ZONE_INVALID')
      expect(await code(repo.addStation({ id: 'B1', name: 'x', lat: 9, lon: 105, code: '12' }))).toBe('STATION_CODE_INVALID')
      expect(await code(repo.addStation({ id: 'B1', name: 'x', lat: 9, lon: 105, code: 'ab1' }))).toBe('STATION_CODE_TAKEN')
      expect(await code(repo.addStation({ id: 'B1', name: 'x', lat: 9, lon: 105, sensors: ['plutonium' as never] }))).toBe('BAD_REQUEST')
      expect(await repo.getStation('B1')).toBeUndefined()
      await repo.addStation({ id: 'B1', name: 'b', lat: 9, lon: 105 })
      expect(await code(repo.updateStation('B1', { code: 'AB1' }))).toBe('STATION_CODE_TAKEN')
      expect(await code(repo.updateStation('B1', { zone: 'desert' as never }))).toBe('STATION_ZONE_INVALID')
      expect(await code(repo.updateStation('B1', { lon: 200 }))).toBe('BAD_REQUEST')
      for (const call of [
        () => repo.updateStation('ghost', { name: 'g' }),
        () => repo.setEnabled('ghost', false),
        () => repo.setCalibration('ghost', 'ph', { offset: 0, scale: 1 }),
        () => repo.removeStation('ghost'),
        () => repo.rotate('ghost'),
      ]) {
        expect(await code(call())).toBe('STATION_NOT_FOUND')
      }
    })

    it('updates, disables, recalibrates and removes a station', async () => {
      const repo = await fresh()
      await repo.addStation({ id: 'S1', name: 'one', lat: 9, lon: 105, sensors: ['salinity'] })
      const updated = await repo.updateStation('S1', { name: 'renamed', zone: 'water_supply', code: 'CM7', intervalSec: 300 })
      expect(updated).toMatchObject({ name: 'renamed', zone: 'water_supply', code: 'CM7', intervalSec: 300, lat: 9 })
      await repo.setEnabled('S1', false)
      expect((await repo.credentials('S1'))?.enabled).toBe(false)
      expect((await repo.getStation('S1'))?.enabled).toBe(false)
      await repo.setCalibration('S1', 'salinity', { offset: -0.2, scale: 1.1 })
      expect((await repo.getStation('S1'))!.sensors).toEqual([{ kind: 'salinity', offset: -0.2, scale: 1.1 }])
      await repo.removeStation('S1')
      expect(await repo.getStation('S1')).toBeUndefined()
      expect(await repo.credentials('S1')).toBeUndefined()
    })

    it('rotates secrets, and upgradeHash is a compare-and-set that a rotation wins', async () => {
      const repo = await fresh()
      const first = await repo.addStation({ id: 'R1', name: 'r', lat: 9, lon: 105 })
      const before = (await repo.credentials('R1'))!.hash
      expect(await repo.upgradeHash('R1', 'not-the-stored-hash', 'x')).toBe(false)
      expect(await repo.upgradeHash('R1', before, 'upgraded')).toBe(true)
      expect((await repo.credentials('R1'))!.hash).toBe('upgraded')
      const second = await repo.rotate('R1')
      const after = (await repo.credentials('R1'))!.hash
      expect(await verifyPassword(second.password, after)).toBe(true)
      expect(await verifyPassword(first.password, after)).toBe(false)
      // A migration that read the hash before the rotation must not overwrite it.
      expect(await repo.upgradeHash('R1', 'upgraded', 'stale')).toBe(false)
      expect((await repo.credentials('R1'))!.hash).toBe(after)
    })

    it('records and revokes certificate serials; a revocation outlives its station', async () => {
      const repo = await fresh()
      await repo.addStation({ id: 'C1', name: 'c', lat: 9, lon: 105 })
      await repo.addStation({ id: 'C2', name: 'c', lat: 9, lon: 105 })
      const notAfter = new Date('2030-01-01T00:00:00Z')
      await repo.recordCert({ serial: 'AA01', stationId: 'C1', fingerprint256: 'fp1', notAfter }, 10)
      await repo.recordCert({ serial: 'AA02', stationId: 'C1', fingerprint256: 'fp2', notAfter }, 20)
      await repo.recordCert({ serial: 'BB01', stationId: 'C2', fingerprint256: 'fp3', notAfter }, 30)
      expect(await code(repo.revokeCerts('C1', 'BB01'))).toBe('BAD_REQUEST')
      expect(await repo.revokeCerts('C1', 'aa:01', 'key lost', 40)).toEqual(['AA01'])
      expect(await repo.revokeCerts('C1', 'AA01')).toEqual([])
      expect(await repo.revokeCerts('C1')).toEqual(['AA02'])
      expect(await repo.certRevoked('AA01')).toBe(true)
      expect(await repo.certRevoked('BB01')).toBe(false)
      const certs = await repo.listCerts('C1')
      expect(certs.map((c) => [c.serial, c.revokedAt !== null, c.notAfter])).toEqual([
        ['AA01', true, notAfter.getTime()],
        ['AA02', true, notAfter.getTime()],
      ])
      await repo.removeStation('C1')
      expect(await repo.revokedSerials()).toEqual(['AA01', 'AA02'])
    })

    it('creates, verifies, lists and revokes API tokens', async () => {
      const repo = await fresh()
      const { token, info } = await repo.createToken('  grafana  ', 'read', 5)
      expect(info).toMatchObject({ name: 'grafana', role: 'read', createdAt: 5, revokedAt: null })
      expect(token.startsWith(info.prefix)).toBe(true)
      expect(await repo.verifyToken(token, 6)).toEqual({ kind: 'token', id: info.id, name: 'grafana', role: 'read' })
      expect(await repo.verifyToken('tw_wrong')).toBeUndefined()
      expect(await repo.verifyToken('')).toBeUndefined()
      expect((await repo.listTokens())[0]).toMatchObject({ id: info.id, lastUsedAt: 6 })
      expect((await repo.tokenRecord(info.id))?.hash).toBe(tokenHash(token))
      expect(await code(repo.createToken('x', 'root' as never))).toBe('BAD_REQUEST')
      expect(await code(repo.createToken('   ', 'admin'))).toBe('BAD_REQUEST')
      await repo.revokeToken(info.id, 7)
      expect(await repo.verifyToken(token)).toBeUndefined()
      expect(await code(repo.revokeToken(info.id))).toBe('NOT_FOUND')
      expect(await code(repo.revokeToken(9_999))).toBe('NOT_FOUND')
      expect((await repo.listTokenRecords())[0]).toMatchObject({ id: info.id, revokedAt: 7 })
    })

    it('stores alert rules per station, zone and default, validated as levels/book.ts does', async () => {
      const repo = await fresh()
      const stored = await repo.setRule('SD-01', 'water_level', BD_RULE, 1)
      expect(stored.levels[0]).toMatchObject({ name: 'bd1', threshold: 65, pendingReadings: 2 })
      await repo.setRule('zone:rice', 'salinity', { levels: [{ name: 'warning', severity: 'warning', direction: 'above', threshold: 2 }] }, 2)
      await repo.setRule('default', 'ph', { levels: [{ name: 'ph_low', severity: 'warning', direction: 'below', threshold: 7 }] }, 3)
      expect(Object.keys(await repo.rules('SD-01'))).toEqual(['water_level'])
      expect((await repo.rules('zone:rice')).salinity!.levels[0]!.threshold).toBe(2)
      expect((await repo.listRules()).map((r) => `${r.scope}/${r.sensor}`)).toEqual(['SD-01/water_level', 'default/ph', 'zone:rice/salinity'])
      expect(await code(repo.setRule('SD-01', 'plutonium', BD_RULE))).toBe('ALERT_RULE_INVALID')
      expect(await code(repo.setRule('zone:desert', 'salinity', BD_RULE))).toBe('ALERT_RULE_INVALID')
      expect(await code(repo.setRule('SD-01', 'salinity', { levels: [{ name: 'x', severity: 'loud' }] }))).toBe('ALERT_RULE_INVALID')
      const twice = { levels: [BD_RULE.levels[0], BD_RULE.levels[0]] }
      expect(await code(repo.setRule('SD-01', 'salinity', twice))).toBe('ALERT_RULE_INVALID')
      expect(await repo.deleteRule('SD-01', 'water_level')).toBe(true)
      expect(await repo.deleteRule('SD-01', 'water_level')).toBe(false)
      expect(await repo.rules('SD-01')).toEqual({})
    })

    it('stores SMS subscribers with the codes of alerts/subscribers.ts: SUBSCRIBER_INVALID, SUBSCRIBER_EXISTS, SUBSCRIBER_NOT_FOUND', async () => {
      const repo = await fresh()
      const nam = await repo.createSubscriber({ name: 'Bác Năm', phone: '0913 000 111', stations: ['SD-01'], communes: ['Khánh Hải'] }, 5_000)
      expect(nam).toEqual({
        id: nam.id, kind: 'farmer', name: 'Bác Năm', phone: '+84913000111', email: null, webhook: null, lang: 'vi', diacritics: false,
        stations: ['SD-01'], communes: ['Khánh Hải'], active: true, createdAt: 5_000, updatedAt: 5_000,
      })
      const staff = await repo.createSubscriber({ kind: 'staff', email: 'tram@example.vn' }, 5_001)
      expect(staff.id).toBeGreaterThan(nam.id)
      expect(await repo.getSubscriber(nam.id)).toEqual(nam)
      expect((await repo.listSubscribers()).map((s) => s.id)).toEqual([nam.id, staff.id])
      // The same number in another spelling is the same farmer.
      expect(await code(repo.createSubscriber({ phone: '+84913000111' }))).toBe('SUBSCRIBER_EXISTS')
      expect(await code(repo.createSubscriber({ phone: '12345' }))).toBe('SUBSCRIBER_INVALID')
      expect(await code(repo.createSubscriber({ kind: 'farmer', email: 'x@example.vn' }))).toBe('SUBSCRIBER_INVALID')
      expect(await code(repo.createSubscriber({ phone: '0913000222', lang: 'fr' as never }))).toBe('SUBSCRIBER_INVALID')

      const paused = await repo.updateSubscriber(nam.id, { active: false, diacritics: true }, 6_000)
      expect(paused).toMatchObject({ id: nam.id, name: 'Bác Năm', phone: '+84913000111', active: false, diacritics: true, createdAt: 5_000, updatedAt: 6_000 })
      const ba = await repo.createSubscriber({ phone: '0913000222' })
      expect(await code(repo.updateSubscriber(ba.id, { phone: '0913000111' }))).toBe('SUBSCRIBER_EXISTS')
      expect(await code(repo.updateSubscriber(ba.id, { phone: 'none' }))).toBe('SUBSCRIBER_INVALID')
      expect((await repo.getSubscriber(ba.id))!.phone).toBe('+84913000222')
      expect(await code(repo.updateSubscriber(999_999, { name: 'ghost' }))).toBe('SUBSCRIBER_NOT_FOUND')

      await repo.removeSubscriber(nam.id)
      expect(await repo.getSubscriber(nam.id)).toBeUndefined()
      expect(await code(repo.removeSubscriber(nam.id))).toBe('SUBSCRIBER_NOT_FOUND')
      // The phone is free again once its subscriber is gone.
      expect((await repo.createSubscriber({ phone: '0913000111' })).id).not.toBe(nam.id)
    })

    it('announces every kind of change on the feed', async () => {
      const repo = await fresh()
      const seen: MetadataChange[] = []
      const unwatch = repo.watch((c) => seen.push(c))
      await repo.addStation({ id: 'W1', name: 'w', lat: 9, lon: 105 })
      await repo.rotate('W1')
      const { info } = await repo.createToken('t', 'staff')
      await repo.recordCert({ serial: 'CC01', stationId: 'W1', fingerprint256: 'fp', notAfter: new Date() })
      await repo.revokeCerts('W1', 'CC01')
      await repo.setRule('zone:rice', 'salinity', BD_RULE)
      await repo.setEnabled('W1', false)
      const sub = await repo.createSubscriber({ phone: '0913000333', stations: ['W1'] })
      const has = (kind: string, id: string): boolean => seen.some((c) => c.kind === kind && 'id' in c && c.id === id)
      const expected: Array<[string, string]> = [['station', 'W1'], ['secret', 'W1'], ['token', String(info.id)], ['cert', 'CC01'], ['rule', 'zone:rice'], ['subscriber', String(sub.id)]]
      expect(await eventually(() => expected.every(([k, id]) => has(k, id)), 5_000)).toBe(true)
      unwatch()
    })

    it('keeps a node-local replica in step, answering synchronously', async () => {
      const repo = await fresh()
      const creds = await repo.addStation({ id: 'N1', name: 'n', lat: 9, lon: 105, sensors: [{ kind: 'salinity', offset: 0.5, scale: 1 }] })
      const { token } = await repo.createToken('api', 'staff')
      const replica = await MetadataReplica.start(repo, { bootstrapToken: 'boot-secret' })
      try {
        expect(await verifyPassword(creds.password, replica.credentials('N1')!.hash)).toBe(true)
        expect(replica.context('N1')).toEqual({ id: 'N1', enabled: true, calibration: { salinity: { offset: 0.5, scale: 1 } } })
        expect(replica.verifyToken(token)).toMatchObject({ kind: 'token', name: 'api', role: 'staff' })
        expect(replica.verifyToken('boot-secret')).toMatchObject({ kind: 'bootstrap', role: 'admin' })
        expect(replica.zoneOf('N1')).toBe('rice')

        await repo.setEnabled('N1', false)
        await repo.addStation({ id: 'N2', name: 'n2', lat: 9, lon: 105, zone: 'brackish_aquaculture' })
        await repo.recordCert({ serial: 'DD01', stationId: 'N1', fingerprint256: 'fp', notAfter: new Date() })
        await repo.revokeCerts('N1')
        await repo.revokeToken((await repo.listTokens())[0]!.id)
        await repo.setRule('N1', 'salinity', BD_RULE)
        expect(
          await eventually(
            () =>
              replica.credentials('N1')?.enabled === false &&
              replica.context('N1')?.enabled === false &&
              replica.zoneOf('N2') === 'brackish_aquaculture' &&
              replica.certRevoked('DD01') &&
              replica.verifyToken(token) === undefined &&
              replica.rule('N1', 'salinity')?.levels[0]?.name === 'bd1',
            5_000,
          ),
        ).toBe(true)

        // Token use is written back in batches, never moving a time back.
        const { token: used, info: usedInfo } = await repo.createToken('board', 'read')
        expect(await eventually(() => replica.verifyToken(used, 500), 5_000)).toBeTruthy()
        replica.verifyToken(used, 400)
        await replica.flushTokenUse()
        await repo.touchTokens(new Map([[usedInfo.id, 300]]))
        expect((await repo.tokenRecord(usedInfo.id))?.lastUsedAt).toBe(500)

        // The replica's compare-and-set reaches the repository.
        const hash = replica.credentials('N1')!.hash
        expect(replica.upgradeHash('N1', 'stale', 'x')).toBe(false)
        expect(replica.upgradeHash('N1', hash, 'migrated')).toBe(true)
        expect(await eventually(async () => (await repo.credentials('N1'))?.hash === 'migrated', 5_000)).toBe(true)

        await repo.removeStation('N2')
        expect(await eventually(() => replica.credentials('N2') === undefined && replica.context('N2') === undefined, 5_000)).toBe(true)
      } finally {
        replica.stop()
      }
    })

    it('records last-seen times and clock offsets through a replica, batched, newest wins, bounded', async () => {
      const repo = await fresh()
      await repo.addStation({ id: 'S1', name: 's1', lat: 9, lon: 105 })
      await repo.addStation({ id: 'S2', name: 's2', lat: 9, lon: 105 })
      const changes: MetadataChange[] = []
      const unwatch = repo.watch((c) => changes.push(c))
      const replica = await MetadataReplica.start(repo, { maxPending: 2 })
      try {
        // The feed delivers in commit order: once this rule's change is here, the stations' are too.
        await repo.setRule('default', 'salinity', BD_RULE)
        expect(await eventually(() => changes.some((c) => c.kind === 'rule'), 5_000)).toBe(true)
        await replica.idle()
        changes.length = 0
        const reloads = replica.counters.reloads
        // touchMany returns at once: the write happens in the background.
        replica.touchMany(new Map([['S1', { lastSeenAt: 2_000, clockOffsetMs: 1_260 }]]))
        replica.touchMany(new Map([['S2', { lastSeenAt: 3_000 }], ['nope', { lastSeenAt: 3_000 }]]))
        // Past maxPending stations waiting, a sighting is dropped and counted, never queued without bound.
        replica.touchMany(new Map([['S3', { lastSeenAt: 3_000 }], ['S4', { lastSeenAt: 3_000 }], ['S5', { lastSeenAt: 3_000 }]]))
        await replica.flushSightings()
        expect(replica.counters.sightingsDropped).toBeGreaterThan(0)
        expect(await repo.getStation('S1')).toMatchObject({ lastSeenAt: 2_000, clockOffsetSec: 1.3, clockCheckedAt: 2_000 })
        expect((await repo.getStation('S2'))?.lastSeenAt).toBe(3_000)
        // A late sighting from another edge does not move the time back.
        await repo.touchStations(new Map([['S1', { lastSeenAt: 1_000 }]]))
        expect((await repo.getStation('S1'))?.lastSeenAt).toBe(2_000)
        // Bookkeeping announces nothing: no replica reloads or re-reads for it.
        await replica.idle()
        expect(changes).toEqual([])
        expect(replica.counters.reloads).toBe(reloads)
      } finally {
        unwatch()
        replica.stop()
      }
    })
  })
}
