/**
 * `tidewatch devices …` and `tidewatch tokens …` in cluster mode (issue 16):
 * with TIDEWATCH_POSTGRES_URL set, the real CLI (bin/tidewatch.js, a child
 * process) writes the shared PostgreSQL metadata, and a MetadataReplica on
 * the same database (what every edge and API node reads) sees each change.
 * A real PostgreSQL 15 on a loopback port; nothing is faked.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PostgresMetadataRepository } from '../../cluster/metadata/postgres.ts'
import { MetadataReplica } from '../../cluster/metadata/replica.ts'
import { freePort } from '../../core/free-port.ts'
import { verifyPassword } from '../../core/password.ts'
import { runCli, type CliRun } from '../cli/run.ts'
import { eventually } from '../helpers/platform.ts'
import { freshDatabase, startLocalPostgres, type LocalPostgres } from '../helpers/postgres.ts'

let server: LocalPostgres
let repo: PostgresMetadataRepository
let replica: MetadataReplica
let url: string
let dataDir: string

beforeAll(async () => {
  server = await startLocalPostgres()
  url = await freshDatabase(server)
  repo = await PostgresMetadataRepository.open({ url, poolMax: 2 })
  replica = await MetadataReplica.start(repo)
  dataDir = mkdtempSync(join(tmpdir(), 'tidewatch-cli-pg-'))
}, 60_000)
afterAll(async () => {
  replica?.stop()
  await repo?.close()
  await server?.stop()
  if (dataDir) rmSync(dataDir, { recursive: true, force: true })
})

/** The CLI in cluster mode: PostgreSQL named by the environment, a data dir of its own. */
const cluster = (...args: string[]): Promise<CliRun> => runCli(args, { TIDEWATCH_POSTGRES_URL: url, TIDEWATCH_DATA_DIR: dataDir })

/** The one line the CLI prints for a failed command, and its code. */
function oneLineError(run: CliRun): string {
  const lines = run.err.trim().split('\n')
  expect(lines).toHaveLength(1)
  return lines[0]!
}

const ADD_CM01 = ['devices', 'add', 'cm-01', '--name', 'Cống Cái Tàu', '--lat', '9.18', '--lon', '105.15', '--code', 'CT01', '--json']

describe('tidewatch devices in cluster mode', () => {
  let password = ''

  it('add registers the station in PostgreSQL; a replica sees it and accepts its password', async () => {
    const run = await cluster(...ADD_CM01)
    expect(run.err).toBe('')
    expect(run.code).toBe(0)
    const creds = JSON.parse(run.out) as { id: string; username: string; password: string }
    expect(creds.id).toBe('cm-01')
    password = creds.password
    const seen = await eventually(() => replica.station('cm-01'))
    expect(seen).toMatchObject({ name: 'Cống Cái Tàu', code: 'CT01', enabled: true })
    expect(await verifyPassword(password, replica.credentials('cm-01')!.hash)).toBe(true)
    // Nothing went to the node's own SQLite registry.
    expect(existsSync(join(dataDir, 'registry.db'))).toBe(false)
  })

  it('list shows it, with the same columns as without PostgreSQL', async () => {
    const run = await cluster('devices', 'list')
    expect(run.code).toBe(0)
    const [header, row] = run.out.trim().split('\n')
    const sqliteDir = mkdtempSync(join(tmpdir(), 'tidewatch-cli-sqlite-'))
    try {
      const sqlite = await runCli(['devices', 'list'], { TIDEWATCH_DATA_DIR: sqliteDir })
      expect(sqlite.code).toBe(0)
      expect(sqlite.out.trim().split('\n')[0]).toBe(header)
    } finally {
      rmSync(sqliteDir, { recursive: true, force: true })
    }
    expect(row).toMatch(/^cm-01\s+CT01\s+Cống Cái Tàu\s+rice\s+9\.18\s+105\.15\s+\S+\s+yes\s/)
  })

  it('set stores alarm levels as a rule and prints the station with them', async () => {
    const run = await cluster('devices', 'set', 'cm-01', '--bd', '75,85,95', '--zone', 'rice_shrimp')
    expect(run.code).toBe(0)
    expect(JSON.parse(run.out)).toMatchObject({ id: 'cm-01', zone: 'rice_shrimp', alarmLevels: { bd1: 75, bd2: 85, bd3: 95 } })
    await eventually(() => replica.station('cm-01')?.zone === 'rice_shrimp' && replica.rule('cm-01', 'water_level') !== undefined)
  })

  it('disable and enable reach the replica', async () => {
    const off = await cluster('devices', 'disable', 'cm-01')
    expect(off.code).toBe(0)
    expect(off.out.trim()).toBe('Station cm-01 disabled.')
    await eventually(() => replica.station('cm-01')?.enabled === false)
    expect((await cluster('devices', 'enable', 'cm-01')).code).toBe(0)
    await eventually(() => replica.station('cm-01')?.enabled === true)
  })

  it('rotate issues a new secret; the replica stops accepting the old one', async () => {
    const run = await cluster('devices', 'rotate', 'cm-01', '--json')
    expect(run.code).toBe(0)
    const fresh = (JSON.parse(run.out) as { password: string }).password
    expect(fresh).not.toBe(password)
    await eventually(async () => verifyPassword(fresh, replica.credentials('cm-01')!.hash))
    expect(await verifyPassword(password, replica.credentials('cm-01')!.hash)).toBe(false)
  })

  it('import registers every row of a CSV file', async () => {
    const file = join(dataDir, 'stations.csv')
    writeFileSync(file, 'id,name,lat,lon,code\ncm-02,Rạch Gốc,8.66,105.0,RG02\ncm-03,Sông Đốc,9.04,104.83,\n')
    const run = await cluster('devices', 'import', file)
    expect(run.code).toBe(0)
    expect(run.out.trim().split('\n')).toEqual(['id,username,password', expect.stringMatching(/^cm-02,cm-02,\S+$/), expect.stringMatching(/^cm-03,cm-03,\S+$/)])
    await eventually(() => replica.station('cm-02') !== undefined && replica.station('cm-03') !== undefined)
  })

  it('a duplicate id is one line with STATION_EXISTS and exit 1', async () => {
    const run = await cluster(...ADD_CM01)
    expect(run.code).toBe(1)
    expect(oneLineError(run)).toMatch(/^tidewatch: STATION_EXISTS: /)
    expect(run.out).toBe('')
  })

  it('an unknown station is STATION_NOT_FOUND', async () => {
    const run = await cluster('devices', 'disable', 'cm-99')
    expect(run.code).toBe(1)
    expect(oneLineError(run)).toMatch(/^tidewatch: STATION_NOT_FOUND: .*cm-99/)
  })

  it('certificates are refused with CLUSTER_MODE_UNSUPPORTED (they live in the node registry only)', async () => {
    const run = await cluster('devices', 'revoke-cert', 'cm-01')
    expect(run.code).toBe(1)
    expect(oneLineError(run)).toMatch(/^tidewatch: CLUSTER_MODE_UNSUPPORTED: /)
  })
})

describe('tidewatch tokens in cluster mode', () => {
  it('create, list and revoke go through PostgreSQL; the replica follows', async () => {
    const created = await cluster('tokens', 'create', '--name', 'grafana', '--role', 'read', '--json')
    expect(created.code).toBe(0)
    const { id, token } = JSON.parse(created.out) as { id: number; token: string }
    expect(await eventually(() => replica.verifyToken(token))).toMatchObject({ role: 'read' })

    const list = await cluster('tokens', 'list')
    expect(list.code).toBe(0)
    expect(list.out.trim().split('\n')[0]).toMatch(/^ID\s+NAME\s+ROLE\s+PREFIX\s+CREATED\s+LAST USED\s+REVOKED$/)
    expect(list.out).toMatch(new RegExp(`^${id}\\s+grafana\\s+read\\s`, 'm'))

    const revoked = await cluster('tokens', 'revoke', String(id))
    expect(revoked.code).toBe(0)
    expect(revoked.out.trim()).toBe(`Token ${id} revoked; it stops working at once.`)
    await eventually(() => replica.verifyToken(token) === undefined)

    const again = await cluster('tokens', 'revoke', String(id))
    expect(again.code).toBe(1)
    expect(oneLineError(again)).toMatch(/^tidewatch: NOT_FOUND: /)
  })
})

describe('PostgreSQL unreachable', () => {
  it('is one line with POSTGRES_UNAVAILABLE and exit 3', async () => {
    // A loopback port nobody listens on.
    const port = await freePort()
    const run = await runCli(['devices', 'list'], { TIDEWATCH_POSTGRES_URL: `postgres://tidewatch@127.0.0.1:${port}/tidewatch`, TIDEWATCH_DATA_DIR: dataDir })
    expect(run.code).toBe(3)
    expect(oneLineError(run)).toMatch(/^tidewatch: POSTGRES_UNAVAILABLE: /)
  })
})
