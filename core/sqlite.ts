import Database from 'better-sqlite3'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'

/**
 * SQLite for every component's tables in the registry database (and the
 * quarantine's own file): how a file is opened, and each component's
 * migrations, tracked per component in one version table.
 */
export function openDatabase(file: string): Database.Database {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true })
  const db = new Database(file)
  // First: switching a new file to WAL takes a write lock, and two processes
  // opening it together (the CLI while `tidewatch up` starts) would otherwise
  // fail at once with "database is locked" instead of waiting.
  db.pragma('busy_timeout = 5000')
  // WAL lets the CLI edit the registry while a running broker reads it.
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.pragma('foreign_keys = ON')
  return db
}

/** Runs the migrations of one component, tracked in its own version table row. */
export function migrate(db: Database.Database, component: string, migrations: readonly string[]): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL)')
  const versionOf = db.prepare('SELECT version FROM schema_versions WHERE component = ?')
  const current = (): number => (versionOf.get(component) as { version: number } | undefined)?.version ?? 0
  if (current() >= migrations.length) return
  // Read the version again under the write lock (BEGIN IMMEDIATE): two processes
  // opening a new database together must not both apply the same migration.
  db.transaction(() => {
    const from = current()
    for (let v = from; v < migrations.length; v++) db.exec(migrations[v]!)
    if (from < migrations.length) {
      db.prepare('INSERT INTO schema_versions (component, version) VALUES (?, ?) ON CONFLICT(component) DO UPDATE SET version = excluded.version').run(component, migrations.length)
    }
  }).immediate()
}

/** One condition of a WHERE clause and its parameters, e.g. `['station = ?', id]`. */
export type Condition = readonly [sql: string, ...params: unknown[]]

/**
 * The WHERE clause of the conditions that apply, joined with AND, and their
 * parameters in order: `''` and no parameters when none applies. A filter
 * that is not set is passed as a falsy value (`q.station && ['station = ?', q.station]`),
 * so each list query states its filters once, in one line each.
 */
export function whereAll(conditions: ReadonlyArray<Condition | false | 0 | '' | null | undefined>): { sql: string; params: unknown[] } {
  const parts: string[] = []
  const params: unknown[] = []
  for (const c of conditions) {
    if (!c) continue
    parts.push(c[0])
    params.push(...c.slice(1))
  }
  return { sql: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params }
}
