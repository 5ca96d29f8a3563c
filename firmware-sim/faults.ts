/**
 * Fault injection, OFF unless a probability is set. Each fault is one a real
 * field station produces, so the ingest's quarantine and quality checks can
 * be exercised end to end:
 * - spike: an electrical transient (pump switching on, lightning) – one value
 *   jumps but stays physically plausible, so only a rate-of-change check can
 *   catch it;
 * - stuck: a fouled or frozen sensor repeats its last value for a while;
 * - out of range: the firmware's "no reading" sentinel (-9999) or a broken
 *   electrode's rail value, which the ingest must quarantine as VALUE_OUT_OF_RANGE;
 * - malformed: a payload cut short by a buffer bug or a brown-out mid-write,
 *   which the ingest must quarantine as PAYLOAD_NOT_JSON.
 * All draws come from the rng passed in, so a seed reproduces the faults.
 */
import { SENSORS, type SensorKind } from '../core/sensors.ts'
import type { Rng } from './prng.ts'

export interface FaultOptions {
  /** Probability per reading of a spike on one sensor. Default 0. */
  readonly spike?: number
  /** Probability per reading that one sensor gets stuck. Default 0. */
  readonly stuck?: number
  /** How many readings a stuck sensor repeats its value. Default 20. */
  readonly stuckReadings?: number
  /** Probability per reading of an out-of-range value on one sensor. Default 0. */
  readonly outOfRange?: number
  /** Probability per reading that its payload is sent as malformed JSON. Default 0. */
  readonly malformed?: number
}

export type FaultKind = 'spike' | 'stuck' | 'out_of_range' | 'malformed'

export interface FaultResult {
  readonly values: Partial<Record<SensorKind, number>>
  readonly faults: readonly FaultKind[]
  /** The station must send this reading as broken JSON (see corruptJson). */
  readonly malformed: boolean
}

export interface FaultInjector {
  apply(values: Partial<Record<SensorKind, number>>): FaultResult
  /** How many of each fault were injected, for stats and test assertions. */
  counts(): Readonly<Record<FaultKind, number>>
}

/** Spike sizes per sensor: large enough to be obviously wrong, still inside the plausible range. */
const SPIKE: Readonly<Record<SensorKind, number>> = {
  salinity: 12,
  water_level: 120,
  ph: 1.5,
  no2: 3,
  temperature: 5,
  conductivity: 15,
}

/** The value firmware commonly writes when an ADC read fails. */
export const SENTINEL = -9999

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng.next() * items.length)]!
}

export function createFaultInjector(options: FaultOptions | undefined, rng: Rng): FaultInjector {
  const opts = Object.freeze({ spike: 0, stuck: 0, stuckReadings: 20, outOfRange: 0, malformed: 0, ...options })
  const counts: Record<FaultKind, number> = { spike: 0, stuck: 0, out_of_range: 0, malformed: 0 }
  // Stuck sensors: the frozen value and how many more readings it lasts.
  const stuck = new Map<SensorKind, { value: number; left: number }>()

  return {
    apply(input) {
      const values = { ...input }
      const faults: FaultKind[] = []
      const kinds = Object.keys(values) as SensorKind[]
      if (kinds.length === 0) return { values, faults, malformed: false }

      if (rng.chance(opts.stuck)) {
        const kind = pick(rng, kinds)
        if (!stuck.has(kind)) stuck.set(kind, { value: values[kind]!, left: opts.stuckReadings })
      }
      for (const [kind, s] of stuck) {
        if (!(kind in values)) continue
        values[kind] = s.value
        faults.push('stuck')
        counts.stuck++
        if (--s.left <= 0) stuck.delete(kind)
      }

      if (rng.chance(opts.spike)) {
        const kind = pick(rng, kinds)
        const spec = SENSORS[kind]
        const sign = rng.chance(0.5) ? 1 : -1
        const v = values[kind]! + sign * SPIKE[kind] * rng.uniform(0.7, 1.3)
        values[kind] = Math.round(Math.min(spec.max, Math.max(spec.min, v)) * 1000) / 1000
        faults.push('spike')
        counts.spike++
      }

      if (rng.chance(opts.outOfRange)) {
        const kind = pick(rng, kinds)
        const spec = SENSORS[kind]
        values[kind] = rng.chance(0.5) ? SENTINEL : Math.round(spec.max + (spec.max - spec.min) * rng.uniform(0.1, 1))
        faults.push('out_of_range')
        counts.out_of_range++
      }

      const malformed = rng.chance(opts.malformed)
      if (malformed) {
        faults.push('malformed')
        counts.malformed++
      }
      return { values, faults, malformed }
    },
    counts: () => ({ ...counts }),
  }
}

/**
 * Breaks a JSON text the ways firmware does: cut short mid-write, a bare NaN
 * from printf("%f") of a failed read, or a trailing comma from a hand-rolled
 * serializer. The result is never valid JSON.
 */
export function corruptJson(text: string, rng: Rng): string {
  switch (rng.int(0, 2)) {
    case 0:
      return text.slice(0, Math.max(1, Math.floor(text.length * rng.uniform(0.2, 0.9))))
    case 1: {
      const out = text.replace(/:(-?\d+(\.\d+)?)/, ':NaN')
      return out !== text ? out : `${text.slice(0, -1)},}`
    }
    default:
      return `${text.slice(0, -1)},}`
  }
}
