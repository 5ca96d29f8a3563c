import { spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Logger } from '../../core/log.ts'
import { stopChild } from '../../core/child-process.ts'
import { freePort } from '../../core/free-port.ts'

/**
 * Local NATS JetStream servers on loopback (Debian's `nats-server`, 2.9.10
 * here): one node, or an N-node cluster with routes between every pair. For
 * the tests, `npm run chaos` and `tidewatch cluster`, which all need real
 * servers they can kill and restart. Each node gets its own generated config
 * file and store dir under `dir`, fixed ports for its whole life (a restarted
 * node comes back where its peers and clients expect it), and a server_name
 * (JetStream clustering requires a unique one per node).
 */
export interface NatsNode {
  /** server_name, e.g. `n1`. */
  readonly name: string
  /** Client URL, `nats://127.0.0.1:<port>`. */
  readonly url: string
  readonly clientPort: number
  /** HTTP monitoring port (/jsz, /healthz). */
  readonly monitorPort: number
  readonly storeDir: string
  readonly configFile: string
  running(): boolean
  /** Sends a signal (SIGKILL for chaos, SIGTERM for a clean stop) and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>
  /** Starts the node again on the same ports and store; resolves once it serves JetStream. */
  restart(): Promise<void>
}

export interface NatsCluster {
  readonly nodes: readonly NatsNode[]
  /** Client URLs of every node, for `cluster.nats.servers`. */
  readonly servers: readonly string[]
  /** Resolves once every running node sees a JetStream meta leader. */
  ready(timeoutMs?: number): Promise<void>
  /** SIGTERM to every node (SIGKILL after 10 s). */
  stop(): Promise<void>
}

export interface StartNatsOptions {
  /** A process group of its own: a Ctrl-C at the terminal then reaches only the launcher, which stops everything in order (`tidewatch cluster up`). */
  ownProcessGroup?: boolean
  /** Parent dir of every node's store and config. */
  dir: string
  /** 1 = a single JetStream server without routes; 3 is the smallest cluster that survives losing one node. */
  nodes?: number
  /** The cluster's name (routes only join servers of the same name). */
  clusterName?: string
  binary?: string
  log?: Logger
  startTimeoutMs?: number
}

const BINARY_CANDIDATES = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server']

export function findNatsServer(): string | undefined {
  return BINARY_CANDIDATES.find((p) => existsSync(p))
}

interface NodePorts {
  name: string
  client: number
  cluster: number
  monitor: number
}

function configText(node: NodePorts, all: readonly NodePorts[], storeDir: string, clusterName: string): string {
  const lines = [
    `server_name: ${node.name}`,
    `listen: 127.0.0.1:${node.client}`,
    `http: 127.0.0.1:${node.monitor}`,
    // Small local limits: this is a laptop cluster, not production sizing (docs/CLUSTER.md).
    `jetstream {`,
    `  store_dir: "${storeDir}"`,
    `  max_memory_store: 64MB`,
    `  max_file_store: 4GB`,
    `}`,
  ]
  if (all.length > 1) {
    lines.push(
      `cluster {`,
      `  name: ${clusterName}`,
      `  listen: 127.0.0.1:${node.cluster}`,
      `  routes: [`,
      ...all.filter((n) => n !== node).map((n) => `    nats-route://127.0.0.1:${n.cluster}`),
      `  ]`,
      `}`,
    )
  }
  return lines.join('\n') + '\n'
}

async function jsMetaLeader(monitorPort: number): Promise<string | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${monitorPort}/jsz`, { signal: AbortSignal.timeout(1000) })
    if (!res.ok) return undefined
    const body = (await res.json()) as { config?: unknown; meta_cluster?: { leader?: string } }
    // A single server has no meta cluster: JetStream is ready once /jsz shows its config.
    if (!body.meta_cluster) return body.config ? 'self' : undefined
    return body.meta_cluster.leader || undefined
  } catch {
    return undefined
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

export async function startNatsCluster(opts: StartNatsOptions): Promise<NatsCluster> {
  const binary = opts.binary ?? findNatsServer()
  if (!binary) throw new Error('nats-server is not installed (Debian: apt-get install -y nats-server)')
  const count = opts.nodes ?? 3
  // Routes have no auth here, and every local cluster has nodes n1..n3 on ports
  // from freePort(): with one shared name, another cluster's node that dials a
  // port recycled from ours (a killed node's, a freePort() race) joins ours as
  // a route peer, duplicate server_name and all, and its client URLs are
  // gossiped to our clients. A name of our own makes our nodes refuse it. Taken
  // from the dir, so a cluster re-launched on the same stores keeps its name.
  const clusterName = opts.clusterName ?? `tidewatch-${createHash('sha256').update(resolve(opts.dir)).digest('hex').slice(0, 12)}`
  const startTimeoutMs = opts.startTimeoutMs ?? 30_000
  // A node whose port was taken between freePort() and its bind exits at
  // once; a cluster started without it would run on two nodes and lose its
  // quorum at the first kill. Fresh ports for all, a few times.
  for (let attempt = 1; ; attempt++) {
    const ports: NodePorts[] = []
    for (let i = 1; i <= count; i++) ports.push({ name: `n${i}`, client: await freePort(), cluster: await freePort(), monitor: await freePort() })
    const cluster = createNodes(binary, ports, clusterName, startTimeoutMs, opts)
    try {
      await cluster.startAll()
    } catch (err) {
      await cluster.stop()
      if (err instanceof NodeExitedAtStart && attempt < 3) {
        opts.log?.warn({ err: err.message, attempt }, 'nats-server exited at start; trying fresh ports')
        continue
      }
      throw err
    }
    opts.log?.info({ servers: cluster.servers }, 'NATS JetStream ready')
    return cluster
  }
}

class NodeExitedAtStart extends Error {}

function createNodes(
  binary: string,
  ports: readonly NodePorts[],
  clusterName: string,
  startTimeoutMs: number,
  opts: StartNatsOptions,
): NatsCluster & { startAll(): Promise<void> } {
  const nodes = ports.map((p) => {
    const nodeDir = join(opts.dir, p.name)
    const storeDir = join(nodeDir, 'jetstream')
    mkdirSync(storeDir, { recursive: true })
    const configFile = join(nodeDir, 'nats.conf')
    writeFileSync(configFile, configText(p, ports, storeDir, clusterName))
    let child: ChildProcess | undefined
    /** Set while we stop it: nats-server 2.9 exits with code 1 after a SIGTERM, which is not worth a warning. */
    let stopping = false
    let lastExit: string | undefined
    const log = opts.log?.child({ component: 'nats-server', node: p.name })

    const spawnNode = (): void => {
      const proc = spawn(binary, ['-c', configFile], { stdio: ['ignore', 'ignore', 'pipe'], detached: opts.ownProcessGroup })
      child = proc
      let stderr = ''
      proc.stderr?.on('data', (d: Buffer) => {
        stderr = (stderr + d.toString()).slice(-4000)
      })
      proc.on('exit', (code, signal) => {
        if (child === proc) child = undefined
        lastExit = `code ${code ?? signal}: ${stderr.trim().split('\n').pop() ?? ''}`
        if (code && !stopping) log?.warn({ code, signal, stderr: stderr.slice(-500) }, 'nats-server exited')
      })
    }

    const node: NatsNode = {
      name: p.name,
      url: `nats://127.0.0.1:${p.client}`,
      clientPort: p.client,
      monitorPort: p.monitor,
      storeDir,
      configFile,
      running: () => child !== undefined,
      async kill(signal = 'SIGKILL') {
        const proc = child
        if (!proc) return
        stopping = true
        try {
          await stopChild(proc, signal)
        } finally {
          stopping = false
        }
        child = undefined
      },
      async restart() {
        await node.kill('SIGTERM')
        spawnNode()
        await waitFor([node], startTimeoutMs)
      },
    }
    return Object.assign(node, { spawn: spawnNode, lastExit: () => lastExit })
  })

  /**
   * Every given running node answers /jsz with a meta leader; with
   * `allRunning`, a node that has exited is an error naming it.
   */
  async function waitFor(which: readonly NatsNode[], timeoutMs: number, allRunning = false): Promise<void> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const dead = allRunning ? nodes.find((n) => which.includes(n) && !n.running()) : undefined
      if (dead) throw new NodeExitedAtStart(`nats-server ${dead.name} exited at start: ${dead.lastExit() ?? 'no output'}`)
      const live = which.filter((n) => n.running())
      const leaders = await Promise.all(live.map((n) => jsMetaLeader(n.monitorPort)))
      if (live.length > 0 && leaders.every(Boolean)) return
      if (Date.now() > deadline) throw new Error(`NATS JetStream not ready within ${timeoutMs} ms (nodes ${which.map((n) => n.name).join(', ')})`)
      await sleep(100)
    }
  }

  return {
    nodes,
    servers: nodes.map((n) => n.url),
    ready: (timeoutMs = startTimeoutMs) => waitFor(nodes, timeoutMs),
    async stop() {
      await Promise.all(nodes.map((n) => n.kill('SIGTERM')))
    },
    async startAll() {
      for (const n of nodes) n.spawn()
      await waitFor(nodes, startTimeoutMs, true)
    },
  }
}
