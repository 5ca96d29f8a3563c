/**
 * The cluster section's URLs are checked when the configuration is loaded
 * (core/cluster-config.ts), naming the key and where the value came from,
 * like every other bad value: `cluster.postgres.url = notaurl` was accepted
 * and failed only when pg connected (ENOTFOUND base), a NATS server without
 * its scheme only when the client dialed it.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { tempDir } from '../helpers/platform.ts'
import { loadConfig } from '../../core/config.ts'
import { runInProcess } from './run.ts'

const tmp = tempDir('tidewatch-cluster-config-')
afterAll(() => tmp.cleanup())
const env = { TIDEWATCH_DATA_DIR: join(tmp.dir, 'data') }

function configFile(cluster: unknown): string {
  const file = join(tmp.dir, 'tidewatch.json')
  writeFileSync(file, JSON.stringify({ cluster }))
  return file
}

describe('cluster URLs in the configuration', () => {
  it('refuses a PostgreSQL URL that is not one, naming the key and the file or variable', () => {
    for (const url of ['notaurl', 'localhost:5432', 'http://127.0.0.1:5432/tidewatch', '']) {
      const file = configFile({ postgres: { url } })
      expect(() => loadConfig({ file, env: {} }), url).toThrow(`Invalid config: cluster.postgres.url: must be a postgres:// or postgresql:// URL, e.g. postgres://tidewatch@10.0.0.5:5432/tidewatch (${file})`)
    }
    expect(() => loadConfig({ env: { TIDEWATCH_POSTGRES_URL: 'notaurl' } })).toThrow(/^Invalid config: cluster\.postgres\.url: must be a postgres:\/\/ .*\(TIDEWATCH_POSTGRES_URL\)$/)
  })

  it('takes postgres:// and postgresql:// URLs, with a host or without one (libpq default, socket directory)', () => {
    for (const url of ['postgres://tidewatch@127.0.0.1:5432/tidewatch', 'postgresql://tw:secret@db.example:5433/tidewatch?sslmode=require', 'postgres:///tidewatch?host=/run/postgresql']) {
      expect(loadConfig({ env: { TIDEWATCH_POSTGRES_URL: url } }).cluster.postgres.url, url).toBe(url)
    }
  })

  it('refuses a NATS server that is not a nats:// or tls:// URL, naming the item and the file or variable', () => {
    const file = configFile({ nats: { servers: ['nats://127.0.0.1:4222', 'localhost:4222'] } })
    expect(() => loadConfig({ file, env: {} })).toThrow(`Invalid config: cluster.nats.servers.1: must be a nats:// or tls:// URL, e.g. nats://10.0.0.1:4222 (${file})`)
    expect(() => loadConfig({ env: { TIDEWATCH_NATS_SERVERS: 'nats://127.0.0.1:4222,notaurl' } })).toThrow(/^Invalid config: cluster\.nats\.servers\.1: .*\(TIDEWATCH_NATS_SERVERS\)$/)
    expect(loadConfig({ env: { TIDEWATCH_NATS_SERVERS: 'nats://10.0.0.1:4222, tls://nats.example:4222' } }).cluster.nats.servers).toEqual(['nats://10.0.0.1:4222', 'tls://nats.example:4222'])
  })

  it('the CLI answers a bad cluster URL with one CONFIG_INVALID line and exit 2, before connecting to anything', async () => {
    const r = await runInProcess(['devices', 'list'], { ...env, TIDEWATCH_POSTGRES_URL: 'notaurl' })
    expect(r.code).toBe(2)
    expect(r.out).toBe('')
    expect(r.err).toBe('tidewatch: CONFIG_INVALID: Invalid config: cluster.postgres.url: must be a postgres:// or postgresql:// URL, e.g. postgres://tidewatch@10.0.0.5:5432/tidewatch (TIDEWATCH_POSTGRES_URL)\n')
  })
})
