import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Client } from 'aedes'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createAuthenticate } from '../../broker/hooks/authenticate.ts'
import { Identities } from '../../broker/identity.ts'
import { newBrokerCounters } from '../../broker/metrics.ts'
import { registryEntitlement } from '../../broker/session-guard.ts'
import { silentLogger } from '../../core/log.ts'
import { createPasswordVerifier, dummyHash, hashPassword, type PasswordVerifier } from '../../core/password.ts'
import { createSecurityLog } from '../../core/security-log.ts'
import { Registry } from '../../devices/registry.ts'

/**
 * A station whose stored hash is still a legacy scrypt one migrates it at its
 * first login (issue 13). Its live session must not then be cut as
 * "credentials rotated" when the stored hash moves for any reason other than
 * a rotation: a second login of the same secret winning the migration (a
 * station retrying while its CONNECT waited for scrypt), or the legacy hash
 * written back over the new one (the cluster mirror copying PostgreSQL's row,
 * a replica's read in flight). A real rotation must still cut it. Real
 * Registry (SQLite), the broker's real authenticate hook and scrypt worker;
 * the aedes clients are plain objects (no broker needed to call the hook).
 */
describe('session guard and the scrypt → HMAC migration', () => {
  let dir: string
  let registry: Registry
  let verifier: PasswordVerifier
  let secret: string
  let legacy: string
  const identities = new Identities()

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tw-mig-'))
    registry = Registry.open(join(dir, 'registry.sqlite'))
    secret = (await registry.add({ id: 'cm-mig-01', name: 'mig', lat: 9.1, lon: 105.1 })).password
    legacy = await hashPassword(secret)
    registry.db.prepare('UPDATE stations SET password_hash = ? WHERE id = ?').run(legacy, 'cm-mig-01')
    verifier = createPasswordVerifier()
  })
  afterEach(async () => {
    await verifier.close()
    registry.close()
    rmSync(dir, { recursive: true, force: true })
  })

  function connectTwiceAtOnce(): Promise<Client[]> {
    const auth = createAuthenticate({
      stations: registry,
      services: [],
      identities,
      counters: newBrokerCounters(),
      log: silentLogger,
      security: createSecurityLog(silentLogger),
      verifier,
      dummyHash: dummyHash(),
      limits: { perAddressBurst: 100, perAddressPerSec: 100, perStationBurst: 100, perStationPerSec: 100, stationLockoutAfter: 10, addressLockoutAfter: 10, lockoutBaseSec: 1, lockoutMaxSec: 2, maxTrackedKeys: 100, verifiedCacheSize: 100, exemptAddresses: [] },
    })
    const clients = [1, 2].map((n) => ({ id: 'station-cm-mig-01', conn: { remoteAddress: `10.0.0.${n}` } }) as unknown as Client)
    return Promise.all(
      clients.map(
        (c) =>
          new Promise<Client>((resolve, reject) =>
            auth.authenticate(c, 'cm-mig-01', Buffer.from(secret), (err, ok) => (err || !ok ? reject(err ?? new Error('refused')) : resolve(c))),
          ),
      ),
    )
  }

  const verdicts = (clients: Client[]): string[] =>
    clients.map((c) => {
      const identity = identities.get(c)
      if (identity?.kind !== 'station') throw new Error('no station identity')
      return registryEntitlement(registry).check({ stationId: identity.stationId, credential: identity.credential })
    })

  it('two logins racing on the legacy hash both stay entitled', async () => {
    const clients = await connectTwiceAtOnce()
    expect(registry.db.prepare('SELECT password_hash FROM stations WHERE id = ?').pluck().get('cm-mig-01')).toMatch(/^hmac-sha256\$/)
    expect(verdicts(clients)).toEqual(['ok', 'ok'])
  })

  it('the legacy hash written back over the migrated one (another connection, as the cluster mirror) is not a rotation', async () => {
    const clients = await connectTwiceAtOnce()
    const mirror = Registry.open(join(dir, 'registry.sqlite'))
    mirror.db.prepare('UPDATE stations SET password_hash = ? WHERE id = ?').run(legacy, 'cm-mig-01')
    mirror.close()
    expect(verdicts(clients)).toEqual(['ok', 'ok'])
  })

  it('a rotation still ends both sessions', async () => {
    const clients = await connectTwiceAtOnce()
    await registry.rotate('cm-mig-01')
    expect(verdicts(clients)).toEqual(['credentials_rotated', 'credentials_rotated'])
  })
})
