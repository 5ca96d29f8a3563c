/**
 * One catalog of stable error codes. Tests, operators, API clients and the
 * quarantine all match on these strings, so a code is never renamed once
 * released; add a new one instead.
 */
export const ErrorCodes = {
  CONFIG_INVALID: 'Configuration is invalid',
  CONFIG_FILE_UNREADABLE: 'Configuration file cannot be read',

  // Reasons a reading is quarantined (see docs/PROTOCOL.md, "Reason codes").
  PAYLOAD_TOO_LARGE: 'Payload exceeds the configured maximum size',
  PAYLOAD_NOT_UTF8: 'Payload is not valid UTF-8',
  PAYLOAD_NOT_JSON: 'Payload is not valid JSON',
  PAYLOAD_TOO_DEEP: 'Payload JSON nests deeper than allowed',
  PAYLOAD_SCHEMA: 'Payload does not match the reading or batch schema',
  BATCH_TOO_LARGE: 'Batch holds more readings than allowed',
  BATCH_EMPTY: 'Batch holds no readings',
  READING_NO_VALUES: 'Reading carries no sensor values',
  READING_UNKNOWN_SENSOR: 'Reading carries a sensor kind that is not in the catalog',
  VALUE_NOT_NUMBER: 'Sensor value is not a finite number',
  VALUE_OUT_OF_RANGE: 'Sensor value is outside its plausible range',
  TS_INVALID: 'Timestamp is neither RFC 3339 with offset nor epoch milliseconds',
  TS_IN_FUTURE: 'Timestamp is too far in the future (station clock ahead)',
  TS_TOO_OLD: 'Timestamp is older than the maximum accepted age (station clock reset?)',
  STATION_UNKNOWN: 'Station is not registered',
  STATION_DISABLED: 'Station is disabled',
  TOPIC_INVALID: 'Topic does not match stations/{stationId}/readings',
  READING_RETAINED: 'Reading was published with the retain flag; readings are never retained',

  // Broker policy
  MQTT_BAD_CREDENTIALS: 'Bad username or password',
  MQTT_NOT_AUTHORIZED: 'Client is not allowed to do this',
  MQTT_TOPIC_DENIED: 'Client may not publish or subscribe to this topic',

  // Registry and API
  STATION_EXISTS: 'Station already exists',
  STATION_NOT_FOUND: 'Station not found',
  STATION_ID_INVALID: 'Station id must match ^[A-Za-z0-9_-]{1,64}$',
  STATION_ZONE_INVALID: 'Zone must be one of rice, rice_shrimp, brackish_aquaculture, water_supply, monitoring',
  STATION_CODE_INVALID: 'Station SMS code must be 2–4 letters then 1–3 digits, e.g. SD01',
  STATION_CODE_TAKEN: 'Another station already has this SMS code',
  CSV_INVALID: 'CSV import file is invalid',
  BAD_REQUEST: 'Request is invalid',
  UNAUTHORIZED: 'Bearer token missing, unknown or revoked',
  FORBIDDEN: 'The token\'s role does not allow this',
  RATE_LIMITED: 'Too many requests',
  NOT_FOUND: 'Not found',
  INFLUX_UNAVAILABLE: 'InfluxDB is unavailable',
  INFLUX_QUERY_FAILED: 'InfluxDB query failed',
  STA_QUERY_INVALID: 'SensorThings request is invalid ($filter, $expand, $orderby, $select, $top, $skip, $count or the resource path)',
  INFLUXD_NOT_INSTALLED: 'influxd is not installed',
  INTERNAL: 'Internal error',
  TLS_CA_EXISTS: 'A development CA already exists; replacing it needs --force',

  // Alerter
  ALERT_RULE_INVALID: 'Alert rule is invalid',
  SUBSCRIBER_INVALID: 'Subscriber is invalid',
  SUBSCRIBER_NOT_FOUND: 'Subscriber not found',
  SUBSCRIBER_EXISTS: 'A subscriber with this phone already exists',
  SMPP_BIND_FAILED: 'SMPP bind_transceiver was rejected',
  SMPP_TIMEOUT: 'SMPP response timed out',
  SMPP_NOT_BOUND: 'SMPP session is not bound',
  SMS_GATEWAY_REJECTED: 'SMS gateway rejected the message',
  SMS_GATEWAY_UNAVAILABLE: 'SMS gateway is unavailable',

  // Staff console (api/console/)
  CONSOLE_SIGNIN_FAILED: 'Unknown username or wrong password, or an unknown or revoked token',
  CONSOLE_SESSION_EXPIRED: 'The console session is missing or has expired; sign in again',
  CONSOLE_CSRF_INVALID: 'The form\'s CSRF token is missing or wrong',
  STAFF_ACCOUNT_INVALID: 'Staff account is invalid (username or password)',
  STAFF_ACCOUNT_EXISTS: 'A staff account with this username already exists',
  QUARANTINE_NOT_RELEASABLE: 'This refused reading cannot be released (already handled, or its excerpt is not the whole payload)',
  OUTBOX_NOT_RETRYABLE: 'Only a failed message can be retried',
} as const

export type ErrorCode = keyof typeof ErrorCodes

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
