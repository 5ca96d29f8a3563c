/**
 * A bound on bytes held at once, first come first served (Telegraf's
 * max_undelivered_messages, in bytes). acquire() resolves when the bytes fit;
 * a request larger than the whole budget waits until it is alone, so nothing
 * is refused and nothing is overtaken forever.
 */
export class ByteBudget {
  private free: number
  private readonly waiters: Array<{ bytes: number; resolve: () => void }> = []

  constructor(readonly capacity: number) {
    this.free = capacity
  }

  /** undefined when the bytes fit now; otherwise a promise to await (the caller counts waits). */
  acquire(bytes: number): Promise<void> | undefined {
    const need = Math.min(bytes, this.capacity)
    if (this.waiters.length === 0 && this.free >= need) {
      this.free -= need
      return undefined
    }
    return new Promise<void>((resolve) => this.waiters.push({ bytes: need, resolve }))
  }

  release(bytes: number): void {
    this.free += Math.min(bytes, this.capacity)
    while (this.waiters.length > 0 && this.free >= this.waiters[0]!.bytes) {
      const next = this.waiters.shift()!
      this.free -= next.bytes
      next.resolve()
    }
  }
}
