/**
 * Seeded randomness. Every random choice the simulator makes (generated histories, webhook faults,
 * API faults, ids) comes from here, so one seed reproduces one run.
 *
 * @module
 */

/** A source of uniform floats in [0, 1), reproducible from its seed. */
export interface Random {
  /** A float in [0, 1). */
  readonly next: () => number
  /** An integer in [0, n). */
  readonly int: (n: number) => number
  /** True with probability `p`. */
  readonly chance: (p: number) => boolean
  /** One element of a non-empty array. */
  readonly pick: <A>(items: ReadonlyArray<A>) => A
}

/** Mixes two 32-bit integers into one well-spread 32-bit value (a murmur3-style finalizer). */
export const hash32 = (a: number, b = 0): number => {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35)
  h ^= h >>> 16
  h = Math.imul(h, 0x7feb352d)
  h ^= h >>> 15
  h = Math.imul(h, 0x846ca68b)
  h ^= h >>> 16
  return h >>> 0
}

/** Hashes a string (for example a seed given as text) to 32 bits (FNV-1a). */
export const hashString = (s: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/**
 * A small, fast PRNG (mulberry32). Statistical quality is ample for fault injection and test
 * data; it is not for cryptography.
 */
export const makeRandom = (seed: number): Random => {
  let state = seed >>> 0
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number): number => Math.floor(next() * n)
  return {
    next,
    int,
    chance: (p) => p > 0 && next() < p,
    pick: (items) => items[int(items.length)]!,
  }
}

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

/** Encodes a non-negative integer in base 62, left-padded with "0" to `width` characters. */
export const base62 = (n: number, width: number): string => {
  let out = ""
  let v = Math.floor(n)
  while (v > 0) {
    out = ALPHABET[v % 62] + out
    v = Math.floor(v / 62)
  }
  return out.padStart(width, "0")
}

/** Decodes a base-62 string; NaN when it holds a character outside the alphabet. */
export const fromBase62 = (s: string): number => {
  let v = 0
  for (let i = 0; i < s.length; i++) {
    const d = ALPHABET.indexOf(s[i]!)
    if (d < 0) return Number.NaN
    v = v * 62 + d
  }
  return v
}

/** `length` pseudo-random base-62 characters drawn from `random`. */
export const randomToken = (random: Random, length: number): string => {
  let out = ""
  for (let i = 0; i < length; i++) out += ALPHABET[random.int(62)]
  return out
}
