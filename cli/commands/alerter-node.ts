import type { Config } from '../../core/config.ts'
import { TidewatchError } from '../../core/errors.ts'
import type { Logger } from '../../core/log.ts'
import { numberFlag, parse, registryPath, type Io } from '../args.ts'

export const USAGE = `Usage: tidewatch alerter [--config FILE] [--group NAME] [--lease-ms MS]
  A cluster alerter node (docs/CLUSTER.md, "Alerter"): reads the readings log
  on NATS JetStream (cluster.nats.servers, TIDEWATCH_NATS_SERVERS) and sends
  alerts through the SMS channel of the config. Run two or more: the one that
  holds the group's lease in JetStream KV evaluates and sends, the others
  stand by and take over within about the lease time when it dies.
  Subscribers and rules come from this node's registry (data dir).
  --group NAME   one active evaluator per group (default main)
  --lease-ms MS  lease time, 2000–30000 (default 5000); failover takes about this long
  Logs are JSON lines on stderr; Ctrl-C gives the lease up and stops.`

export async function alerterNodeCommand(argv: string[], config: Readonly<Config>, log: Logger, io: Io, until: Promise<void>): Promise<number> {
  const { values } = parse(argv, { group: { type: 'string' }, 'lease-ms': { type: 'string' } }, false)
  const group = values.group ?? 'main'
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(group)) throw new TidewatchError('BAD_REQUEST', { flag: 'group', value: group }, `--group must be 1–64 letters, digits, "-" or "_", got "${group}"`)
  // 2 s: below it a GC pause or one slow KV write would depose a healthy leader; 30 s is issue 16's failover bar.
  const leaseTtlMs = numberFlag('lease-ms', values['lease-ms'], 5000, { min: 2000, max: 30_000, integer: true })
  const [{ Registry }, { startAlerterNode }, { requireLogConfig }] = await Promise.all([
    import('../../devices/registry.ts'),
    import('../../cluster/alerter/node.ts'),
    import('../../cluster/log/readings-stream.ts'),
  ])
  requireLogConfig(config)
  const registry = Registry.open(registryPath(config))
  try {
    const node = await startAlerterNode({
      config,
      registry,
      log,
      options: { group, leaseTtlMs, renewEveryMs: Math.max(500, Math.round(leaseTtlMs / 5)), pollEveryMs: Math.max(250, Math.round(leaseTtlMs / 10)) },
    })
    io.stderr(`tidewatch alerter: node ${node.stats().node}, group ${group}, lease ${leaseTtlMs} ms; waiting for the lease`)
    await until
    await node.stop()
    return 0
  } finally {
    registry.close()
  }
}
