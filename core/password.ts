import { createHmac, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'
import { Worker } from 'node:worker_threads'

/**
 * Two kinds of secret, two hashes.
 *
 * Station secrets are random 144-bit strings that we generate (never chosen
 * or typed by a person). For a secret of at least 112 bits of entropy a
 * salted one-way function is enough: NIST SP 800-63B §5.1.2.2 (look-up
 * secrets) asks for a slow password-hashing scheme only below 112 bits,
 * because guessing 2^144 values is out of reach whatever the hash costs.
 * EMQX's built-in authentication does the same by default (salted SHA-256).
 * So station secrets are stored as `hmac-sha256$<salt>$<mac>`: HMAC-SHA-256
 * keyed by a 16-byte per-secret salt. A check costs microseconds on the
 * calling thread, so 10,000 stations reconnecting after an outage or a broker
 * restart are not 10,000 scrypt runs (182 s on this machine; issue 13).
 *
 * Secrets that people choose (staff passwords, if any are kept here) keep
 * scrypt (RFC 7914), whose cost is what protects a guessable secret.
 * Parameters travel with the hash so they can be raised later. A station hash
 * stored with scrypt before issue 13 still verifies (on the worker below) and
 * is replaced by the fast hash at the station's next successful login
 * (`needsRehash`, broker/hooks/authenticate.ts).
 */
const DEFAULT_PARAMS = { N: 16384, r: 8, p: 1 } as const
const KEY_LEN = 32
const FAST = 'hmac-sha256'
const SALT_BYTES = 16

function scryptAsync(password: string, salt: Buffer, params: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, KEY_LEN, { ...params, maxmem: 64 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key))),
  )
}

/** A new station secret: 18 random bytes = 144 bits, base64url (24 characters). */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url')
}

function mac(secret: string, salt: Buffer): Buffer {
  return createHmac('sha256', salt).update(secret, 'utf8').digest()
}

/** The fast salted hash for generated (high-entropy) station secrets. */
export function hashDeviceSecret(secret: string): string {
  const salt = randomBytes(SALT_BYTES)
  return `${FAST}$${salt.toString('base64')}$${mac(secret, salt).toString('base64')}`
}

/** scrypt, for secrets a person chose. Not for station secrets (see above). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16)
  const { N, r, p } = DEFAULT_PARAMS
  const key = await scryptAsync(password, salt, { N, r, p })
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${key.toString('base64')}`
}

export function hashScheme(stored: string): 'hmac-sha256' | 'scrypt' | undefined {
  const scheme = stored.slice(0, stored.indexOf('$'))
  return scheme === FAST || scheme === 'scrypt' ? scheme : undefined
}

/** A station hash still in the slow (pre-issue-13) form: rehash it with the secret that just verified. */
export function needsRehash(stored: string): boolean {
  return hashScheme(stored) === 'scrypt'
}

/** Constant-time check against a fast hash; false for any other form. */
export function verifyDeviceSecret(secret: string, stored: string): boolean {
  const parts = stored.split('$')
  if (parts.length !== 3 || parts[0] !== FAST) return false
  const expected = Buffer.from(parts[2]!, 'base64')
  const actual = mac(secret, Buffer.from(parts[1]!, 'base64'))
  return expected.length === actual.length && timingSafeEqual(actual, expected)
}

/** Either form; scrypt runs on the libuv pool here (the CLI), on the worker in the broker. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  if (hashScheme(stored) === FAST) return verifyDeviceSecret(password, stored)
  const parts = stored.split('$')
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string]
  const expected = Buffer.from(hash, 'base64')
  const actual = await scryptAsync(password, Buffer.from(salt, 'base64'), { N: Number(n), r: Number(r), p: Number(p) })
  return actual.length === expected.length && timingSafeEqual(actual, expected)
}

/** The verifier's queue is full: the caller should refuse for now (CONNACK 3), not wait. */
export class VerifierBusyError extends Error {
  constructor(readonly pending: number) {
    super(`password verifier busy (${pending} checks queued)`)
  }
}

export interface PasswordVerifier {
  verify(password: string, stored: string): Promise<boolean>
  /** Checks queued or running. */
  readonly pending: number
  close(): Promise<void>
}

// The worker is plain CommonJS evaluated from a string: it needs only
// node:crypto, and a .ts worker file would need tsx's loader in the worker.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads')
const { scryptSync, timingSafeEqual } = require('node:crypto')
parentPort.on('message', (m) => {
  let ok = false
  try {
    const expected = Buffer.from(m.hash, 'base64')
    const key = scryptSync(m.password, Buffer.from(m.salt, 'base64'), expected.length, { N: m.n, r: m.r, p: m.p, maxmem: 64 * 1024 * 1024 })
    ok = expected.length > 0 && timingSafeEqual(key, expected)
  } catch {}
  parentPort.postMessage({ id: m.id, ok })
})
`

/**
 * Password checks: fast hashes inline, scrypt on a dedicated worker thread
 * with a bounded queue (legacy station hashes until they are migrated, and
 * any secret a person chose).
 *
 * crypto.scrypt's async form runs on the libuv thread pool (4 threads by
 * default), and so does the spool's fs.fsync. Measured on this machine
 * (bench/connect-flood.ts): a flood of 50 concurrent wrong-password CONNECTs
 * queued scrypt ahead of every fsync, and a connected station's PUBACK p50
 * went from 3 ms to seconds. On its own thread scrypt costs one core at most
 * and the pool stays free for disk I/O. A full queue refuses at once instead
 * of growing: the caller answers "server unavailable" and the station retries.
 */
export function createPasswordVerifier(opts: { maxQueue?: number } = {}): PasswordVerifier {
  const maxQueue = opts.maxQueue ?? 64
  let worker: Worker | undefined
  let nextId = 0
  const waiting = new Map<number, (ok: boolean) => void>()
  const start = (): Worker => {
    const w = new Worker(WORKER_SOURCE, { eval: true })
    w.on('message', (m: { id: number; ok: boolean }) => {
      waiting.get(m.id)?.(m.ok)
      waiting.delete(m.id)
      if (waiting.size === 0) w.unref()
    })
    // A dead worker fails its pending checks closed and is restarted on next use.
    w.on('error', () => undefined)
    w.on('exit', () => {
      if (worker === w) worker = undefined
      for (const done of waiting.values()) done(false)
      waiting.clear()
    })
    return w
  }
  return {
    get pending() {
      return waiting.size
    },
    verify(password, stored) {
      // A fast hash is checked here, on the caller's thread: it costs
      // microseconds, so queueing it behind scrypt checks would only add delay.
      if (hashScheme(stored) === FAST) return Promise.resolve(verifyDeviceSecret(password, stored))
      const parts = stored.split('$')
      if (parts.length !== 6 || parts[0] !== 'scrypt') return Promise.resolve(false)
      if (waiting.size >= maxQueue) return Promise.reject(new VerifierBusyError(waiting.size))
      const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string]
      worker ??= start()
      // Referenced only while checks are pending, so an idle verifier never keeps the process alive.
      worker.ref()
      const id = nextId++
      const w = worker
      return new Promise<boolean>((resolve) => {
        waiting.set(id, resolve)
        w.postMessage({ id, password, salt, hash, n: Number(n), r: Number(r), p: Number(p) })
      })
    },
    async close() {
      const w = worker
      worker = undefined
      if (w) await w.terminate()
    },
  }
}

/**
 * A hash of a random secret that nobody knows, in the form new station
 * secrets get: checking a password for an unknown station against it takes
 * as long as for a known (migrated) one, so response time does not reveal
 * which ids exist. A station still on a legacy scrypt hash answers a wrong
 * secret more slowly until its next good login migrates it; station ids are
 * public anyway (docs/SECURITY.md).
 */
export function dummyHash(): Promise<string> {
  return Promise.resolve(hashDeviceSecret(generatePassword()))
}
