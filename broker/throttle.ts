/**
 * CONNECT throttling: token buckets and failure lockouts keyed by source
 * address and by station id. Station ids are public (the open API lists
 * them), so an attacker needs no secret to aim at one; every map here is
 * bounded, because the keys come from the attacker.
 */

/** A Map that forgets its least recently used key beyond `max`. */
export class BoundedMap<K, V> {
  private readonly map = new Map<K, V>()
  constructor(private readonly max: number) {}
  get(key: K): V | undefined {
    const v = this.map.get(key)
    if (v !== undefined) {
      // Re-insert so iteration order is least recently used first.
      this.map.delete(key)
      this.map.set(key, v)
    }
    return v
  }
  set(key: K, value: V): void {
    this.map.delete(key)
    this.map.set(key, value)
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as K)
  }
  delete(key: K): void {
    this.map.delete(key)
  }
  get size(): number {
    return this.map.size
  }
}

export interface BucketOptions {
  /** Attempts allowed at once. */
  burst: number
  /** Attempts refilled per second. */
  perSec: number
  maxKeys: number
  clock?: () => number
}

/**
 * One token bucket per key. A key evicted under pressure comes back with a
 * full bucket, so `maxKeys` must exceed the number of keys an attacker can
 * rotate through within one refill period; what it buys is bounded memory.
 */
export class TokenBuckets {
  private readonly buckets: BoundedMap<string, { tokens: number; at: number }>
  private readonly clock: () => number
  constructor(private readonly opts: BucketOptions) {
    this.buckets = new BoundedMap(opts.maxKeys)
    this.clock = opts.clock ?? Date.now
  }
  take(key: string): boolean {
    const now = this.clock()
    const b = this.buckets.get(key) ?? { tokens: this.opts.burst, at: now }
    b.tokens = Math.min(this.opts.burst, b.tokens + ((now - b.at) / 1000) * this.opts.perSec)
    b.at = now
    const ok = b.tokens >= 1
    if (ok) b.tokens -= 1
    this.buckets.set(key, b)
    return ok
  }
}

export interface LockoutOptions {
  /** Consecutive failures before the first lock. */
  threshold: number
  baseMs: number
  maxMs: number
  maxKeys: number
  clock?: () => number
}

export type LockoutResult = { locked: false; failures: number } | { locked: true; failures: number; lockMs: number; lockouts: number }

/**
 * Exponential lockout: after `threshold` consecutive failures a key is locked
 * for baseMs, and each failure after a lock ends locks it again for twice as
 * long, up to maxMs. A success forgets the key. A key quiet for maxMs after
 * its lock ends starts over.
 */
export class Lockouts {
  private readonly entries: BoundedMap<string, { failures: number; lockouts: number; until: number }>
  private readonly clock: () => number
  constructor(private readonly opts: LockoutOptions) {
    this.entries = new BoundedMap(opts.maxKeys)
    this.clock = opts.clock ?? Date.now
  }
  /** Milliseconds until the key is unlocked; 0 when it is not locked. */
  lockedFor(key: string): number {
    const e = this.entries.get(key)
    return e ? Math.max(0, e.until - this.clock()) : 0
  }
  failure(key: string): LockoutResult {
    const now = this.clock()
    let e = this.entries.get(key)
    if (e && e.lockouts > 0 && now - e.until > this.opts.maxMs) e = undefined
    e ??= { failures: 0, lockouts: 0, until: 0 }
    e.failures++
    let result: LockoutResult = { locked: false, failures: e.failures }
    if (e.failures >= this.opts.threshold || e.lockouts > 0) {
      const lockMs = Math.min(this.opts.maxMs, this.opts.baseMs * 2 ** e.lockouts)
      e.lockouts++
      e.until = now + lockMs
      result = { locked: true, failures: e.failures, lockMs, lockouts: e.lockouts }
    }
    this.entries.set(key, e)
    return result
  }
  success(key: string): void {
    this.entries.delete(key)
  }
}
