import type { Config } from '../../core/config.ts'
import { TidewatchError } from '../../core/errors.ts'
import type { Logger } from '../../core/log.ts'
import { requireLogConfig } from '../../cluster/log/readings-stream.ts'
import { requireTarget, startWriter, type WriterHandle } from '../../cluster/writer.ts'
import { parse, type Io } from '../args.ts'
import { runUntilStopped } from '../run-node.ts'

export const USAGE = `Usage: tidewatch writer --target NAME [--config FILE]
  A writer of a cluster (docs/CLUSTER.md): drains the replicated log (NATS
  JetStream at cluster.nats.servers) into one InfluxDB target of
  influx.targets (e.g. primary in DC, dr in DR) through that target's
  durable consumer, acknowledging only what InfluxDB stored. Run any number
  per target; they share the work. One target down never holds back another.
  Logs are JSON lines on stderr; Ctrl-C stops cleanly.`

export async function writerCommand(args: string[], config: Readonly<Config>, log: Logger, io: Io, until: Promise<void>): Promise<number> {
  const { values } = parse(args, { target: { type: 'string' } }, false)
  if (!values.target) throw new TidewatchError('BAD_REQUEST', { flag: 'target' }, '--target NAME is required (an influx.targets name, e.g. primary or dr)')
  requireLogConfig(config)
  requireTarget(config, values.target)
  // A Ctrl-C while the readings stream cannot be reached yet ends the start, not only a running writer.
  const stopped = new AbortController()
  void until.then(() => stopped.abort())
  let writer: WriterHandle
  try {
    writer = await startWriter({ config, target: values.target, log, signal: stopped.signal })
  } catch (err) {
    if (stopped.signal.aborted) return 0
    throw err
  }
  io.stdout(`Writer for target "${values.target}" running (log: ${config.cluster.nats.servers.join(', ')})`)
  await runUntilStopped(writer, {
    until,
    io,
    logStats: () =>
      void writer.backlog().then(
        (b) => log.info({ ...writer.stats(), ...b }, 'writer stats'),
        () => log.info(writer.stats(), 'writer stats'),
      ),
  })
  return 0
}
