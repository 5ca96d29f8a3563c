import { TidewatchError } from '../../core/errors.ts'

/**
 * A query the service cannot answer is refused with the stable code
 * STA_QUERY_INVALID and an error body naming the option and the reason.
 * 400 when the query is wrong; 501 when it is valid SensorThings but asks for
 * something this read-only service does not implement
 * (req/request-data/query-status-code, OGC 18-088 §9.3.2).
 */
export function invalid(option: string, message: string, details: Record<string, unknown> = {}): TidewatchError {
  return new TidewatchError('STA_QUERY_INVALID', { option, ...details }, `${option}: ${message}`)
}

export function notImplemented(option: string, message: string, details: Record<string, unknown> = {}): TidewatchError {
  return new TidewatchError('STA_QUERY_INVALID', { option, status: 501, ...details }, `${option}: ${message} (not implemented)`)
}

export function notFound(path: string): TidewatchError {
  return new TidewatchError('NOT_FOUND', { path }, `No SensorThings entity at ${path}`)
}
