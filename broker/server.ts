import { readFileSync } from 'node:fs'
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { createServer as createTlsServer, type TLSSocket } from 'node:tls'
import { join } from 'node:path'
import { Aedes } from 'aedes'
import { Level } from 'level'
import { IndexedLevelPersistence } from './session-index.ts'
import { skipUnroutedPublishes } from './unrouted-publish.ts'
import type { Config } from '../core/config.ts'
import type { Logger } from '../core/log.ts'
import { createAuthenticate, type ServiceAccount, type StationAuthenticator } from './hooks/authenticate.ts'
import { createAuthorizePublish, type DurableGate, type RefusalSink } from './hooks/authorize-publish.ts'
import { createAuthorizeSubscribe } from './hooks/authorize-subscribe.ts'
import { createPasswordVerifier, dummyHash } from '../core/password.ts'
import { Identities } from './identity.ts'
import { brokerFamilies, newBrokerCounters, type BrokerCounters } from './metrics.ts'
import type { MetricFamily } from '../core/metrics.ts'
import { createSecurityLog } from '../core/security-log.ts'
import { registryEntitlement, startSessionGuard, type SessionGuardOptions, type SessionPolicy } from './session-guard.ts'

/**
 * The Aedes broker on TCP and, when a certificate is configured, TLS; with
 * `mqtt.plaintext: false` on TLS only. All policy comes in through the
 * hooks; this file only wires and listens.
 */
export interface BrokerDeps {
  config: Readonly<Config>
  stations: StationAuthenticator
  services: readonly ServiceAccount[]
  log: Logger
  /** Embedded mode: the ingest's durable hand-off, run before the PUBACK. */
  gate?: DurableGate
  onRefused?: RefusalSink
  /**
   * Embedded mode: the ingest's feedback publisher (ingest/feedback.ts) gets
   * aedes.publish as its transport. A broker-side publish skips
   * authorizePublish and never touches a client connection.
   */
  feedback?: { attach(publish: (topic: string, payload: Buffer) => Promise<void>): () => void }
  /**
   * Which live station sessions may stay (session-guard.ts), from the
   * composition root. Unset, the same facts CONNECT checks are asked of
   * `stations` on the periodic sweep alone: a revoked station is never left
   * connected for want of wiring.
   */
  sessions?: SessionPolicy & SessionGuardOptions
}

export interface BrokerHandle {
  aedes: Aedes
  /** The plaintext MQTT port; undefined in TLS-only mode (mqtt.plaintext: false). */
  port: number | undefined
  tlsPort?: number
  counters: BrokerCounters
  connectedClients(): number
  /** For /metrics (core/metrics.ts): the counters and the open connections. */
  metrics(): MetricFamily[]
  close(): Promise<void>
}

/**
 * Connections the kernel may hold completed but not yet accepted. Node's
 * default is 511; when every station reconnects at once (after a 4G outage
 * or a restart) the overflow is dropped and each dropped station waits out
 * TCP's SYN retransmission backoff (1, 3, 7, 15 s, …): measured with
 * bench/reconnect-storm.ts, 10,000 stations took 60 s with 511. Linux caps
 * the value at net.core.somaxconn, 4096 by default since kernel 5.4
 * (listen(2)); asking for more is harmless.
 */
const LISTEN_BACKLOG = 65_535

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', reject)
      resolve((server.address() as AddressInfo).port)
    })
  })
}

export async function startBroker(deps: BrokerDeps): Promise<BrokerHandle> {
  const { config, log } = deps
  const identities = new Identities()
  const counters = newBrokerCounters()
  // Without on-disk state a broker restart would forget the queue of a
  // standalone ingest's persistent session (docs/DURABILITY.md).
  const db = config.mqtt.persistence === 'level' ? new Level<string, unknown>(join(config.dataDir, 'broker-state')) : undefined
  if (db) await db.open()
  const security = createSecurityLog(log)
  const { verifyQueue, ...limits } = config.mqtt.auth
  const verifier = createPasswordVerifier({ maxQueue: verifyQueue })
  const auth = createAuthenticate({
    stations: deps.stations,
    services: deps.services,
    identities,
    counters,
    log,
    security,
    verifier,
    dummyHash: dummyHash(),
    limits,
    clientCerts: config.mqtt.clientCerts,
  })
  const persistence = db ? new IndexedLevelPersistence(db) : undefined
  const aedes = await Aedes.createBroker({
    id: 'tidewatch',
    ...(persistence ? { persistence } : {}),
    authenticate: auth.authenticate,
    authorizePublish: createAuthorizePublish({
      identities,
      counters,
      maxPayloadBytes: config.mqtt.maxPayloadBytes,
      log,
      security,
      gate: deps.gate,
      onRefused: deps.onRefused,
    }),
    authorizeSubscribe: createAuthorizeSubscribe({ identities, counters, log, security }),
  }).catch(async (err: unknown) => {
    // The state DB is open by now: a broker that cannot be created must not leave it locked for the next start.
    await db?.close().catch((closeErr: unknown) => log.error({ err: closeErr }, 'cannot close the broker state DB'))
    throw err
  })
  // Only with the indexed session store: aedes' in-memory one cannot say synchronously who subscribed.
  if (persistence && !skipUnroutedPublishes(aedes, persistence, counters)) log.warn('aedes emitter without a listener trie: every publish takes the full pipeline')
  const detachFeedback = deps.feedback?.attach(
    (topic, payload) =>
      new Promise<void>((resolve, reject) => {
        // QoS 1, not retained: stale feedback must not greet a reconnecting station (docs/PROTOCOL.md).
        aedes.publish({ cmd: 'publish', topic, payload, qos: 1, retain: false, dup: false }, (err) => (err ? reject(err) : resolve()))
      }),
  )
  const sessions: SessionPolicy & SessionGuardOptions = deps.sessions ?? registryEntitlement(deps.stations)
  const guard = startSessionGuard({ aedes, identities, policy: sessions, counters, security, log, tickMs: sessions.tickMs, sweepMs: sessions.sweepMs, clock: sessions.clock })
  aedes.on('clientError', (client, err) => log.debug({ clientId: client?.id, err: err.message }, 'client error'))
  aedes.on('connectionError', (_client, err) => log.debug({ err: err.message }, 'connection error'))

  /**
   * A client certificate whose issuer *name* matches the station CA but
   * whose signature does not verify (a forged CA of the same name) leaves
   * OpenSSL's error on the connection: the socket errors before CONNECT, so
   * hooks/authenticate.ts never sees it. It is refused either way (no
   * CONNACK, connection closed); this only makes it a security event.
   */
  function watchForgedChain(socket: TLSSocket): void {
    socket.once('error', (err) => {
      if (socket.authorized) return
      const cert = socket.getPeerCertificate()
      if (!cert || Object.keys(cert).length === 0) return
      counters.connectsRefused.cert++
      security.event(
        'mqtt.cert.refused',
        { reason: 'untrusted', error: String(socket.authorizationError ?? 'unknown'), detail: err.message.slice(0, 200), subject: cert.subject?.CN, issuer: cert.issuer?.CN, serial: cert.serialNumber, fingerprint256: cert.fingerprint256, remote: socket.remoteAddress },
        'client certificate failed verification in the TLS layer',
      )
    })
  }

  const servers: Server[] = []
  async function close(): Promise<void> {
    guard.stop()
    detachFeedback?.()
    // Closing aedes first ends client connections, so server.close() can finish.
    const closed = Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))))
    await new Promise<void>((r) => aedes.close(() => r()))
    await closed
    await verifier.close()
    security.flush()
    await db?.close()
  }

  let port: number | undefined
  let tlsPort: number | undefined
  // A port in use (or an unreadable certificate) ends the start, and what is
  // already open is closed: the password worker, the session guard's timers
  // and the state database would otherwise keep the process alive, a service
  // that failed to start but never exits.
  try {
    // TLS-only mode opens no plaintext socket at all: a station secret sent
    // in clear over 4G is readable by anyone on the path (docs/SECURITY.md).
    if (config.mqtt.plaintext) {
      const tcp = createServer((socket) => (auth.admitSocket(socket.remoteAddress) ? aedes.handle(socket) : socket.destroy()))
      servers.push(tcp)
      port = await listen(tcp, config.mqtt.port, config.mqtt.host)
    }
    if (config.mqtt.certFile && config.mqtt.keyFile) {
      const clientCa = config.mqtt.clientCaFile ?? config.mqtt.caFile
      const tls = createTlsServer(
        {
          cert: readFileSync(config.mqtt.certFile),
          key: readFileSync(config.mqtt.keyFile),
          ...(config.mqtt.caFile ? { ca: readFileSync(config.mqtt.caFile) } : {}),
          minVersion: 'TLSv1.2',
          // Device certificates: ask every TLS client for one, verified against
          // the CA that issues station certificates (and the CRL, if one is
          // configured). rejectUnauthorized is false on purpose: the verdict is
          // taken at CONNECT (hooks/authenticate.ts), where a refusal gets a
          // CONNACK and a security event naming the certificate, and where a
          // station without a certificate may still use its secret
          // (clientCerts: 'optional') or is refused ('required'). The client
          // still proves it holds the certificate's key in the handshake
          // (CertificateVerify, RFC 8446 §4.4.3) whatever the chain verdict.
          ...(config.mqtt.clientCerts !== 'off' && clientCa
            ? {
                requestCert: true,
                rejectUnauthorized: false,
                // Only the issuer of station certificates: a certificate from the
                // server's own CA (if different) must not pass as a station's.
                ca: readFileSync(clientCa),
                ...(config.mqtt.crlFile ? { crl: readFileSync(config.mqtt.crlFile) } : {}),
              }
            : {}),
        },
        (socket) => {
          if (config.mqtt.clientCerts !== 'off') watchForgedChain(socket)
          aedes.handle(socket)
        },
      )
      // Judged on the raw TCP connection, before the handshake costs anything.
      tls.on('connection', (raw: Socket) => {
        if (!auth.admitSocket(raw.remoteAddress)) raw.destroy()
      })
      // Handshake failures (scanners, wrong CA) are logged, never fatal.
      tls.on('tlsClientError', (err) => log.debug({ err: err.message }, 'TLS handshake failed'))
      servers.push(tls)
      tlsPort = await listen(tls, config.mqtt.tlsPort, config.mqtt.host)
    }
  } catch (err) {
    await close()
    throw err
  }
  log.info({ port: port ?? 'off (TLS only)', tlsPort }, 'MQTT broker listening')

  return {
    aedes,
    port,
    tlsPort,
    counters,
    connectedClients: () => aedes.connectedClients,
    metrics: () => brokerFamilies(counters, aedes.connectedClients),
    close,
  }
}
