import type { Config } from '../../core/config.ts'
import type { Logger } from '../../core/log.ts'
import { Registry } from '../../devices/registry.ts'
import { startEdge } from '../../cluster/edge.ts'
import { requireLogConfig } from '../../cluster/log/readings-stream.ts'
import { openNodeStations } from '../../cluster/metadata/open.ts'
import { parse, registryPath, type Io } from '../args.ts'
import { runUntilStopped } from '../run-node.ts'

export const USAGE = `Usage: tidewatch edge [--config FILE]
  An edge node of a cluster (docs/CLUSTER.md): the MQTT broker with station
  auth and validation, whose PUBACK waits until the reading is committed to
  the replicated log (NATS JetStream at cluster.nats.servers, or
  TIDEWATCH_NATS_SERVERS). When the log cannot be reached it acknowledges
  from its own fsync'd spool (<data>/edge-spool) and forwards it later.
  Stations and their secrets come from the shared PostgreSQL metadata when
  cluster.postgres.url (TIDEWATCH_POSTGRES_URL) is set, held in memory and
  kept fresh by its change feed; without it, from this node's own registry.
  Edges share nothing; run as many as you like behind HAProxy.
  Writers (tidewatch writer) take the readings on to InfluxDB.
  Logs are JSON lines on stderr; Ctrl-C stops cleanly.`

export async function edgeCommand(args: string[], config: Readonly<Config>, log: Logger, io: Io, until: Promise<void>): Promise<number> {
  parse(args, {}, false)
  requireLogConfig(config)
  // Ctrl-C while PostgreSQL is still away at start stops the waiting too.
  const stopping = new AbortController()
  void until.then(() => stopping.abort())
  const metadata = await openNodeStations({ postgres: config.cluster.postgres, registry: () => Registry.open(registryPath(config)), log, signal: stopping.signal })
  try {
    const edge = await startEdge({ config, stations: metadata.stations, log })
    io.stdout(`MQTT   ${edge.mqttUrl}   (PUBACK after the replicated log: ${config.cluster.nats.servers.join(', ')}; stations from ${metadata.backend === 'postgres' ? 'PostgreSQL' : 'the local registry'})`)
    await runUntilStopped(edge, {
      until,
      io,
      logStats: () => {
        const s = edge.stats()
        log.info({ clients: s.clients, natsConnected: s.natsConnected, accepted: s.ingest.readingsAccepted, ...s.log, metadata: metadata.replica?.counters }, 'edge stats')
      },
    })
    return 0
  } finally {
    await metadata.close()
  }
}
