/**
 * One catalog of stable error codes, each with the HTTP status the API
 * answers it with beside it (as fastify's lib/errors.js does). Tests,
 * operators, API clients and the quarantine all match on these strings, so a
 * code is never renamed once released; add a new one instead.
 */
const CATALOG = {
  CONFIG_INVALID: { status: 500, message: 'Configuration is invalid' },
  CONFIG_FILE_UNREADABLE: { status: 500, message: 'Configuration file cannot be read' },

  // Reasons a reading is quarantined (see docs/PROTOCOL.md, "Reason codes").
  PAYLOAD_TOO_LARGE: { status: 400, message: 'Payload exceeds the configured maximum size' },
  PAYLOAD_NOT_UTF8: { status: 400, message: 'Payload is not valid UTF-8' },
  PAYLOAD_NOT_JSON: { status: 400, message: 'Payload is not valid JSON' },
  PAYLOAD_TOO_DEEP: { status: 400, message: 'Payload JSON nests deeper than allowed' },
  PAYLOAD_SCHEMA: { status: 400, message: 'Payload does not match the reading or batch schema' },
  BATCH_TOO_LARGE: { status: 400, message: 'Batch holds more readings than allowed' },
  BATCH_EMPTY: { status: 400, message: 'Batch holds no readings' },
  READING_NO_VALUES: { status: 400, message: 'Reading carries no sensor values' },
  READING_UNKNOWN_SENSOR: { status: 400, message: 'Reading carries a sensor kind that is not in the catalog' },
  VALUE_NOT_NUMBER: { status: 400, message: 'Sensor value is not a finite number' },
  VALUE_OUT_OF_RANGE: { status: 400, message: 'Sensor value is outside its plausible range' },
  TS_INVALID: { status: 400, message: 'Timestamp is neither RFC 3339 with offset nor epoch milliseconds' },
  TS_IN_FUTURE: { status: 400, message: 'Timestamp is too far in the future (station clock ahead)' },
  TS_TOO_OLD: { status: 400, message: 'Timestamp is older than the maximum accepted age (station clock reset?)' },
  STATION_UNKNOWN: { status: 400, message: 'Station is not registered' },
  STATION_DISABLED: { status: 400, message: 'Station is disabled' },
  TOPIC_INVALID: { status: 400, message: 'Topic does not match stations/{stationId}/readings' },
  READING_RETAINED: { status: 400, message: 'Reading was published with the retain flag; readings are never retained' },

  // Broker policy
  MQTT_BAD_CREDENTIALS: { status: 401, message: 'Bad username or password' },
  MQTT_NOT_AUTHORIZED: { status: 403, message: 'Client is not allowed to do this' },
  MQTT_TOPIC_DENIED: { status: 403, message: 'Client may not publish or subscribe to this topic' },

  // Registry and API
  STATION_EXISTS: { status: 409, message: 'Station already exists' },
  STATION_NOT_FOUND: { status: 404, message: 'Station not found' },
  STATION_ID_INVALID: { status: 400, message: 'Station id must match ^[A-Za-z0-9_-]{1,64}$' },
  STATION_ZONE_INVALID: { status: 400, message: 'Zone must be one of rice, rice_shrimp, brackish_aquaculture, water_supply, monitoring' },
  STATION_CODE_INVALID: { status: 400, message: 'Station SMS code must be 2–4 letters then 1–3 digits, e.g. SD01' },
  STATION_CODE_TAKEN: { status: 409, message: 'Another station already has this SMS code' },
  CSV_INVALID: { status: 400, message: 'CSV import file is invalid' },
  BAD_REQUEST: { status: 400, message: 'Request is invalid' },
  UNAUTHORIZED: { status: 401, message: 'Bearer token missing, unknown or revoked' },
  FORBIDDEN: { status: 403, message: 'The token\'s role does not allow this' },
  RATE_LIMITED: { status: 429, message: 'Too many requests' },
  NOT_FOUND: { status: 404, message: 'Not found' },
  INFLUX_UNAVAILABLE: { status: 503, message: 'InfluxDB is unavailable' },
  INFLUX_QUERY_FAILED: { status: 502, message: 'InfluxDB query failed' },
  STA_QUERY_INVALID: { status: 400, message: 'SensorThings request is invalid ($filter, $expand, $orderby, $select, $top, $skip, $count or the resource path)' },
  INFLUXD_NOT_INSTALLED: { status: 500, message: 'influxd is not installed' },
  POSTGRES_NOT_INSTALLED: { status: 500, message: 'PostgreSQL 15 is not installed' },
  POSTGRES_UNAVAILABLE: { status: 503, message: 'PostgreSQL is unavailable' },
  AUDIT_NODE_CONFLICT: { status: 503, message: "This node's name in the cluster audit log is also another node's (a copied data dir); its records are kept locally, not shipped" },
  INTERNAL: { status: 500, message: 'Internal error' },
  TLS_CA_EXISTS: { status: 409, message: 'A development CA already exists; replacing it needs --force' },

  // Alerter
  ALERT_RULE_INVALID: { status: 400, message: 'Alert rule is invalid' },
  SUBSCRIBER_INVALID: { status: 400, message: 'Subscriber is invalid' },
  SUBSCRIBER_NOT_FOUND: { status: 404, message: 'Subscriber not found' },
  SUBSCRIBER_EXISTS: { status: 409, message: 'A subscriber with this phone already exists' },
  SMPP_BIND_FAILED: { status: 502, message: 'SMPP bind_transceiver was rejected' },
  SMPP_TIMEOUT: { status: 504, message: 'SMPP response timed out' },
  SMPP_NOT_BOUND: { status: 503, message: 'SMPP session is not bound' },
  SMS_GATEWAY_REJECTED: { status: 502, message: 'SMS gateway rejected the message' },
  SMS_GATEWAY_UNAVAILABLE: { status: 503, message: 'SMS gateway is unavailable' },

  // Staff console (api/console/)
  CONSOLE_SIGNIN_FAILED: { status: 401, message: 'Unknown username or wrong password, or an unknown or revoked token' },
  CONSOLE_SESSION_EXPIRED: { status: 401, message: 'The console session is missing or has expired; sign in again' },
  CONSOLE_CSRF_INVALID: { status: 403, message: 'The form\'s CSRF token is missing or wrong' },
  STAFF_ACCOUNT_INVALID: { status: 400, message: 'Staff account is invalid (username or password)' },
  STAFF_ACCOUNT_EXISTS: { status: 409, message: 'A staff account with this username already exists' },
  QUARANTINE_NOT_RELEASABLE: { status: 409, message: 'This refused reading cannot be released (already handled, or its excerpt is not the whole payload)' },
  OUTBOX_NOT_RETRYABLE: { status: 409, message: 'Only a failed message can be retried' },

  // Cluster mode (cluster/, docs/CLUSTER.md)
  CLUSTER_NOT_CONFIGURED: { status: 500, message: 'Cluster mode needs NATS servers (cluster.nats.servers)' },
  CLUSTER_TARGET_UNKNOWN: { status: 500, message: 'No InfluxDB target of that name is configured' },
  CLUSTER_ENGINE_MISSING: { status: 500, message: 'A program the local cluster needs is not installed (nats-server, postgresql, haproxy, influxdb)' },
  CLUSTER_MODE_UNSUPPORTED: { status: 501, message: 'Not available in cluster mode yet (cluster.postgres.url is set)' },
  CLUSTER_ALREADY_RUNNING: { status: 409, message: 'A local cluster already runs in this directory' },
  CLUSTER_CONSUMER_STALLED: { status: 503, message: "A writer's target consumer hands out nothing although it has messages or no pull waiting, and fresh pulls did not help" },
  CLUSTER_LOG_CLOSED: { status: 503, message: 'The connection to the replicated log (NATS) is closed; the writer no longer drains it' },
  HAPROXY_NOT_INSTALLED: { status: 500, message: 'haproxy is not installed' },
  HAPROXY_FAILED: { status: 500, message: 'haproxy refused its configuration or did not start' },
} as const satisfies Record<string, { readonly status: number; readonly message: string }>

export type ErrorCode = keyof typeof CATALOG

/** The message of each code. */
export const ErrorCodes = Object.freeze(Object.fromEntries(Object.entries(CATALOG).map(([code, e]) => [code, e.message]))) as { readonly [K in ErrorCode]: string }

/** The HTTP status an API answers a code with (reading refusals are 400: the payload is at fault). */
export function httpStatus(code: ErrorCode): number {
  return CATALOG[code].status
}

export class TidewatchError extends Error {
  readonly code: ErrorCode
  readonly details: Record<string, unknown>

  constructor(code: ErrorCode, details: Record<string, unknown> = {}, message?: string) {
    super(message ?? ErrorCodes[code])
    this.name = 'TidewatchError'
    this.code = code
    this.details = details
  }

  toJSON(): { code: ErrorCode; message: string; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, details: this.details }
  }
}

export function isTidewatchError(err: unknown): err is TidewatchError {
  return err instanceof TidewatchError
}
