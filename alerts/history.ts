import type Database from 'better-sqlite3'
import { whereAll } from '../core/sqlite.ts'
import type { EventRow, OutboxRow } from './store.ts'

/** Read-only views of the alert tables for the API and the CLI, newest first. */
export class AlertHistory {
  constructor(private readonly db: Database.Database) {}

  incidents({ open, station, limit = 100 }: { open?: boolean; station?: string; limit?: number }): unknown[] {
    const w = whereAll([open !== undefined && [open ? 'closed_at IS NULL' : 'closed_at IS NOT NULL'], station && ['station = ?', station]])
    return this.db.prepare(`SELECT * FROM alert_incidents ${w.sql} ORDER BY opened_at DESC LIMIT ?`).all(...w.params, limit)
  }

  events({ station, incident, limit = 200 }: { station?: string; incident?: string; limit?: number }): EventRow[] {
    const w = whereAll([station && ['station = ?', station], incident && ['incident = ?', incident]])
    return this.db.prepare(`SELECT * FROM alert_events ${w.sql} ORDER BY id DESC LIMIT ?`).all(...w.params, limit) as EventRow[]
  }

  messages({ status, incident, limit = 200 }: { status?: string; incident?: string; limit?: number }): OutboxRow[] {
    const w = whereAll([status && ['status = ?', status], incident && ['incident = ?', incident]])
    return this.db.prepare(`SELECT * FROM alert_outbox ${w.sql} ORDER BY id DESC LIMIT ?`).all(...w.params, limit) as OutboxRow[]
  }
}
