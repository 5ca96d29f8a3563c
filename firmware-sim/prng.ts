/**
 * Seeded pseudo-random numbers for the simulator. Math.random() cannot be
 * seeded, and a simulator run must be reproducible: the same seed gives the
 * same signals, faults, backoff delays and link cuts, so a failing chaos run
 * can be replayed exactly.
 */

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number
  /** Uniform in [min, max). */
  uniform(min: number, max: number): number
  /** Integer in [min, max]. */
  int(min: number, max: number): number
  /** Normal(mean, sd), Box–Muller. */
  gaussian(mean?: number, sd?: number): number
  /** True with probability p. */
  chance(p: number): boolean
  /** Exponential with the given mean (inter-arrival times of a Poisson process). */
  exponential(mean: number): number
  /**
   * An independent stream derived from this seed and a label. Each consumer
   * (signals, faults, backoff, ...) takes its own fork so that adding a draw
   * in one place does not shift every other sequence.
   */
  fork(label: string): Rng
}

/** FNV-1a over the parts: turns a seed plus labels (station id, stream name) into a 32-bit seed. */
export function hashSeed(...parts: Array<string | number>): number {
  let h = 0x811c9dc5
  for (const part of parts) {
    const s = `${String(part)}\u0000`
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i)
      h = Math.imul(h, 0x01000193)
    }
  }
  return h >>> 0
}

/**
 * mulberry32 (Tommy Ettinger, public domain): 32-bit state, passes
 * PractRand/BigCrush well enough for simulation, and is tiny.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function createRng(seed: number | string): Rng {
  const base = typeof seed === 'number' ? seed >>> 0 : hashSeed(seed)
  const next = mulberry32(base)
  // Box–Muller yields two normals per pair of uniforms; keep the spare.
  let spare: number | undefined
  const rng: Rng = {
    next,
    uniform: (min, max) => min + (max - min) * next(),
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    gaussian(mean = 0, sd = 1) {
      if (spare !== undefined) {
        const z = spare
        spare = undefined
        return mean + sd * z
      }
      let u = 0
      while (u === 0) u = next() // log(0) is -Infinity
      const v = next()
      const r = Math.sqrt(-2 * Math.log(u))
      spare = r * Math.sin(2 * Math.PI * v)
      return mean + sd * r * Math.cos(2 * Math.PI * v)
    },
    chance: (p) => p > 0 && next() < p,
    exponential(mean) {
      let u = 0
      while (u === 0) u = next()
      return -mean * Math.log(u)
    },
    fork: (label) => createRng(hashSeed(base, label)),
  }
  return rng
}

/**
 * A deterministic uniform in [0, 1) for a point in time, with no state. Used
 * for rare events (a nitrite bloom on a given day) that must be the same
 * whichever order readings are generated in.
 */
export function hashUniform(...parts: Array<string | number>): number {
  return mulberry32(hashSeed(...parts))()
}
