import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chownSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { TidewatchError } from '../../core/errors.ts'
import type { Logger } from '../../core/log.ts'
import { stopChild } from '../../core/child-process.ts'
import { freePort } from '../../core/free-port.ts'

/**
 * A throwaway PostgreSQL 15 cluster (Debian's `postgresql`) on loopback, for
 * the cluster tests, the chaos scenarios and the local-cluster command:
 * initdb into a temp dir, the postmaster as a child process, a `tidewatch`
 * database created once it accepts connections.
 *
 * PostgreSQL refuses to run as root ("root execution of the PostgreSQL server
 * is not permitted", src/backend/main/main.c), so when we are root initdb and
 * the postmaster run as the `postgres` user (spawn's uid/gid, like `runuser`,
 * but the child is the postmaster itself, so kill() reaches it).
 *
 * Not for production data: authentication is `trust` on 127.0.0.1 and a unix
 * socket in the private dir, and fsync is off — a killed process loses
 * nothing (its committed WAL is in the OS page cache), only an OS crash would.
 */
export interface LocalPostgres {
  /** `postgres://tidewatch@127.0.0.1:<port>/tidewatch` */
  url: string
  port: number
  dir: string
  /** The postmaster's pid while it runs. */
  pid(): number | undefined
  /** Fast shutdown; the data dir is removed if this module created it. */
  stop(): Promise<void>
  /** Fast shutdown, then start again on the same port and data. */
  restart(): Promise<void>
  /** SIGKILL to the postmaster, for chaos tests; restart() brings it back. */
  kill(): void
}

export interface LocalPostgresOptions {
  /** A process group of its own: a Ctrl-C at the terminal then reaches only the launcher, which stops everything in order (`tidewatch cluster up`). */
  ownProcessGroup?: boolean
  /** Where the cluster lives; a new temp dir (removed by stop()) when unset. */
  dir?: string
  port?: number
  database?: string
  log?: Logger
  binDir?: string
  startTimeoutMs?: number
}

/** Debian's layout: one directory per major version. */
export const POSTGRES_BIN_DIR = '/usr/lib/postgresql/15/bin'
export const POSTGRES_INSTALL_HINT = 'sudo apt-get update && sudo apt-get install -y postgresql'
const SUPERUSER = 'tidewatch'

function runAs(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined
  const id = (flag: string): number => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim())
  return { uid: id('-u'), gid: id('-g') }
}

/** Start-up refusals that pass once the killed postmaster's backends have exited. */
function isTransientStartFailure(stderr: string): boolean {
  return /pre-existing shared memory block|lock file .* already exists|could not bind/.test(stderr)
}

export async function startLocalPostgres(opts: LocalPostgresOptions = {}): Promise<LocalPostgres> {
  const binDir = opts.binDir ?? POSTGRES_BIN_DIR
  if (!existsSync(join(binDir, 'postgres'))) {
    throw new TidewatchError('POSTGRES_NOT_INSTALLED', { binDir, hint: POSTGRES_INSTALL_HINT }, `PostgreSQL 15 is not installed in ${binDir}. Run: ${POSTGRES_INSTALL_HINT}`)
  }
  const owned = opts.dir === undefined
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'tidewatch-pg-'))
  mkdirSync(dir, { recursive: true })
  const user = runAs()
  if (user) chownSync(dir, user.uid, user.gid)
  const dataDir = join(dir, 'data')
  const database = opts.database ?? 'tidewatch'
  const port = opts.port ?? (await freePort())
  const url = `postgres://${SUPERUSER}@127.0.0.1:${port}/${database}`
  const log = opts.log?.child({ component: 'postgres' })

  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    // --no-sync: a throwaway cluster need not wait for the disk (see the header).
    const init = spawnSync(join(binDir, 'initdb'), ['-D', dataDir, '-U', SUPERUSER, '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'], {
      encoding: 'utf8',
      cwd: dir,
      ...user,
    })
    if (init.status !== 0) throw new TidewatchError('POSTGRES_UNAVAILABLE', { stderr: init.stderr.slice(-1000) }, `initdb failed: ${init.stderr.trim().split('\n').pop()}`)
  }

  let child: ChildProcess | undefined

  const launch = (): { proc: ChildProcess; stderr: () => string } => {
    const args = [
      '-D', dataDir,
      '-p', String(port),
      '-k', dir,
      '-c', 'listen_addresses=127.0.0.1',
      // fsync off for speed: see the header. synchronous_commit stays on: a
      // commit left in the WAL buffers (shared memory) is lost with a kill -9.
      '-c', 'fsync=off',
      '-c', 'full_page_writes=off',
      '-c', 'logging_collector=off',
    ]
    const proc = spawn(join(binDir, 'postgres'), args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], detached: opts.ownProcessGroup, ...user })
    let stderr = ''
    proc.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000)
    })
    proc.on('exit', (code, signal) => {
      if (code) log?.warn({ code, signal, stderr: stderr.slice(-500) }, 'postgres exited')
    })
    return { proc, stderr: () => stderr }
  }

  /** Connects until the server answers (it refuses while starting up or recovering). */
  const waitReady = async (proc: ChildProcess, stderr: () => string, deadline: number): Promise<'ready' | 'exited'> => {
    while (Date.now() < deadline) {
      if (proc.exitCode !== null || proc.signalCode !== null) return 'exited'
      const client = new pg.Client({ host: '127.0.0.1', port, user: SUPERUSER, database: 'postgres', connectionTimeoutMillis: 1_000 })
      client.on('error', () => {})
      try {
        await client.connect()
        // While ours was down another process may have taken the port (tests in parallel pick free ports too).
        const dir = (await client.query<{ dir: string }>("SELECT current_setting('data_directory') AS dir")).rows[0]?.dir
        if (dir === dataDir) return 'ready'
      } catch {
        // not accepting yet
      } finally {
        await client.end().catch(() => {})
      }
      await new Promise((r) => setTimeout(r, 50))
    }
    throw new TidewatchError('POSTGRES_UNAVAILABLE', { port, stderr: stderr().slice(-1000) }, `postgres did not accept connections within ${opts.startTimeoutMs ?? 30_000} ms`)
  }

  const start = async (): Promise<void> => {
    const deadline = Date.now() + (opts.startTimeoutMs ?? 30_000)
    for (;;) {
      const { proc, stderr } = launch()
      child = proc
      if ((await waitReady(proc, stderr, deadline)) === 'ready') return
      // After kill(), the old postmaster's backends may still hold its shared memory for a moment.
      if (!isTransientStartFailure(stderr()) || Date.now() >= deadline) {
        throw new TidewatchError('POSTGRES_UNAVAILABLE', { port, stderr: stderr().slice(-1000) }, `postgres exited during start-up: ${stderr().trim().split('\n').pop()}`)
      }
      await new Promise((r) => setTimeout(r, 200))
    }
  }

  const halt = async (): Promise<void> => {
    const proc = child
    child = undefined
    // SIGINT is "fast shutdown": clients are disconnected. SIGTERM ("smart")
    // would wait for every pooled connection to close (PostgreSQL 15 docs §19.5).
    if (proc) await stopChild(proc, 'SIGINT')
  }

  await start()
  const admin = new pg.Client({ host: '127.0.0.1', port, user: SUPERUSER, database: 'postgres' })
  await admin.connect()
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database])
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`)
  } finally {
    await admin.end()
  }
  log?.info({ port, dir }, 'local postgres started')

  return {
    url,
    port,
    dir,
    pid: () => child?.pid,
    stop: async () => {
      await halt()
      if (owned) rmSync(dir, { recursive: true, force: true })
    },
    restart: async () => {
      await halt()
      await start()
    },
    kill: () => {
      child?.kill('SIGKILL')
      child = undefined
    },
  }
}
