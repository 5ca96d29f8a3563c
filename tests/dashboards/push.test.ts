import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { dashboardsCommand } from '../../cli/commands/dashboards.ts'
import { renderDashboards } from '../../dashboards/build.ts'
import { folderUid, pushDashboards } from '../../dashboards/push.ts'

/**
 * Contract test: Grafana HTTP API (fake receiver, Grafana not installable).
 * The receiver implements only what tidewatch calls, with the request shapes
 * of Grafana's folder and dashboard APIs, and records every request.
 */
interface Recorded {
  method: string
  path: string
  auth: string | undefined
  contentType: string | undefined
  body: any
}

class FakeGrafana {
  readonly requests: Recorded[] = []
  readonly folders: Array<{ id: number; uid: string; title: string }> = []
  readonly dashboards = new Map<string, { folderUid: string; version: number; model: any }>()
  server!: Server
  url = ''

  constructor(private readonly token: string) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req).then(([status, body]) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }))
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  stop(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()))
  }

  private async handle(req: IncomingMessage): Promise<[number, unknown]> {
    let raw = ''
    for await (const chunk of req) raw += chunk
    const url = new URL(req.url ?? '/', 'http://x')
    const rec: Recorded = {
      method: req.method ?? '',
      path: url.pathname,
      auth: req.headers.authorization,
      contentType: req.headers['content-type'],
      body: raw ? JSON.parse(raw) : undefined,
    }
    this.requests.push(rec)
    if (rec.auth !== `Bearer ${this.token}`) return [401, { message: 'Unauthorized' }]
    if (rec.method === 'GET' && rec.path === '/api/folders') return [200, this.folders]
    if (rec.method === 'POST' && rec.path === '/api/folders') {
      if (this.folders.some((f) => f.uid === rec.body.uid)) return [409, { message: 'a folder with the same uid already exists' }]
      const folder = { id: this.folders.length + 1, uid: rec.body.uid, title: rec.body.title }
      this.folders.push(folder)
      return [200, folder]
    }
    if (rec.method === 'POST' && rec.path === '/api/dashboards/db') {
      const { dashboard, folderUid, overwrite } = rec.body
      if (!this.folders.some((f) => f.uid === folderUid)) return [400, { message: 'folder not found' }]
      const existing = this.dashboards.get(dashboard.uid)
      if (existing && !overwrite) return [412, { status: 'version-mismatch' }]
      const version = (existing?.version ?? 0) + 1
      this.dashboards.set(dashboard.uid, { folderUid, version, model: dashboard })
      return [200, { status: 'success', uid: dashboard.uid, version, url: `/d/${dashboard.uid}/x` }]
    }
    return [404, { message: 'not found' }]
  }
}

const TOKEN = 'glsa_test_token'
let grafana: FakeGrafana

beforeEach(async () => {
  grafana = new FakeGrafana(TOKEN)
  await grafana.start()
})
afterEach(() => grafana.stop())

describe('contract test: Grafana HTTP API (fake receiver, Grafana not installable)', () => {
  const dashboards = renderDashboards()

  it('creates the folder when missing, then saves every dashboard into it with overwrite', async () => {
    const result = await pushDashboards({ url: grafana.url, token: TOKEN, folder: 'Tidewatch', dashboards })
    expect(result.folderCreated).toBe(true)
    expect(result.folderUid).toBe('tidewatch')

    const calls = grafana.requests.map((r) => `${r.method} ${r.path}`)
    expect(calls).toEqual(['GET /api/folders', 'POST /api/folders', ...dashboards.map(() => 'POST /api/dashboards/db')])
    for (const r of grafana.requests) expect(r.auth).toBe(`Bearer ${TOKEN}`)

    const [, createFolder, ...saves] = grafana.requests
    expect(createFolder!.body).toEqual({ uid: 'tidewatch', title: 'Tidewatch' })
    expect(createFolder!.contentType).toBe('application/json')
    for (const [i, save] of saves.entries()) {
      expect(Object.keys(save.body).sort()).toEqual(['dashboard', 'folderUid', 'message', 'overwrite'])
      expect(save.body.folderUid).toBe('tidewatch')
      expect(save.body.overwrite).toBe(true)
      expect(save.body.dashboard.uid).toBe(dashboards[i]!.uid)
      expect(save.body.dashboard.id).toBeNull()
      expect(save.body.dashboard.panels.length).toBeGreaterThan(0)
    }
  })

  it('is idempotent: a second push reuses the folder and overwrites the same uids', async () => {
    await pushDashboards({ url: grafana.url, token: TOKEN, folder: 'Tidewatch', dashboards })
    grafana.requests.length = 0
    const second = await pushDashboards({ url: grafana.url, token: TOKEN, folder: 'Tidewatch', dashboards })
    expect(second.folderCreated).toBe(false)
    expect(grafana.requests.filter((r) => r.path === '/api/folders' && r.method === 'POST')).toHaveLength(0)
    expect(grafana.folders).toHaveLength(1)
    expect([...grafana.dashboards.keys()].sort()).toEqual(dashboards.map((d) => d.uid).sort())
    for (const d of grafana.dashboards.values()) expect(d.version).toBe(2)
  })

  it('uses an existing folder found by title, whatever its uid', async () => {
    grafana.folders.push({ id: 7, uid: 'abc123', title: 'Quan trắc Cà Mau' })
    const result = await pushDashboards({ url: `${grafana.url}/`, token: TOKEN, folder: 'Quan trắc Cà Mau', dashboards })
    expect(result).toMatchObject({ folderUid: 'abc123', folderCreated: false })
    expect(grafana.requests.filter((r) => r.method === 'POST' && r.path === '/api/dashboards/db').every((r) => r.body.folderUid === 'abc123')).toBe(true)
  })

  it('derives a valid folder uid from a Vietnamese title', () => {
    expect(folderUid('Quan trắc Cà Mau')).toBe('quan-trac-ca-mau')
    expect(folderUid('Đầm Dơi')).toBe('dam-doi')
  })

  it('CLI: push prints the result and exits 0; a bad token exits 1 with the HTTP status', async () => {
    const out: string[] = []
    const err: string[] = []
    const io = { stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s) }
    expect(await dashboardsCommand(['push', '--url', grafana.url, '--token', TOKEN, '--folder', 'Tidewatch'], io)).toBe(0)
    expect(out[0]).toBe('folder tidewatch (created)')
    expect(out).toHaveLength(1 + dashboards.length)

    expect(await dashboardsCommand(['push', '--url', grafana.url, '--token', 'wrong'], io)).toBe(1)
    expect(err.join('\n')).toMatch(/GRAFANA_API_FAILED.*401/)
    expect(await dashboardsCommand(['push', '--url', grafana.url], io)).toBe(1)
  })
})
