/**
 * Token bucket per gateway (real time, not the domain clock: rates are physical).
 * `slowDown` halves the rate after a throttling answer; successes step it back
 * up by 10 % per second of good behaviour until the configured rate.
 */
export class RateLimiter {
  private readonly max: number
  private rate: number
  private tokens: number
  private last: number
  private pausedUntil = 0
  private readonly now: () => number

  constructor(ratePerSec: number, now: () => number = () => performance.now()) {
    this.max = ratePerSec
    this.rate = ratePerSec
    this.now = now
    this.tokens = Math.min(ratePerSec, Math.max(1, ratePerSec)) // burst of one second at most
    this.last = now()
  }

  current(): number {
    return this.rate
  }

  private refill(): void {
    const t = this.now()
    const dt = (t - this.last) / 1000
    this.last = t
    if (this.rate < this.max) this.rate = Math.min(this.max, this.rate * (1 + 0.1 * dt))
    this.tokens = Math.min(Math.max(1, this.rate), this.tokens + dt * this.rate)
  }

  /** Milliseconds to wait before `n` tokens are available (0: take them now). */
  take(n: number): number {
    this.refill()
    const t = this.now()
    if (t < this.pausedUntil) return this.pausedUntil - t
    const need = Math.min(n, Math.max(1, this.rate))
    if (this.tokens >= need) {
      this.tokens -= n // may go negative for a long message; the debt is paid before the next
      return 0
    }
    return Math.ceil(((need - this.tokens) / this.rate) * 1000)
  }

  slowDown(pauseMs: number): void {
    this.rate = Math.max(this.max / 16, this.rate / 2)
    this.tokens = 0
    this.pausedUntil = this.now() + pauseMs
  }
}
