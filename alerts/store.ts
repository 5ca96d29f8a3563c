import type Database from 'better-sqlite3'
import { migrate } from '../core/sqlite.ts'

/**
 * The alerter's tables in the registry database. Every write that must
 * survive a restart together (a state change, its event and the messages it
 * causes) goes through one transaction, see engine.ts and notify.ts.
 */
const MIGRATIONS: string[] = [
  // IF NOT EXISTS: levels/book.ts (the rule book) creates it too, so the API can read rules without the alerter.
  `CREATE TABLE IF NOT EXISTS alert_rules (
     scope TEXT NOT NULL,            -- 'default', 'zone:<zone>' or a station id
     sensor TEXT NOT NULL,
     spec TEXT NOT NULL,             -- SensorRule JSON
     updated_at INTEGER NOT NULL,
     PRIMARY KEY (scope, sensor)
   );
   CREATE TABLE alert_states (
     station TEXT NOT NULL,
     sensor TEXT NOT NULL,           -- sensor kind, or 'no_data'
     ladder TEXT NOT NULL,           -- 'level', 'rise', 'no_data'
     status TEXT NOT NULL,           -- ok, pending, firing, resolved
     level TEXT,                     -- firing level
     pending_level TEXT,
     pending_count INTEGER NOT NULL DEFAULT 0,
     pending_since INTEGER,
     incident TEXT,
     value REAL,
     reading_ts INTEGER,
     updated_at INTEGER NOT NULL,
     PRIMARY KEY (station, sensor, ladder)
   );
   CREATE TABLE alert_events (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     at INTEGER NOT NULL,
     station TEXT NOT NULL,
     sensor TEXT NOT NULL,
     ladder TEXT NOT NULL,
     level TEXT,
     from_status TEXT NOT NULL,
     to_status TEXT NOT NULL,
     value REAL,
     threshold REAL,
     reading_ts INTEGER,
     received_at INTEGER,
     late INTEGER NOT NULL DEFAULT 0,
     incident TEXT
   );
   CREATE INDEX alert_events_station ON alert_events (station, at);
   CREATE INDEX alert_events_incident ON alert_events (incident);
   CREATE TABLE alert_incidents (
     id TEXT PRIMARY KEY,
     station TEXT NOT NULL,
     sensor TEXT NOT NULL,
     ladder TEXT NOT NULL,
     level TEXT NOT NULL,            -- current (or last) level
     max_level TEXT NOT NULL,
     opened_at INTEGER NOT NULL,
     closed_at INTEGER,
     peak_value REAL
   );
   CREATE INDEX alert_incidents_open ON alert_incidents (closed_at, station);
   CREATE TABLE alert_subscribers (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     kind TEXT NOT NULL,             -- farmer, staff
     name TEXT NOT NULL DEFAULT '',
     phone TEXT,
     email TEXT,
     webhook TEXT,
     lang TEXT NOT NULL DEFAULT 'vi',
     diacritics INTEGER NOT NULL DEFAULT 0,
     stations TEXT NOT NULL DEFAULT '[]',
     communes TEXT NOT NULL DEFAULT '[]',
     active INTEGER NOT NULL DEFAULT 1,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE UNIQUE INDEX alert_subscribers_phone ON alert_subscribers (phone) WHERE phone IS NOT NULL;
   CREATE TABLE alert_outbox (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     dedupe_key TEXT NOT NULL UNIQUE,
     subscriber_id INTEGER,
     channel TEXT NOT NULL,          -- smpp, http, log, webhook, email
     address TEXT NOT NULL,
     kind TEXT NOT NULL,             -- alert, resolved, reply
     station TEXT,
     incident TEXT,
     level TEXT,
     severity TEXT,
     text TEXT NOT NULL,
     encoding TEXT NOT NULL,
     segments INTEGER NOT NULL,
     status TEXT NOT NULL,           -- queued, sending, submitted, delivered, logged, failed, suppressed, cancelled, unknown
     reason TEXT,
     attempts INTEGER NOT NULL DEFAULT 0,
     next_attempt_at INTEGER NOT NULL,
     created_at INTEGER NOT NULL,
     submitted_at INTEGER,
     final_at INTEGER,
     provider_id TEXT
   );
   CREATE INDEX alert_outbox_due ON alert_outbox (status, next_attempt_at);
   CREATE INDEX alert_outbox_spam ON alert_outbox (subscriber_id, station, level, created_at);
   CREATE INDEX alert_outbox_incident ON alert_outbox (incident, subscriber_id);
   CREATE TABLE alert_parts (
     message_id TEXT NOT NULL,
     channel TEXT NOT NULL,
     outbox_id INTEGER NOT NULL,
     seq INTEGER NOT NULL,
     status TEXT NOT NULL,           -- submitted, delivered, failed
     PRIMARY KEY (channel, message_id)
   );
   CREATE INDEX alert_parts_outbox ON alert_parts (outbox_id);
   CREATE TABLE alert_inbound (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     at INTEGER NOT NULL,
     channel TEXT NOT NULL,
     phone TEXT NOT NULL,
     text TEXT NOT NULL,
     command TEXT NOT NULL
   );`,
  // The anti-spam window is per subscriber, station, SENSOR and level: a
  // salinity "warning" must not silence a nitrite "warning".
  `ALTER TABLE alert_outbox ADD COLUMN sensor TEXT;
   CREATE INDEX alert_outbox_spam2 ON alert_outbox (subscriber_id, station, sensor, level, created_at);`,
]

export function migrateAlerts(db: Database.Database): void {
  migrate(db, 'alerts', MIGRATIONS)
}

export type AlertStatus = 'ok' | 'pending' | 'firing' | 'resolved'

export interface StateRow {
  station: string
  sensor: string
  ladder: string
  status: AlertStatus
  level: string | null
  pending_level: string | null
  pending_count: number
  pending_since: number | null
  incident: string | null
  value: number | null
  reading_ts: number | null
  updated_at: number
}

export interface EventRow {
  id: number
  at: number
  station: string
  sensor: string
  ladder: string
  level: string | null
  from_status: string
  to_status: string
  value: number | null
  threshold: number | null
  reading_ts: number | null
  received_at: number | null
  late: number
  incident: string | null
}

export interface OutboxRow {
  id: number
  dedupe_key: string
  subscriber_id: number | null
  channel: string
  address: string
  kind: 'alert' | 'resolved' | 'reply'
  station: string | null
  sensor: string | null
  incident: string | null
  level: string | null
  severity: string | null
  text: string
  encoding: 'gsm7' | 'ucs2'
  segments: number
  status: string
  reason: string | null
  attempts: number
  next_attempt_at: number
  created_at: number
  submitted_at: number | null
  final_at: number | null
  provider_id: string | null
}

/**
 * Outbox statuses that count as "sent" for anti-spam and for not repeating a
 * status: anything queued or on its way, and 'logged' (the development log
 * channel and a disabled e-mail channel), which must never be re-sent either.
 */
export const SENT_STATUSES_SQL = `('queued','sending','submitted','delivered','unknown','logged')`
