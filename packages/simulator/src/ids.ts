/**
 * Object ids that carry their own position. A session or event id encodes its creation index,
 * followed by characters derived from the simulator's id seed, so finding a list cursor is a
 * decode and one string comparison: no id → index map has to hold a million strings, and a
 * forged or foreign id never matches.
 *
 * Stripe ids are opaque and this layout is ours; clients must not rely on it.
 *
 * @module
 */
import { base62, fromBase62, hash32, makeRandom, randomToken } from "./random.ts"

const INDEX_WIDTH = 6 // 62^6 ≈ 5.7e10 objects
const TAIL_WIDTH = 17

/** Encodes and decodes the ids of one kind of object (`vs_`, `evt_`, `vr_`). */
export interface IdCodec {
  readonly prefix: string
  /** The id of the object created at position `index`. */
  readonly encode: (index: number) => string
  /** The position an id stands for, or undefined when no object of this codec has that id. */
  readonly decode: (id: string) => number | undefined
}

/** Makes the id codec for `prefix`, salted by `seed` so two simulators mint different ids. */
export const makeIdCodec = (prefix: string, seed: number): IdCodec => {
  const salt = hash32(seed, prefix.length * 7919 + prefix.charCodeAt(0))
  // "1" mirrors the version digit that leads real Stripe ids; it keeps ids from starting with 0s.
  const encode = (index: number): string =>
    `${prefix}1${base62(index, INDEX_WIDTH)}${randomToken(makeRandom(hash32(salt, index)), TAIL_WIDTH)}`
  const expectedLength = prefix.length + 1 + INDEX_WIDTH + TAIL_WIDTH
  const decode = (id: string): number | undefined => {
    if (id.length !== expectedLength || !id.startsWith(prefix)) return undefined
    const index = fromBase62(id.slice(prefix.length + 1, prefix.length + 1 + INDEX_WIDTH))
    if (!Number.isFinite(index)) return undefined
    return encode(index) === id ? index : undefined
  }
  return { prefix, encode, decode }
}
