/**
 * What a cluster test prints when a writer did not drain its consumer in
 * time: the writers' last log lines and, per target, the consumer's state as
 * JetStream sees it. A stall seen once in CI (edge-writer, "all NATS servers
 * down") left only a tally behind; this is what tells a lost pull request
 * (num_waiting 0) from a consumer that delivers nothing (delivered stuck,
 * num_pending > 0) from a writer that holds messages (num_ack_pending).
 */
import { Writable } from 'node:stream'
import { jetstreamManager } from '@nats-io/jetstream'
import type { Config } from '../../core/config.ts'
import { createLogger, silentLogger, type Logger } from '../../core/log.ts'
import { connectLog, consumerName } from '../../cluster/log/readings-stream.ts'
import { consumerState } from '../../cluster/writer.ts'

export interface RecentLog {
  /** A debug-level logger whose lines are kept here. */
  log: Logger
  /** The last lines, oldest first. */
  lines(): string[]
}

/**
 * Keeps the last `capacity` JSON log lines in memory (older ones are
 * dropped: a bounded ring for a test's own diagnostics). With
 * TIDEWATCH_TEST_LOG set (tests/cluster/fixture.ts) they also go to stderr.
 */
export function recentLog(capacity = 200): RecentLog {
  const teeToStderr = Boolean(process.env.TIDEWATCH_TEST_LOG)
  const kept: string[] = []
  const sink = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      if (teeToStderr) process.stderr.write(chunk)
      kept.push(String(chunk).trimEnd())
      if (kept.length > capacity) kept.splice(0, kept.length - capacity)
      done()
    },
  })
  return { log: createLogger('debug', sink), lines: () => [...kept] }
}

/** Each target consumer's info, one line per target (or why it could not be read). */
export async function consumerReport(config: Readonly<Config>, targets: readonly string[]): Promise<string[]> {
  const stream = config.cluster.nats.stream
  const nc = await connectLog(config, { name: 'test-diagnostics', log: silentLogger })
  try {
    const jsm = await jetstreamManager(nc, { timeout: 5000 })
    return await Promise.all(
      targets.map(async (target) => {
        try {
          return `${target}: ${JSON.stringify(consumerState(await jsm.consumers.info(stream, consumerName(target))))}`
        } catch (err) {
          return `${target}: consumer info failed: ${(err as Error).message}`
        }
      }),
    )
  } finally {
    await nc.close()
  }
}

/** Prints the consumers' state and the writers' recent log lines (to stderr, next to vitest's failure). */
export async function explainStall(what: string, config: Readonly<Config>, targets: readonly string[], logs: readonly RecentLog[] = []): Promise<void> {
  const report = await consumerReport(config, targets).catch((err: Error) => [`consumer info unavailable: ${err.message}`])
  const lines = logs.flatMap((l) => l.lines()).slice(-120)
  console.error([`--- ${what}: consumers`, ...report, `--- last ${lines.length} writer log lines`, ...lines, '---'].join('\n'))
}
