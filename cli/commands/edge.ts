import type { Config } from '../../core/config.ts'
import type { Logger } from '../../core/log.ts'
import { Registry } from '../../devices/registry.ts'
import { startEdge } from '../../cluster/edge.ts'
import { requireLogConfig } from '../../cluster/log/readings-stream.ts'
import { parse, registryPath, type Io } from '../args.ts'

export const USAGE = `Usage: tidewatch edge [--config FILE]
  An edge node of a cluster (docs/CLUSTER.md): the MQTT broker with station
  auth and validation, whose PUBACK waits until the reading is committed to
  the replicated log (NATS JetStream at cluster.nats.servers, or
  TIDEWATCH_NATS_SERVERS). When the log cannot be reached it acknowledges
  from its own fsync'd spool (<data>/edge-spool) and forwards it later.
  Edges share nothing; run as many as you like behind HAProxy.
  Writers (tidewatch writer) take the readings on to InfluxDB.
  Logs are JSON lines on stderr; Ctrl-C stops cleanly.`

/** How often the edge logs its figures (fallback, spool lag) while running. */
const STATS_LOG_EVERY_MS = 60_000

export async function edgeCommand(args: string[], config: Readonly<Config>, log: Logger, io: Io, until: Promise<void>): Promise<number> {
  parse(args, {}, false)
  requireLogConfig(config)
  const registry = Registry.open(registryPath(config))
  try {
    const edge = await startEdge({ config, stations: registry, log })
    io.stdout(`MQTT   ${edge.mqttUrl}   (PUBACK after the replicated log: ${config.cluster.nats.servers.join(', ')})`)
    const timer = setInterval(() => {
      const s = edge.stats()
      log.info({ clients: s.clients, natsConnected: s.natsConnected, accepted: s.ingest.readingsAccepted, ...s.log }, 'edge stats')
    }, STATS_LOG_EVERY_MS)
    timer.unref()
    try {
      await until
    } finally {
      clearInterval(timer)
      io.stdout('Stopping…')
      await edge.stop()
    }
    return 0
  } finally {
    registry.close()
  }
}
