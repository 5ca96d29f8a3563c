/**
 * cluster/local/haproxy.ts against a real HAProxy (Debian's haproxy 2.6) and
 * two real TCP servers standing in for edges (the proxy never reads MQTT):
 * `leastconn` spreads connections, a killed backend is marked down and new
 * connections go to the other, reload() swaps the backends without closing
 * the listening port, and the API frontend health-checks over HTTP.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { createServer as createHttpServer } from 'node:http'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { findHaproxy, haproxyConfig, startHaproxy, type LocalHaproxy } from '../../cluster/local/haproxy.ts'
import { freePort } from '../../core/free-port.ts'
import { tempDir } from '../helpers/platform.ts'
import { until } from './fixture.ts'

const tmp = tempDir('tidewatch-haproxy-')
const closers: Array<() => Promise<void> | void> = []
afterAll(async () => {
  for (const c of closers.reverse()) await c()
  tmp.cleanup()
})

/** A TCP server that answers each connection with its name, then keeps it open. */
async function namedServer(name: string): Promise<{ port: number; server: Server; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>()
  const server = createServer((s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => undefined)
    s.write(name)
  })
  const port = await freePort()
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r))
  closers.push(() => {
    for (const s of sockets) s.destroy()
    server.close()
  })
  return { port, server, sockets }
}

/** Connects through the proxy; resolves with the backend's name (or '' if closed first). */
function whoAnswers(port: number): Promise<{ name: string; socket: Socket }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.on('error', () => undefined)
    socket.once('data', (d) => resolve({ name: d.toString(), socket }))
    socket.once('close', () => resolve({ name: '', socket }))
    closers.push(() => void socket.destroy())
  })
}

describe.skipIf(!findHaproxy())('local HAProxy in front of edges and API nodes', () => {
  it('renders leastconn, health checks and MQTT-sized idle timeouts', () => {
    const cfg = haproxyConfig({ dir: '/x', mqttPort: 1, apiPort: 2, mqtt: [{ name: 'edge-1', port: 3 }], api: [{ name: 'api-1', port: 4 }], idleMs: 300_000, checkMs: 1000 })
    expect(cfg).toContain('balance leastconn')
    expect(cfg).toContain('timeout client 300000ms')
    expect(cfg).toContain('server edge-1 127.0.0.1:3 check inter 1000 fall 2 rise 2')
    expect(cfg).toContain('option httpchk GET /health')
  })

  it('spreads connections, routes around a dead backend, reloads without closing the port', async () => {
    const a = await namedServer('edge-a')
    const b = await namedServer('edge-b')
    const api = createHttpServer((req, res) => res.end(req.url === '/health' ? '{"status":"ok"}' : 'api'))
    const apiPort = await freePort()
    await new Promise<void>((r) => api.listen(apiPort, '127.0.0.1', r))
    closers.push(() => void api.close())
    const proxy: LocalHaproxy = await startHaproxy({
      dir: tmp.dir,
      mqttBackends: [
        { name: 'edge-a', port: a.port },
        { name: 'edge-b', port: b.port },
      ],
      apiBackends: [{ name: 'api-1', port: apiPort }],
      checkIntervalMs: 200,
    })
    closers.push(() => proxy.stop())
    expect(await until(async () => (await proxy.servers()).filter((s) => s.status === 'UP').length === 3, 10_000)).toBe(true)

    // leastconn: held connections alternate between the two edges.
    const names = []
    for (let i = 0; i < 4; i++) names.push((await whoAnswers(proxy.mqttPort)).name)
    expect(names.filter((n) => n === 'edge-a')).toHaveLength(2)
    expect(names.filter((n) => n === 'edge-b')).toHaveLength(2)

    // Edge a dies: its connections are closed, new ones all reach b.
    for (const s of a.sockets) s.destroy()
    a.server.close()
    expect(await until(async () => (await proxy.servers()).find((s) => s.server === 'edge-a')?.status.startsWith('DOWN') ?? false, 10_000)).toBe(true)
    for (let i = 0; i < 3; i++) expect((await whoAnswers(proxy.mqttPort)).name).toBe('edge-b')

    // The API frontend proxies HTTP.
    expect(await (await fetch(`${proxy.apiUrl}/anything`)).text()).toBe('api')

    // Reload with a third backend in a's place; the listening port stays.
    const c = await namedServer('edge-c')
    await proxy.reload({ mqtt: [{ name: 'edge-b', port: b.port }, { name: 'edge-c', port: c.port }] })
    expect(await until(async () => (await proxy.servers()).find((s) => s.server === 'edge-c')?.status === 'UP', 10_000)).toBe(true)
    const seen = new Set<string>()
    for (let i = 0; i < 6; i++) seen.add((await whoAnswers(proxy.mqttPort)).name)
    expect(seen.has('edge-c')).toBe(true)
  })
})
