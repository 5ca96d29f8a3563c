/**
 * The PostgreSQL metadata schema: the tables of devices/registry.ts,
 * api/auth/tokens.ts, levels/book.ts (alert_rules) and alerts/store.ts
 * (alert_subscribers, and the cluster alerter's alert_outbox as a record) in PostgreSQL types,
 * same names and columns, so a registry moves over table by table.
 * Applied in order, tracked as component 'metadata' in schema_versions
 * (the same bookkeeping as core/sqlite.ts migrate). Never edit a released
 * migration; append one.
 */

/** The NOTIFY channel; the payload is `{"kind": "...", "id": "..."}` (cluster/metadata/repository.ts MetadataChange). */
export const METADATA_CHANNEL = 'tidewatch_metadata'

export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE stations (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     commune TEXT,
     district TEXT,
     lat DOUBLE PRECISION NOT NULL,
     lon DOUBLE PRECISION NOT NULL,
     coast TEXT,
     zone TEXT NOT NULL DEFAULT 'rice',
     code TEXT,
     interval_s INTEGER NOT NULL DEFAULT 900,
     enabled BOOLEAN NOT NULL DEFAULT TRUE,
     created_at BIGINT NOT NULL,
     last_seen_at BIGINT,
     clock_offset_s DOUBLE PRECISION,
     clock_checked_at BIGINT,
     password_hash TEXT NOT NULL,
     credentials_rotated_at BIGINT NOT NULL
   );
   -- Codes are stored upper-case (normalizeStationCode); SQLite's COLLATE NOCASE index, here by upper().
   CREATE UNIQUE INDEX stations_code ON stations (upper(code)) WHERE code IS NOT NULL;
   CREATE TABLE station_sensors (
     station_id TEXT NOT NULL REFERENCES stations(id) ON DELETE CASCADE,
     kind TEXT NOT NULL,
     cal_offset DOUBLE PRECISION NOT NULL DEFAULT 0,
     cal_scale DOUBLE PRECISION NOT NULL DEFAULT 1,
     PRIMARY KEY (station_id, kind)
   );
   -- No foreign key to stations: a revocation must outlive the station row it was made for.
   CREATE TABLE device_certs (
     serial TEXT PRIMARY KEY,
     station_id TEXT NOT NULL,
     fingerprint256 TEXT,
     issued_at BIGINT NOT NULL,
     not_after BIGINT
   );
   CREATE INDEX device_certs_station ON device_certs (station_id);
   CREATE TABLE revoked_certs (
     serial TEXT PRIMARY KEY,
     station_id TEXT,
     revoked_at BIGINT NOT NULL,
     reason TEXT
   );
   CREATE TABLE api_tokens (
     id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     name TEXT NOT NULL,
     role TEXT NOT NULL CHECK (role IN ('read', 'staff', 'admin')),
     hash TEXT NOT NULL UNIQUE,
     prefix TEXT NOT NULL,
     created_at BIGINT NOT NULL,
     revoked_at BIGINT,
     last_used_at BIGINT
   );
   CREATE TABLE alert_rules (
     scope TEXT NOT NULL,
     sensor TEXT NOT NULL,
     spec JSONB NOT NULL,
     updated_at BIGINT NOT NULL,
     PRIMARY KEY (scope, sensor)
   );`,
  // The change feed. A trigger announces each change in the transaction that
  // makes it, so listeners hear of it exactly when it commits, whoever wrote
  // it (a node, the CLI, an operator in psql). Columns a node writes all the
  // time (last_seen_at, clock, last_used_at) are left out of the UPDATE OF
  // lists: they are not what a replica serves. Identical notifications in one
  // transaction are delivered once (PostgreSQL 15 docs, NOTIFY), so a cascade
  // of sensor rows is one event.
  `CREATE FUNCTION tidewatch_metadata_notify() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     PERFORM pg_notify('${METADATA_CHANNEL}', json_build_object(
       'kind', TG_ARGV[0],
       'id', (CASE WHEN TG_OP = 'DELETE' THEN to_jsonb(OLD) ELSE to_jsonb(NEW) END) ->> TG_ARGV[1])::text);
     RETURN NULL;
   END $$;
   CREATE TRIGGER stations_changed AFTER INSERT OR DELETE OR UPDATE OF name, commune, district, lat, lon, coast, zone, code, interval_s, enabled
     ON stations FOR EACH ROW EXECUTE FUNCTION tidewatch_metadata_notify('station', 'id');
   CREATE TRIGGER station_secret_changed AFTER UPDATE OF password_hash
     ON stations FOR EACH ROW EXECUTE FUNCTION tidewatch_metadata_notify('secret', 'id');
   CREATE TRIGGER station_sensors_changed AFTER INSERT OR UPDATE OR DELETE
     ON station_sensors FOR EACH ROW EXECUTE FUNCTION tidewatch_metadata_notify('station', 'station_id');
   CREATE TRIGGER revoked_certs_changed AFTER INSERT OR UPDATE OR DELETE
     ON revoked_certs FOR EACH ROW EXECUTE FUNCTION tidewatch_metadata_notify('cert', 'serial');
   CREATE TRIGGER api_tokens_changed AFTER INSERT OR DELETE OR UPDATE OF name, role, hash, revoked_at
     ON api_tokens FOR EACH ROW EXECUTE FUNCTION tidewatch_metadata_notify('token', 'id');
   CREATE TRIGGER alert_rules_changed AFTER INSERT OR UPDATE OR DELETE
     ON alert_rules FOR EACH ROW EXECUTE FUNCTION tidewatch_metadata_notify('rule', 'scope');`,
  // SMS subscribers (issue 16: PostgreSQL holds them in cluster mode). The
  // columns of alerts/store.ts alert_subscribers; ids are PostgreSQL's, and
  // every node's SQLite copy keeps them (cluster/metadata/mirror.ts). One
  // phone, one subscriber, as the SQLite unique index says.
  `CREATE TABLE alert_subscribers (
     id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     kind TEXT NOT NULL CHECK (kind IN ('farmer', 'staff')),
     name TEXT NOT NULL DEFAULT '',
     phone TEXT,
     email TEXT,
     webhook TEXT,
     lang TEXT NOT NULL DEFAULT 'vi',
     diacritics BOOLEAN NOT NULL DEFAULT FALSE,
     stations JSONB NOT NULL DEFAULT '[]',
     communes JSONB NOT NULL DEFAULT '[]',
     active BOOLEAN NOT NULL DEFAULT TRUE,
     created_at BIGINT NOT NULL,
     updated_at BIGINT NOT NULL
   );
   CREATE UNIQUE INDEX alert_subscribers_phone ON alert_subscribers (phone) WHERE phone IS NOT NULL;
   CREATE TRIGGER alert_subscribers_changed AFTER INSERT OR UPDATE OR DELETE
     ON alert_subscribers FOR EACH ROW EXECUTE FUNCTION tidewatch_metadata_notify('subscriber', 'id');`,
  // The cluster's SMS outbox, as a record (issue 16; cluster/metadata/outbox-record.ts): every
  // notification the leading alerter decided on and each status it reached, the columns of
  // alerts/store.ts alert_outbox. Sending is fenced by the claim in JetStream KV
  // (cluster/alerter/claiming-channel.ts), never by this table: it is what staff read on any
  // API node. One row per dedupe key (the Notifier's deterministic key); (term, change) orders
  // the writes of one leader and keeps a deposed one from overwriting its successor's;
  // `changed` is the poll cursor of API nodes' copies (no NOTIFY: statuses change too often).
  `CREATE SEQUENCE alert_outbox_changes;
   CREATE TABLE alert_outbox (
     id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     dedupe_key TEXT NOT NULL UNIQUE,
     subscriber_id BIGINT,
     channel TEXT NOT NULL,
     address TEXT NOT NULL,
     kind TEXT NOT NULL,
     station TEXT,
     sensor TEXT,
     incident TEXT,
     level TEXT,
     severity TEXT,
     text TEXT NOT NULL,
     encoding TEXT NOT NULL,
     segments INTEGER NOT NULL,
     status TEXT NOT NULL,
     reason TEXT,
     attempts INTEGER NOT NULL DEFAULT 0,
     next_attempt_at BIGINT NOT NULL,
     created_at BIGINT NOT NULL,
     submitted_at BIGINT,
     final_at BIGINT,
     provider_id TEXT,
     node TEXT NOT NULL,
     term BIGINT NOT NULL,
     change BIGINT NOT NULL,
     changed BIGINT NOT NULL DEFAULT nextval('alert_outbox_changes')
   );
   CREATE INDEX alert_outbox_changed ON alert_outbox (changed);
   CREATE INDEX alert_outbox_created ON alert_outbox (created_at);`,
]
