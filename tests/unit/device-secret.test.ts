/**
 * Issue 13, "Reconnect storms in seconds": station secrets are stored with a
 * fast salted hash (HMAC-SHA-256); a legacy scrypt hash still logs in and is
 * replaced by the fast hash at that login; a wrong secret is refused either
 * way. The broker part runs the real Aedes broker (no InfluxDB: broker only)
 * and a real MQTT.js client. No timing is asserted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import mqtt from 'mqtt'
import { Registry } from '../../devices/registry.ts'
import { createPasswordVerifier, dummyHash, hashDeviceSecret, hashPassword, hashScheme, needsRehash, verifyDeviceSecret, verifyPassword } from '../../core/password.ts'
import { eventually, startTestPlatform, tempDir, type TestPlatform } from '../helpers/platform.ts'

describe('device secret hashes', () => {
  it('new station secrets get the fast salted hash; scrypt stays for chosen passwords', async () => {
    const a = hashDeviceSecret('s3cret-token')
    const b = hashDeviceSecret('s3cret-token')
    expect(hashScheme(a)).toBe('hmac-sha256')
    expect(a).not.toBe(b) // per-secret salt
    expect(verifyDeviceSecret('s3cret-token', a)).toBe(true)
    expect(verifyDeviceSecret('s3cret-tokeN', a)).toBe(false)
    expect(await verifyPassword('s3cret-token', b)).toBe(true)
    expect(needsRehash(a)).toBe(false)
    const slow = await hashPassword('chosen by a person')
    expect(hashScheme(slow)).toBe('scrypt')
    expect(needsRehash(slow)).toBe(true)
    expect(await verifyPassword('chosen by a person', slow)).toBe(true)
    expect(await verifyPassword('chosen by a person', 'garbage$x$y')).toBe(false)
    expect(hashScheme(await dummyHash())).toBe('hmac-sha256')
  })

  it('the verifier checks fast hashes without its worker and scrypt hashes on it', async () => {
    const v = createPasswordVerifier({ maxQueue: 1 })
    try {
      const fast = hashDeviceSecret('abc')
      const slow = await hashPassword('abc')
      // maxQueue 1 and two checks in flight: the fast one is never queued.
      const [s, f] = await Promise.all([v.verify('abc', slow), v.verify('abc', fast)])
      expect([s, f]).toEqual([true, true])
      expect(await v.verify('abd', fast)).toBe(false)
    } finally {
      await v.close()
    }
  })

  it('Registry.authenticate migrates a legacy hash at a good login, never at a wrong one', async () => {
    const registry = new Registry((await import('../../core/sqlite.ts')).openDatabase(':memory:'))
    try {
      const creds = await registry.add({ id: 'cm-legacy-r', name: 'r', lat: 9, lon: 105 })
      expect(hashScheme(registry.credentials('cm-legacy-r')!.hash)).toBe('hmac-sha256')
      const legacy = await hashPassword(creds.password)
      registry.db.prepare('UPDATE stations SET password_hash = ? WHERE id = ?').run(legacy, 'cm-legacy-r')
      expect(await registry.authenticate('cm-legacy-r', 'wrong-secret')).toBe('bad_credentials')
      expect(registry.credentials('cm-legacy-r')!.hash).toBe(legacy)
      expect(await registry.authenticate('cm-legacy-r', creds.password)).toBe('ok')
      const migrated = registry.credentials('cm-legacy-r')!.hash
      expect(hashScheme(migrated)).toBe('hmac-sha256')
      expect(await registry.authenticate('cm-legacy-r', creds.password)).toBe('ok')
      expect(await registry.authenticate('cm-legacy-r', 'wrong-secret')).toBe('bad_credentials')
      // Compare-and-set: an upgrade racing a rotation loses.
      expect(registry.upgradeHash('cm-legacy-r', legacy, hashDeviceSecret('x'))).toBe(false)
    } finally {
      registry.close()
    }
  })
})

describe('real broker: a legacy scrypt hash logs in and is migrated', () => {
  let tmp: ReturnType<typeof tempDir>
  let tp: TestPlatform
  beforeAll(async () => {
    tmp = tempDir()
    tp = await startTestPlatform({ dir: tmp.dir, parts: { broker: true } })
  })
  afterAll(async () => {
    await tp?.stop()
    tmp?.cleanup()
  })

  const connack = (username: string, password: string): Promise<number> =>
    new Promise((resolve) => {
      const c = mqtt.connect(tp.mqttUrl, { username, password, clientId: `station-${username}`, protocolVersion: 4, reconnectPeriod: 0 })
      c.once('connect', () => (c.end(true), resolve(0)))
      c.once('error', (err) => (c.end(true), resolve((err as { code?: number }).code ?? -1)))
    })

  it('wrong secret refused (CONNACK 4) and hash kept; right secret accepted and hash now hmac-sha256; wrong still refused', async () => {
    const reg = tp.platform.registry
    const creds = await reg.add({ id: 'cm-legacy-b', name: 'b', lat: 9, lon: 105 })
    const legacy = await hashPassword(creds.password)
    reg.db.prepare('UPDATE stations SET password_hash = ? WHERE id = ?').run(legacy, 'cm-legacy-b')

    expect(await connack('cm-legacy-b', 'not-the-secret')).toBe(4)
    expect(reg.credentials('cm-legacy-b')!.hash).toBe(legacy)

    expect(await connack('cm-legacy-b', creds.password)).toBe(0)
    const migrated = await eventually(() => (hashScheme(reg.credentials('cm-legacy-b')!.hash) === 'hmac-sha256' ? reg.credentials('cm-legacy-b')!.hash : undefined))
    expect(migrated && verifyDeviceSecret(creds.password, migrated)).toBe(true)

    // Both against the migrated hash now: the right secret still works, a wrong one does not.
    expect(await connack('cm-legacy-b', creds.password)).toBe(0)
    expect(await connack('cm-legacy-b', 'still-not-the-secret')).toBe(4)
    expect(await connack('cm-nobody-here', 'whatever')).toBe(4)
  })
})
