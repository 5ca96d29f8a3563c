/**
 * The station's reading schedule: every interval it samples the signals at
 * simulated time, applies the injected faults and appends the reading to
 * the outbox. `ts` is always the wall clock: the ingest rejects readings
 * from the future or too far in the past, and a real RTC does not run at
 * the simulator's `speed`.
 */
import type { Clock, TimerHandle } from './clock.ts'
import { corruptJson, type FaultInjector } from './faults.ts'
import type { Outbox } from './outbox.ts'
import type { Rng } from './prng.ts'
import { formatTimestamp, type OutboxBody, type StationReading, type TimestampFormat } from './reading.ts'
import { sampleSignals, type StationProfile } from './signals.ts'

export interface SamplerOptions {
  readonly profile: StationProfile
  /** Simulated epoch ms the signals are evaluated at. */
  readonly simulatedNow: () => number
  readonly clock: Clock
  readonly tsFormat: TimestampFormat
  /** The signals' own stream: enabling faults must not change the signals of the same seed. */
  readonly signalRng: Rng
  readonly faults: FaultInjector
  readonly faultRng: Rng
}

export class Sampler {
  /** Readings generated. */
  generated = 0

  constructor(private readonly options: SamplerOptions) {}

  /** Takes one reading into the outbox. */
  sampleInto(outbox: Outbox<OutboxBody>): void {
    const { profile, simulatedNow, clock, tsFormat, signalRng, faults, faultRng } = this.options
    const signal = sampleSignals(profile, simulatedNow(), signalRng)
    const injected = faults.apply(signal.values)
    const ts = formatTimestamp(clock.now(), tsFormat)
    outbox.append((seq): OutboxBody => {
      const reading: StationReading = { ts, seq, values: injected.values, battery: signal.battery, rssi: signal.rssi }
      return injected.malformed ? { raw: corruptJson(JSON.stringify(reading), faultRng) } : { r: reading }
    })
    this.generated++
  }
}

/** Calls `tick` after a first delay, then every interval, until stopped. */
export class Schedule {
  private timer: TimerHandle | undefined
  private stopped = false

  constructor(
    private readonly clock: Clock,
    private readonly intervalMs: number,
    private readonly tick: () => void,
  ) {}

  start(firstDelayMs: number): void {
    this.next(firstDelayMs)
  }

  stop(): void {
    this.stopped = true
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer)
  }

  private next(delayMs: number): void {
    this.timer = this.clock.setTimeout(() => {
      this.tick()
      if (!this.stopped) this.next(this.intervalMs)
    }, delayMs)
  }
}
