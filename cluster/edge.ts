import { join } from 'node:path'
import type { NatsConnection } from '@nats-io/transport-node'
import { jetstream, type JetStreamManager } from '@nats-io/jetstream'
import type { Config } from '../core/config.ts'
import type { Logger } from '../core/log.ts'
import type { AcceptedReading, StationContext } from '../core/reading.ts'
import { openDatabase } from '../core/sqlite.ts'
import { startBroker, type BrokerHandle } from '../broker/server.ts'
import { registryEntitlement } from '../broker/session-guard.ts'
import type { ServiceAccount, StationAuthenticator } from '../broker/hooks/authenticate.ts'
import type { Sighting } from '../devices/registry.ts'
import { FeedbackPublisher } from '../ingest/feedback.ts'
import { Ingest, type IngestCounters } from '../ingest/ingest.ts'
import { QuarantineStore } from '../ingest/quarantine.ts'
import { Spool } from '../ingest/spool/spool.ts'
import { startDurableSink, type DurableSinkStats } from './log/durable-sink.ts'
import { connectLog, ensureReadingsLogRetrying, LogPublisher, nodeIdOf, requireLogConfig } from './log/readings-stream.ts'

/**
 * An edge node (`tidewatch edge`): the embedded Aedes broker with station
 * auth and validation exactly as `tidewatch up` has them, but the ingest's
 * durable hand-off is the replicated log (cluster/log/): a station's PUBACK
 * waits for the JetStream PubAck, i.e. for the stream's quorum. When the log
 * cannot be reached the edge acknowledges from its own fsync'd spool and
 * forwards later (cluster/log/durable-sink.ts). Edges share nothing with each
 * other; stations reach any of them (docs/CLUSTER.md).
 */
export interface EdgeDeps {
  config: Readonly<Config>
  /** The station registry: credentials for CONNECT, context for validation, last-seen bookkeeping. */
  stations: StationAuthenticator & {
    context(id: string): StationContext | undefined
    /** Last-seen bookkeeping, batched every 5 s: the Registry writes it at once, a MetadataReplica in the background (never blocking). */
    touchMany?(seen: ReadonlyMap<string, Sighting>): void
    /** The SQLite Registry's change counter; a MetadataReplica has none (its reads are in memory). */
    contextVersion?(): string
  }
  /** Service accounts allowed to CONNECT (e.g. the feedback reader of a test). */
  services?: readonly ServiceAccount[]
  log: Logger
  /** Called after readings are durable (the alerter, when one runs beside the edge). */
  onAccepted?: (readings: AcceptedReading[]) => void
}

export interface EdgeStats {
  nodeId: string
  /** Connected to a NATS server right now. */
  natsConnected: boolean
  natsServer?: string
  clients: number
  ingest: IngestCounters
  log: DurableSinkStats
}

export interface EdgeHandle {
  broker: BrokerHandle
  /** `mqtt://127.0.0.1:<port>` of the plaintext listener. */
  mqttUrl: string
  ingest: Ingest
  stats(): EdgeStats
  /** Arrival time of the oldest reading still only in the fallback spool. */
  oldestUnforwarded(): Promise<number | undefined>
  stop(): Promise<void>
}

/** How often last-seen and clock offsets go to the registry, as in ingest/service.ts. */
const SIGHTINGS_EVERY_MS = 5000

export async function startEdge(deps: EdgeDeps): Promise<EdgeHandle> {
  const { config, log } = deps
  requireLogConfig(config)
  const nats = config.cluster.nats
  const nodeId = nodeIdOf(config)
  const stops: Array<() => Promise<void> | void> = []
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.reverse()) {
      try {
        await stop()
      } catch (err) {
        log.error({ err }, 'error during edge shutdown')
      }
    }
  }

  try {
    const spool = await Spool.open({
      dir: join(config.dataDir, 'edge-spool'),
      maxBytes: config.ingest.spoolMaxBytes,
      segmentBytes: config.ingest.spoolSegmentBytes,
      log: log.child({ component: 'spool', lane: 'fallback' }),
    })
    stops.push(() => spool.close())

    let nc: NatsConnection | undefined
    let jsm: JetStreamManager | undefined
    let publisher: LogPublisher | undefined
    const sink = startDurableSink({
      publisher: () => publisher,
      probe: async () => {
        if (!jsm) throw new Error('no JetStream manager yet')
        await jsm.streams.info(nats.stream)
      },
      spool,
      log: log.child({ component: 'log-sink' }),
    })
    stops.push(() => sink.stop())

    // Connect in the background: an edge that starts while NATS is down
    // acknowledges from its spool until the log is there.
    let closing = false
    let connected = false
    const ready = (async (): Promise<void> => {
      const conn = await connectLog(config, { name: `edge:${nodeId}`, log, waitOnFirstConnect: true })
      if (closing) return void (await conn.close())
      nc = conn
      connected = true
      void watchStatus(conn)
      // The stream only: consumers are the writers' (limits retention keeps
      // every reading for max_age whether or not a consumer exists yet).
      jsm = await ensureReadingsLogRetrying(conn, config, { log, targets: [], stopped: () => closing })
      if (closing) return
      publisher = new LogPublisher(jetstream(conn), {
        subjectPrefix: nats.subjectPrefix,
        nodeId,
        timeoutMs: nats.publishTimeoutMs,
        maxPayloadBytes: conn.info?.max_payload ?? 1024 * 1024,
      })
      sink.poke()
    })().catch((err: unknown) => log.error({ err }, 'NATS connection failed for good'))
    stops.push(async () => {
      closing = true
      await nc?.drain().catch(() => nc?.close())
    })

    async function watchStatus(conn: NatsConnection): Promise<void> {
      for await (const s of conn.status()) {
        if (s.type === 'disconnect') {
          connected = false
          sink.fallBack('disconnected from NATS')
        } else if (s.type === 'reconnect') {
          connected = true
          sink.poke()
        }
      }
    }

    // Give the first connect a moment so the first readings need no fallback.
    await Promise.race([ready, new Promise((r) => setTimeout(r, nats.publishTimeoutMs).unref())])

    const quarantineDb = openDatabase(join(config.dataDir, 'quarantine.db'))
    stops.push(() => void quarantineDb.close())
    const quarantine = new QuarantineStore(quarantineDb, config.ingest.quarantineMaxRows, log.child({ component: 'quarantine' }))
    const feedback = new FeedbackPublisher({ log: log.child({ component: 'feedback' }) })
    stops.push(() => feedback.stop())
    const ingest = new Ingest({
      config,
      stations: deps.stations,
      spool: sink.lane('backlog'),
      liveSpool: sink.lane('live'),
      quarantine,
      log: log.child({ component: 'ingest' }),
      onAccepted: deps.onAccepted,
      feedback,
      // As in ingest/service.ts: a disable or recalibration applies within 1 s.
      contextTtlMs: 1000,
    })

    const flushSightings = (): void => {
      const seen = ingest.takeLastSeen()
      if (seen.size) deps.stations.touchMany?.(seen)
    }
    const sightings = setInterval(flushSightings, SIGHTINGS_EVERY_MS)
    sightings.unref()
    stops.push(() => {
      clearInterval(sightings)
      flushSightings()
    })

    const broker = await startBroker({
      config,
      stations: deps.stations,
      services: deps.services ?? [],
      log: log.child({ component: 'broker' }),
      gate: async (stationId, payload) => void (await ingest.handle(stationId, payload)),
      onRefused: (r) => void ingest.quarantineOnly([r]).catch((err: unknown) => log.error({ err }, 'cannot record refusal')),
      feedback,
      // Live sessions are re-checked against the registry or the replica: on a version change, or every second for the replica (map reads, one per session).
      sessions: deps.stations.contextVersion ? registryEntitlement(deps.stations, () => deps.stations.contextVersion!()) : { ...registryEntitlement(deps.stations), sweepMs: 1000 },
    })
    // Last pushed, first stopped: no PUBACK is sent once shutdown starts.
    stops.push(() => broker.close())
    log.info({ nodeId, mqttPort: broker.port, servers: nats.servers }, 'edge started')

    return {
      broker,
      mqttUrl: `mqtt://127.0.0.1:${broker.port ?? 0}`,
      ingest,
      stats: () => ({
        nodeId,
        natsConnected: connected && nc !== undefined && !nc.isClosed(),
        natsServer: nc?.getServer(),
        clients: broker.connectedClients(),
        ingest: { ...ingest.counters, rejectedByReason: { ...ingest.counters.rejectedByReason } },
        log: sink.stats(),
      }),
      oldestUnforwarded: () => sink.oldestPending(),
      stop: stopAll,
    }
  } catch (err) {
    await stopAll()
    throw err
  }
}
