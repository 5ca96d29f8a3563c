import { TidewatchError } from '../core/errors.ts'

/**
 * Minimal InfluxQL client over `/query`. InfluxQL works on InfluxDB 1.x, on
 * 2.x through its v1 compatibility endpoint and on 3.x; Flux does not, so
 * every read in tidewatch goes through here.
 */
export interface InfluxSeries {
  name: string
  tags?: Record<string, string>
  columns: string[]
  values: unknown[][]
}

export interface InfluxQueryClient {
  /** Runs one or more `;`-separated statements; returns the series of each statement. */
  query(q: string, opts?: { method?: 'GET' | 'POST'; signal?: AbortSignal }): Promise<InfluxSeries[][]>
  url: string
  database: string
}

export interface QueryClientOptions {
  url: string
  database: string
  username?: string
  password?: string
  /** v2/v3: token sent as `Authorization: Token ...` to the v1-compatible /query endpoint. */
  token?: string
  timeoutMs?: number
}

export function createQueryClient(opts: QueryClientOptions): InfluxQueryClient {
  const base = opts.url.replace(/\/+$/, '')
  return {
    url: base,
    database: opts.database,
    async query(q, { method = 'GET', signal } = {}) {
      const params = new URLSearchParams({ db: opts.database, q, epoch: 'ms' })
      if (opts.username) params.set('u', opts.username)
      if (opts.password) params.set('p', opts.password)
      const headers: Record<string, string> = {}
      if (opts.token) headers.authorization = `Token ${opts.token}`
      const timeout = AbortSignal.timeout(opts.timeoutMs ?? 10_000)
      const combined = signal ? AbortSignal.any([signal, timeout]) : timeout
      let res: Response
      try {
        res =
          method === 'GET'
            ? await fetch(`${base}/query?${params}`, { headers, signal: combined })
            : await fetch(`${base}/query`, {
                method: 'POST',
                headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
                body: params,
                signal: combined,
              })
      } catch (err) {
        throw new TidewatchError('INFLUX_UNAVAILABLE', { url: base, reason: (err as Error).message })
      }
      const text = await res.text()
      let body: { results?: Array<{ series?: InfluxSeries[]; error?: string }>; error?: string }
      try {
        body = JSON.parse(text)
      } catch {
        throw new TidewatchError('INFLUX_QUERY_FAILED', { status: res.status, body: text.slice(0, 300) })
      }
      if (!res.ok || body.error) {
        throw new TidewatchError('INFLUX_QUERY_FAILED', { status: res.status, error: body.error ?? text.slice(0, 300), query: q })
      }
      const results = body.results ?? []
      const failed = results.find((r) => r.error)
      if (failed) throw new TidewatchError('INFLUX_QUERY_FAILED', { error: failed.error, query: q })
      return results.map((r) => r.series ?? [])
    },
  }
}

/** Quotes an identifier for InfluxQL: "name". */
export function quoteIdent(name: string): string {
  return `"${name.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
}

/** Quotes a string literal for InfluxQL: 'value'. */
export function quoteString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}
