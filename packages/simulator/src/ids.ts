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

/** Width of the account tag a connected account's ids carry (62^3 ≈ 238,000 accounts). */
export const TAG_WIDTH = 3
/** How many connected accounts the tag can tell apart (tag 0 is never used). */
export const MAX_TAGGED = 62 ** TAG_WIDTH - 1

/** Encodes and decodes the ids of one kind of object (`vs_`, `evt_`, `vr_`). */
export interface IdCodec {
  readonly prefix: string
  /** The id of the object created at position `index`. */
  readonly encode: (index: number) => string
  /** The position an id stands for, or undefined when no object of this codec has that id. */
  readonly decode: (id: string) => number | undefined
}

/**
 * Makes the id codec for `prefix`, salted by `seed` so two simulators mint different ids. A
 * connected account's codec also takes its `tag` (≥ 1), which leads the tail, so the account
 * holding an id is found without asking every account ({@link idTag}).
 */
export const makeIdCodec = (prefix: string, seed: number, tag?: number): IdCodec => {
  const salt = hash32(seed, prefix.length * 7919 + prefix.charCodeAt(0))
  const lead = tag === undefined ? "" : base62(tag, TAG_WIDTH)
  // "1" mirrors the version digit that leads real Stripe ids; it keeps ids from starting with 0s.
  const encode = (index: number): string =>
    `${prefix}1${base62(index, INDEX_WIDTH)}${lead}${randomToken(makeRandom(hash32(salt, index)), TAIL_WIDTH - lead.length)}`
  const expectedLength = prefix.length + 1 + INDEX_WIDTH + TAIL_WIDTH
  const decode = (id: string): number | undefined => {
    if (id.length !== expectedLength || !id.startsWith(prefix)) return undefined
    const index = fromBase62(id.slice(prefix.length + 1, prefix.length + 1 + INDEX_WIDTH))
    if (!Number.isFinite(index)) return undefined
    return encode(index) === id ? index : undefined
  }
  return { prefix, encode, decode }
}

/**
 * The account tag an id would carry if a connected account minted it (NaN when unreadable). A
 * platform id has random characters there, so the answer is only a hint that decoding confirms.
 */
export const idTag = (prefix: string, id: string): number => {
  const at = prefix.length + 1 + INDEX_WIDTH
  return fromBase62(id.slice(at, at + TAG_WIDTH))
}
