import type Database from 'better-sqlite3'
import { migrate } from '../core/sqlite.ts'

/** Staff acknowledgements of incidents: who saw it, when, with what note. */
export interface Ack {
  incident: string
  at: number
  actor: string
  note: string
}

const MIGRATIONS = [
  `CREATE TABLE alert_acks (
     incident TEXT NOT NULL,
     at INTEGER NOT NULL,
     actor TEXT NOT NULL,
     note TEXT NOT NULL DEFAULT ''
   );
   CREATE INDEX alert_acks_incident ON alert_acks (incident, at);`,
]

export class AckStore {
  constructor(private readonly db: Database.Database) {
    migrate(db, 'alert_acks', MIGRATIONS)
  }

  add(ack: Ack): Ack {
    this.db.prepare('INSERT INTO alert_acks (incident, at, actor, note) VALUES (?, ?, ?, ?)').run(ack.incident, ack.at, ack.actor, ack.note)
    return ack
  }

  forIncident(incident: string): Ack[] {
    return this.db.prepare('SELECT incident, at, actor, note FROM alert_acks WHERE incident = ? ORDER BY at').all(incident) as Ack[]
  }
}
