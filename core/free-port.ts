import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'

/**
 * A loopback TCP port that is free now, for a server we are about to start in
 * another process (influxd, nats-server, PostgreSQL, HAProxy, a node).
 *
 * The port is released before that process binds it, so anything that takes
 * it in between wins. Two things did, in CI (a nats-server of `cluster up`
 * died at start, its port taken):
 *  - outgoing connections: the kernel gives every connect() a local port from
 *    the ephemeral range (ip_local_port_range, 32768–60999 on Debian), the same
 *    range listen(0) draws from, and tests open thousands of connections;
 *  - this process: listen(0) may hand the same port out twice in a row.
 * So ports are drawn at random BELOW the ephemeral range, where connect() never
 * goes, and never twice from one process. Other processes drawing at the same
 * time meet one in ~20,000. Should that range be full, listen(0) answers.
 */
const handedOut = new Set<number>()
const LOWEST = 10_000
const ATTEMPTS = 50

function ephemeralStart(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
    return Number.isInteger(low) && low > LOWEST + 1000 ? low : LOWEST
  } catch {
    return LOWEST
  }
}

let rangeEnd: number | undefined

function bindable(port: number, host: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const srv = createServer()
    srv.unref()
    srv.once('error', () => resolve(undefined))
    srv.listen(port, host, () => {
      const addr = srv.address()
      const bound = typeof addr === 'object' && addr ? addr.port : undefined
      srv.close(() => resolve(bound))
    })
  })
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  rangeEnd ??= ephemeralStart()
  for (let i = 0; i < ATTEMPTS && rangeEnd > LOWEST; i++) {
    const port = LOWEST + Math.floor(Math.random() * (rangeEnd - LOWEST))
    if (handedOut.has(port)) continue
    // Taken before the probe: calls run side by side (Promise.all), and each awaits its probe.
    handedOut.add(port)
    if ((await bindable(port, host)) === port) return port
    handedOut.delete(port)
  }
  for (let i = 0; i < ATTEMPTS; i++) {
    const port = await bindable(0, host)
    if (port !== undefined && !handedOut.has(port)) {
      handedOut.add(port)
      return port
    }
  }
  throw new Error(`no free TCP port on ${host}`)
}

/** `preferred` when it can be bound on `host` now, else freePort(). */
export async function preferredOrFreePort(preferred: number, host = '127.0.0.1'): Promise<number> {
  return (await bindable(preferred, host)) === preferred ? preferred : freePort(host)
}
