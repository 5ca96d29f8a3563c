import type { RenderedDashboard } from './build.ts'

/**
 * Uploads dashboards through Grafana's HTTP API, for Grafana instances that
 * are not provisioned from files (e.g. Grafana Cloud). Idempotent: the folder
 * is created only when missing and each dashboard is saved with
 * `overwrite: true` under its stable uid.
 * API: https://grafana.com/docs/grafana/latest/developers/http_api/ (folder,
 * dashboard). Authentication is a service-account token as a Bearer token.
 */
export interface PushOptions {
  /** Grafana base URL, e.g. https://grafana.camau.gov.vn (a sub-path is kept). */
  url: string
  token: string
  /** Folder title; created when no folder has this title. */
  folder: string
  dashboards: readonly RenderedDashboard[]
  /** Injected for tests; defaults to the global fetch. */
  fetch?: typeof fetch
  timeoutMs?: number
}

export interface PushResult {
  folderUid: string
  folderCreated: boolean
  dashboards: Array<{ uid: string; url?: string; version?: number }>
}

export class GrafanaApiError extends Error {
  readonly code = 'GRAFANA_API_FAILED'
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(`Grafana ${method} ${path} answered ${status}: ${body.slice(0, 300)}`)
    this.name = 'GrafanaApiError'
  }
}

interface Folder {
  uid: string
  title: string
}

/** A folder uid Grafana accepts (letters, digits, - and _, at most 40), stable for a title. */
export function folderUid(title: string): string {
  const slug = title
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/đ/gi, 'd')
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '')
  return (slug || 'tidewatch').slice(0, 40)
}

export async function pushDashboards(o: PushOptions): Promise<PushResult> {
  const base = o.url.replace(/\/+$/, '')
  const doFetch = o.fetch ?? fetch
  const call = async <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => {
    const res = await doFetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${o.token}`,
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(o.timeoutMs ?? 15_000),
    })
    const text = await res.text()
    if (!res.ok) throw new GrafanaApiError(method, path, res.status, text)
    return (text ? JSON.parse(text) : {}) as T
  }

  const folders = await call<Folder[]>('GET', '/api/folders?limit=1000')
  let folder = folders.find((f) => f.title === o.folder)
  let folderCreated = false
  if (!folder) {
    folder = await call<Folder>('POST', '/api/folders', { uid: folderUid(o.folder), title: o.folder })
    folderCreated = true
  }

  const saved: PushResult['dashboards'] = []
  for (const d of o.dashboards) {
    // id must be null: Grafana matches by uid, and an id from another instance would be wrong.
    const res = await call<{ uid: string; url?: string; version?: number }>('POST', '/api/dashboards/db', {
      dashboard: { ...d.model, id: null },
      folderUid: folder.uid,
      overwrite: true,
      message: 'tidewatch dashboards push',
    })
    saved.push({ uid: res.uid ?? d.uid, url: res.url, version: res.version })
  }
  return { folderUid: folder.uid, folderCreated, dashboards: saved }
}
