import { createServer, type AddressInfo } from 'node:net'
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls'
import { Aedes } from 'aedes'
import forge from 'node-forge'
import { afterEach, describe, expect, it } from 'vitest'
import { createSimulator, type Simulator } from '../../firmware-sim/simulator.ts'
import { log, readingsOf, tempDir, waitFor, watch } from './helpers.ts'

/** A self-signed certificate for "localhost", which is also its own CA. */
function selfSigned(): { cert: string; key: string } {
  const keys = forge.pki.rsa.generateKeyPair(2048)
  const cert = forge.pki.createCertificate()
  cert.publicKey = keys.publicKey
  cert.serialNumber = '01'
  cert.validity.notBefore = new Date(Date.now() - 60_000)
  cert.validity.notAfter = new Date(Date.now() + 24 * 3_600_000)
  const attrs = [{ name: 'commonName', value: 'localhost' }]
  cert.setSubject(attrs)
  cert.setIssuer(attrs)
  cert.setExtensions([
    { name: 'basicConstraints', cA: true },
    { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }] },
  ])
  cert.sign(keys.privateKey, forge.md.sha256.create())
  return { cert: forge.pki.certificateToPem(cert), key: forge.pki.privateKeyToPem(keys.privateKey) }
}

describe('TLS', () => {
  const cleanups: Array<() => Promise<void> | void> = []
  let sim: Simulator | undefined
  afterEach(async () => {
    await sim?.stop()
    sim = undefined
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  for (const flaky of [false, true]) {
    it(`connects over mqtts:// with a CA${flaky ? ' through the flaky proxy (verifying the broker name)' : ''}`, async () => {
      const { cert, key } = selfSigned()
      const aedes = await Aedes.createBroker({
        authenticate: (_c, u, p, done) => done(null, (u === 'cm-tls-01' && p?.toString() === 'tls-secret') || u === 'watcher'),
      })
      const tlsServer: TlsServer = createTlsServer({ cert, key }, aedes.handle)
      await new Promise<void>((r) => tlsServer.listen(0, '127.0.0.1', r))
      const plain = createServer(aedes.handle) // for the test's own subscriber
      await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r))
      cleanups.push(async () => {
        await new Promise<void>((r) => aedes.close(() => r()))
        await new Promise<void>((r) => tlsServer.close(() => r()))
        await new Promise<void>((r) => plain.close(() => r()))
      })
      const watcher = await watch(`mqtt://127.0.0.1:${(plain.address() as AddressInfo).port}`)
      cleanups.push(() => watcher.close())
      const tmp = tempDir()
      cleanups.push(() => tmp.cleanup())

      sim = createSimulator({
        brokerUrl: `mqtts://localhost:${(tlsServer.address() as AddressInfo).port}`,
        stations: [{ id: 'cm-tls-01', secret: 'tls-secret' }],
        intervalSec: 900,
        speed: 900 * 20,
        ca: cert,
        flaky: flaky ? { latencyMs: { min: 1, max: 5 } } : undefined,
        backoff: { baseMs: 20, capMs: 200 },
        dataDir: tmp.dir,
        log,
      })
      await sim.start()
      await waitFor(() => readingsOf(watcher.messages, 'cm-tls-01').length >= 2, 'readings over TLS')
      expect(sim.stats().stations[0]!.authFailures).toBe(0)
    })
  }

  it('refuses a broker whose certificate it cannot verify, and keeps buffering', async () => {
    const { cert, key } = selfSigned()
    const aedes = await Aedes.createBroker()
    const tlsServer: TlsServer = createTlsServer({ cert, key }, aedes.handle)
    await new Promise<void>((r) => tlsServer.listen(0, '127.0.0.1', r))
    cleanups.push(async () => {
      await new Promise<void>((r) => aedes.close(() => r()))
      await new Promise<void>((r) => tlsServer.close(() => r()))
    })
    const tmp = tempDir()
    cleanups.push(() => tmp.cleanup())
    sim = createSimulator({
      brokerUrl: `mqtts://localhost:${(tlsServer.address() as AddressInfo).port}`,
      stations: [{ id: 'cm-tls-02', secret: 'x' }],
      intervalSec: 900,
      speed: 900 * 20,
      backoff: { baseMs: 20, capMs: 200 },
      dataDir: tmp.dir,
      log,
    })
    await sim.start()
    await waitFor(() => sim!.stats().stations[0]!.connectFailures >= 3 && sim!.stats().buffered >= 2, 'refused and buffering')
    expect(sim.stats().stations[0]!.connects).toBe(0)
  })
})
