import { createHash } from 'node:crypto'
import type { Station } from '../../devices/registry.ts'

/**
 * Two small caches that keep the latest-values request of 1,000 stations
 * under 200 ms (bench/sta.ts) without serving anything the registry no
 * longer says:
 *
 * - the entity graph (and the properties it renders) is reused while the
 *   public stations are unchanged, for at most `ttlMs` (levels in force
 *   come from the rule book and may change without the registry: they show
 *   within `ttlMs`);
 * - a response body is reused for the same URL while the stations, the
 *   latest-values snapshot (latest-cache.ts) and `ttlMs` allow, and only when
 *   building it asked InfluxDB nothing directly. Bounded in entries and bytes;
 *   the oldest entry goes first.
 */
export function stationsFingerprint(stations: readonly Station[]): string {
  const h = createHash('sha1')
  for (const s of stations) {
    h.update(JSON.stringify([s.id, s.name, s.commune, s.district, s.lat, s.lon, s.coast, s.zone, s.code, s.intervalSec, s.enabled, s.createdAt, s.sensors]))
  }
  return h.digest('base64url')
}

export class TtlCache<V> {
  private readonly entries = new Map<string, { validity: string; at: number; value: V; bytes: number }>()
  private bytes = 0

  constructor(
    private readonly opts: { ttlMs: number; maxEntries: number; maxBytes: number },
    private readonly clock: () => number = Date.now,
  ) {}

  get(key: string, validity: string): V | undefined {
    const e = this.entries.get(key)
    if (!e) return undefined
    if (e.validity !== validity || this.clock() - e.at >= this.opts.ttlMs) {
      this.delete(key)
      return undefined
    }
    return e.value
  }

  set(key: string, validity: string, value: V, bytes = 0): void {
    if (bytes > this.opts.maxBytes) return
    this.delete(key)
    this.entries.set(key, { validity, at: this.clock(), value, bytes })
    this.bytes += bytes
    // Oldest first: Map keeps insertion order.
    for (const k of this.entries.keys()) {
      if (this.entries.size <= this.opts.maxEntries && this.bytes <= this.opts.maxBytes) break
      this.delete(k)
    }
  }

  private delete(key: string): void {
    const e = this.entries.get(key)
    if (!e) return
    this.bytes -= e.bytes
    this.entries.delete(key)
  }
}
