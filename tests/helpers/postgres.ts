/**
 * A real PostgreSQL 15 (cluster/local/postgres.ts) for one test file, and a
 * fresh database on it per test, so each test starts empty and runs the
 * migrations itself.
 */
import pg from 'pg'
import { startLocalPostgres, type LocalPostgres } from '../../cluster/local/postgres.ts'

let databases = 0

/** Creates an empty database on `server` and returns its URL. */
export async function freshDatabase(server: LocalPostgres): Promise<string> {
  const name = `t${process.pid}_${++databases}`
  const admin = new pg.Client({ connectionString: server.url })
  await admin.connect()
  try {
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`)
  } finally {
    await admin.end()
  }
  const url = new URL(server.url)
  url.pathname = `/${name}`
  return url.toString()
}

export { startLocalPostgres, type LocalPostgres }
