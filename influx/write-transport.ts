import { InfluxDB, HttpError, canRetryHttpCall } from '@influxdata/influxdb-client'
import type { InfluxTarget } from '../core/config.ts'

/**
 * One InfluxDB write target behind a tiny interface. We use the official
 * client's transport (auth, TLS, timeouts, error types) but not its WriteApi:
 * that one buffers in memory, drops the oldest lines past maxBufferLines and
 * gives up after ~3 minutes. Durability and retries are the spool's job.
 */
export interface WriteTransport {
  readonly name: string
  write(lines: readonly string[]): Promise<void>
  /** The same, for points already joined by newlines as UTF-8 bytes (the spool's batches). */
  writeBody(body: Buffer): Promise<void>
  /** Creates the database (and, when managed, its retention policies) if the target allows it (v1 only). */
  ensureDatabase(): Promise<void>
}

export type WriteErrorKind = 'retry' | 'partial' | 'missing_db' | 'fatal'

export function classifyWriteError(err: unknown): WriteErrorKind {
  if (err instanceof HttpError) {
    if (err.statusCode === 404 && /database not found/i.test(err.body ?? err.message)) return 'missing_db'
    // Writing with rp=raw before the retention policies exist (InfluxDB was down at start-up).
    if (/retention policy not found/i.test(err.body ?? err.message)) return 'missing_db'
    // 1.x: "partial write: field type conflict ..." — the good lines were stored.
    if (err.statusCode === 400 && /partial write/i.test(err.body ?? '')) return 'partial'
    if (err.statusCode === 401 || err.statusCode === 403) return 'retry' // wrong credentials get fixed by an operator; keep the data
    if (err.statusCode === 404) return 'retry'
    return canRetryHttpCall(err) ? 'retry' : 'fatal'
  }
  // Network errors, timeouts, connection refused: InfluxDB is down.
  return 'retry'
}

export interface WriteTransportOptions {
  /**
   * Retention policy to write to when the target names none. With managed
   * retention this is `raw`, so points never land in `autogen` and vanish
   * from default-RP queries once `raw` becomes the default.
   */
  defaultRetentionPolicy?: string
  /** Creates database, RPs and CQs (influx/retention.ts); replaces the plain CREATE DATABASE. */
  prepare?: () => Promise<void>
}

export function createWriteTransport(target: InfluxTarget, opts: WriteTransportOptions = {}): WriteTransport {
  const rp = target.retentionPolicy || opts.defaultRetentionPolicy || ''
  const token = target.mode === 'v2' ? target.token : target.username ? `${target.username}:${target.password ?? ''}` : undefined
  const client = new InfluxDB({ url: target.url, token, timeout: target.timeoutMs })
  const transport = client.transport
  const path =
    target.mode === 'v1'
      ? `/write?${new URLSearchParams({
          db: target.database,
          ...(rp ? { rp } : {}),
          precision: 'ms',
          ...(target.username ? { u: target.username, p: target.password ?? '' } : {}),
        })}`
      : `/api/v2/write?${new URLSearchParams({ org: target.org!, bucket: target.bucket!, precision: 'ms' })}`

  const writeOptions = { method: 'POST', headers: { 'content-type': 'text/plain; charset=utf-8' } }
  const writeBody = (body: Buffer): Promise<void> =>
    new Promise((resolve, reject) => {
      // send(), not request(): request() would JSON.stringify a Buffer. The
      // client's send() takes the body through Buffer.from(body, 'utf-8'),
      // which copies a Buffer as it is (typed as a string only).
      transport.send(path, body as unknown as string, writeOptions, { complete: () => resolve(), error: reject })
    })
  return {
    name: target.name,
    write: (lines) => writeBody(Buffer.from(lines.join('\n'), 'utf8')),
    writeBody,
    async ensureDatabase() {
      if (target.mode !== 'v1') return
      if (opts.prepare) return opts.prepare()
      const params = new URLSearchParams({ q: `CREATE DATABASE "${target.database}"` })
      if (target.username) {
        params.set('u', target.username)
        params.set('p', target.password ?? '')
      }
      await transport.request(`/query?${params}`, '', { method: 'POST' })
    },
  }
}
