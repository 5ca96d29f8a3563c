import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { describe, expect, it } from 'vitest'
import { freePort, preferredOrFreePort } from '../../core/free-port.ts'

describe('freePort', () => {
  it('hands out bindable ports below the ephemeral range, never the same one twice', async () => {
    const ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
    const ports: number[] = []
    // Side by side, as the cluster's engines ask for theirs.
    for (let i = 0; i < 4; i++) ports.push(...(await Promise.all(Array.from({ length: 50 }, () => freePort()))))
    expect(new Set(ports).size).toBe(ports.length)
    // Below it when there is room below it (core/free-port.ts draws from 10,000 up).
    if (ephemeralLow > 11_000) for (const p of ports) expect(p).toBeLessThan(ephemeralLow)
    const srv = createServer()
    await new Promise<void>((r) => srv.listen(ports[0], '127.0.0.1', r))
    await new Promise<void>((r) => srv.close(() => r()))
  })

  it('gives the preferred port when it is free, and another when it is taken', async () => {
    const preferred = await freePort()
    expect(await preferredOrFreePort(preferred)).toBe(preferred)
    const srv = createServer()
    await new Promise<void>((r) => srv.listen(preferred, '127.0.0.1', r))
    try {
      const other = await preferredOrFreePort(preferred)
      expect(other).not.toBe(preferred)
    } finally {
      await new Promise<void>((r) => srv.close(() => r()))
    }
  })
})
