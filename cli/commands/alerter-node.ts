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
  Stations, rules and subscribers come from this node's registry (data dir);
  with cluster.postgres.url set (TIDEWATCH_POSTGRES_URL) that registry
  follows PostgreSQL (docs/CLUSTER.md, "Subscribers"), and the node waits
  for its first copy before it competes for the lease. The leader answers
  keyword SMS (DK, HUY, TT); DK and HUY change PostgreSQL's subscribers.
  --group NAME   one active evaluator per group (default main)
  --lease-ms MS  lease time, 2000–30000 (default 5000); failover takes about this long
  Logs are JSON lines on stderr; Ctrl-C gives the lease up and stops.`

export async function alerterNodeCommand(argv: string[], config: Readonly<Config>, log: Logger, io: Io, until: Promise<void>): Promise<number> {
  const { values } = parse(argv, { group: { type: 'string' }, 'lease-ms': { type: 'string' } }, false)
  const group = values.group ?? 'main'
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(group)) throw new TidewatchError('BAD_REQUEST', { flag: 'group', value: group }, `--group must be 1–64 letters, digits, "-" or "_", got "${group}"`)
  // 2 s: below it a GC pause or one slow KV write would depose a healthy leader; 30 s is issue 16's failover bar.
  const leaseTtlMs = numberFlag('lease-ms', values['lease-ms'], 5000, { min: 2000, max: 30_000, integer: true })
  const [{ Registry }, { startAlerterNode }, { requireLogConfig, nodeIdOf }] = await Promise.all([
    import('../../devices/registry.ts'),
    import('../../cluster/alerter/node.ts'),
    import('../../cluster/log/readings-stream.ts'),
  ])
  requireLogConfig(config)
  const registry = Registry.open(registryPath(config))
  let mirror: import('../../cluster/metadata/mirror.ts').ClusterRegistryMirror | undefined
  let recorder: import('../../cluster/metadata/outbox-record.ts').OutboxRecorder | undefined
  try {
    const { url, poolMax } = config.cluster.postgres
    if (url) {
      // Cluster mode: stations, rules and subscribers are PostgreSQL's, copied into this node's registry
      // on a connection of its own. A node that never copied them would lead with none of them (farmers
      // who subscribed elsewhere missed, and the cursor moved past their alerts), so it waits for the
      // first copy; once following, a PostgreSQL outage leaves it serving its last copy.
      const { startClusterRegistryMirror } = await import('../../cluster/metadata/mirror.ts')
      mirror = await startClusterRegistryMirror({ url, poolMax, registry: () => Registry.open(registryPath(config)), log })
      const first = await Promise.race([mirror.ready, until.then(() => 'stopped' as const)])
      if (first === 'stopped' || first === undefined) return 0
      io.stderr(`tidewatch alerter: stations, rules and subscribers follow PostgreSQL`)
      // The outbox is recorded in PostgreSQL for staff, after KV (which fences sending), in the background.
      const { OutboxRecorder } = await import('../../cluster/metadata/outbox-record.ts')
      const following = mirror
      recorder = new OutboxRecorder(
        {
          record: (changes) => {
            const outbox = following.outboxLog()
            if (!outbox) throw new TidewatchError('POSTGRES_UNAVAILABLE', {}, 'this node does not follow PostgreSQL now')
            return outbox.record(changes)
          },
        },
        { node: nodeIdOf(config), log },
      )
    }
    // A Ctrl-C while the readings stream cannot be reached yet ends the start, not only a running node.
    const stopped = new AbortController()
    void until.then(() => stopped.abort())
    const node = await startAlerterNode({
      config,
      registry,
      log,
      signal: stopped.signal,
      // Keyword SMS (DK, HUY) change subscriptions in PostgreSQL, never in the copy the mirror owns.
      subscriberWriter: mirror?.subscribers,
      outboxRecord: recorder,
      options: { group, leaseTtlMs, renewEveryMs: Math.max(500, Math.round(leaseTtlMs / 5)), pollEveryMs: Math.max(250, Math.round(leaseTtlMs / 10)) },
    }).catch((err: unknown) => {
      if (stopped.signal.aborted) return undefined
      throw err
    })
    if (!node) return 0
    io.stderr(`tidewatch alerter: node ${node.stats().node}, group ${group}, lease ${leaseTtlMs} ms; waiting for the lease`)
    await until
    await node.stop()
    return 0
  } finally {
    await recorder?.stop()
    await mirror?.stop()
    registry.close()
  }
}
