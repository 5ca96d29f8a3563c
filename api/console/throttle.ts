/**
 * Sign-in failures counted per username and per address over a sliding
 * window; past the limit the console refuses before running scrypt, so a
 * password-guessing loop neither guesses on nor burns the CPU. NIST SP
 * 800-63B §5.2.2 requires limiting consecutive failures to at most 100 per
 * account; 10 per username and 50 per address in 15 minutes (judgment: an
 * office behind one NAT address has a few dozen staff) stay well inside it.
 * Bounded: at most `maxKeys` keys; the oldest is forgotten first.
 */
export interface ThrottleOptions {
  windowMs: number
  maxPerUser: number
  maxPerAddress: number
  maxKeys: number
  clock: () => number
}

export const THROTTLE_DEFAULTS = { windowMs: 15 * 60_000, maxPerUser: 10, maxPerAddress: 50, maxKeys: 10_000 } as const

export class SignInThrottle {
  private readonly failures = new Map<string, number[]>()

  constructor(private readonly o: ThrottleOptions) {}

  private recent(key: string): number[] {
    const since = this.o.clock() - this.o.windowMs
    const list = (this.failures.get(key) ?? []).filter((t) => t > since)
    if (list.length) this.failures.set(key, list)
    else this.failures.delete(key)
    return list
  }

  /** True when this username or address has failed too often lately. */
  blocked(username: string, address: string): boolean {
    return (username !== '' && this.recent(`u:${username.toLowerCase()}`).length >= this.o.maxPerUser) || this.recent(`a:${address}`).length >= this.o.maxPerAddress
  }

  fail(username: string, address: string): void {
    const now = this.o.clock()
    for (const key of [...(username ? [`u:${username.toLowerCase()}`] : []), `a:${address}`]) {
      const list = this.recent(key)
      // Re-inserted so the map's order is least recently failed first: that one is evicted.
      this.failures.delete(key)
      this.failures.set(key, [...list, now].slice(-Math.max(this.o.maxPerUser, this.o.maxPerAddress)))
      while (this.failures.size > this.o.maxKeys) this.failures.delete(this.failures.keys().next().value as string)
    }
  }

  /** A good sign-in clears the username's count (not the address's: one good password must not reset a spray). */
  succeed(username: string): void {
    this.failures.delete(`u:${username.toLowerCase()}`)
  }
}
