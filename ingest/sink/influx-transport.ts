import { InfluxDB, HttpError, canRetryHttpCall } from '@influxdata/influxdb-client'
import type { InfluxTarget } from '../../core/config.ts'

/**
 * One InfluxDB write target behind a tiny interface. We use the official
 * client's transport (auth, TLS, timeouts, error types) but not its WriteApi:
 * that one buffers in memory, drops the oldest lines past maxBufferLines and
 * gives up after ~3 minutes. Durability and retries are the spool's job.
 */
export interface WriteTransport {
  readonly name: string
  write(lines: readonly string[]): Promise<void>
  /** Creates the database if the target allows it (v1 only). */
  ensureDatabase(): Promise<void>
}

export type WriteErrorKind = 'retry' | 'partial' | 'missing_db' | 'fatal'

export function classifyWriteError(err: unknown): WriteErrorKind {
  if (err instanceof HttpError) {
    if (err.statusCode === 404 && /database not found/i.test(err.body ?? err.message)) return 'missing_db'
    // 1.x: "partial write: field type conflict ..." — the good lines were stored.
    if (err.statusCode === 400 && /partial write/i.test(err.body ?? '')) return 'partial'
    if (err.statusCode === 401 || err.statusCode === 403) return 'retry' // wrong credentials get fixed by an operator; keep the data
    if (err.statusCode === 404) return 'retry'
    return canRetryHttpCall(err) ? 'retry' : 'fatal'
  }
  // Network errors, timeouts, connection refused: InfluxDB is down.
  return 'retry'
}

export function createWriteTransport(target: InfluxTarget): WriteTransport {
  const token = target.mode === 'v2' ? target.token : target.username ? `${target.username}:${target.password ?? ''}` : undefined
  const client = new InfluxDB({ url: target.url, token, timeout: target.timeoutMs })
  const transport = client.transport
  const path =
    target.mode === 'v1'
      ? `/write?${new URLSearchParams({
          db: target.database,
          ...(target.retentionPolicy ? { rp: target.retentionPolicy } : {}),
          precision: 'ms',
          ...(target.username ? { u: target.username, p: target.password ?? '' } : {}),
        })}`
      : `/api/v2/write?${new URLSearchParams({ org: target.org!, bucket: target.bucket!, precision: 'ms' })}`

  return {
    name: target.name,
    async write(lines) {
      await transport.request(path, lines.join('\n'), {
        method: 'POST',
        headers: { 'content-type': 'text/plain; charset=utf-8' },
      })
    },
    async ensureDatabase() {
      if (target.mode !== 'v1') return
      const params = new URLSearchParams({ q: `CREATE DATABASE "${target.database}"` })
      if (target.username) {
        params.set('u', target.username)
        params.set('p', target.password ?? '')
      }
      await transport.request(`/query?${params}`, '', { method: 'POST' })
    },
  }
}
