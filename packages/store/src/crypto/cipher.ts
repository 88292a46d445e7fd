/**
 * One personal value encrypted under a session's data key, as a string that takes its place in
 * the JSON: `idtrail:enc:1:` + base64(iv | ciphertext | tag), AES-256-GCM, the session id as
 * additional data (a value copied into another session does not decrypt).
 *
 * The IV is derived from the value (HMAC-SHA256 under a second key from the same data key, as in
 * AES-GCM-SIV's synthetic IVs), so one value encrypts the same way everywhere in its session: the
 * state folded from encrypted events is the encrypted state, and a rebuild writes the rows appends
 * wrote. What that reveals is only which values of one session are equal, to someone who cannot
 * read them.
 *
 * @since 0.1.0
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync } from "node:crypto"

/** A session's data key, split into its encryption and IV keys. */
export interface DataKey {
  readonly encryption: Buffer
  readonly iv: Buffer
}

/** How every encrypted value begins. Standard base64 follows (no `_`: never secret-shaped). */
export const encryptedPrefix = "idtrail:enc:1:"

const ivBytes = 12
const tagBytes = 16

/** The two keys of a 32-byte data key (HKDF-SHA256). */
export const dataKeyOf = (raw: Uint8Array): DataKey => ({
  encryption: Buffer.from(hkdfSync("sha256", raw, Buffer.alloc(0), "idtrail value encryption", 32)),
  iv: Buffer.from(hkdfSync("sha256", raw, Buffer.alloc(0), "idtrail value iv", 32)),
})

export const isEncrypted = (value: string): boolean => value.startsWith(encryptedPrefix)

/** `value` encrypted for `sessionId`; the same value always gives the same string. */
export const encryptValue = (key: DataKey, sessionId: string, value: string): string => {
  const iv = createHmac("sha256", key.iv)
    .update(sessionId)
    .update("\0")
    .update(value)
    .digest()
    .subarray(0, ivBytes)
  const cipher = createCipheriv("aes-256-gcm", key.encryption, iv)
  cipher.setAAD(Buffer.from(sessionId))
  const body = Buffer.concat([cipher.update(value, "utf8"), cipher.final()])
  return encryptedPrefix + Buffer.concat([iv, body, cipher.getAuthTag()]).toString("base64")
}

/** The value `encrypted` holds, or `undefined` when it does not decrypt with this key for this session. */
export const decryptValue = (key: DataKey, sessionId: string, encrypted: string): string | undefined => {
  try {
    const bytes = Buffer.from(encrypted.slice(encryptedPrefix.length), "base64")
    if (bytes.length < ivBytes + tagBytes) return undefined
    const decipher = createDecipheriv("aes-256-gcm", key.encryption, bytes.subarray(0, ivBytes))
    decipher.setAAD(Buffer.from(sessionId))
    decipher.setAuthTag(bytes.subarray(bytes.length - tagBytes))
    return Buffer.concat([
      decipher.update(bytes.subarray(ivBytes, bytes.length - tagBytes)),
      decipher.final(),
    ]).toString("utf8")
  } catch {
    return undefined
  }
}

/**
 * The values of each key already encrypted and decrypted, so a state's values (the same at every
 * append) cost no cipher: the IV is derived from the value, so the result never changes. Held
 * only as long as the key object is (a destroyed key takes its memo with it), at most
 * `memoPerKey` values each.
 */
const memos = new WeakMap<DataKey, { readonly enc: Map<string, string>; readonly dec: Map<string, string> }>()
const memoPerKey = 256

const memoOf = (key: DataKey) => {
  let memo = memos.get(key)
  if (memo === undefined) {
    memo = { enc: new Map(), dec: new Map() }
    memos.set(key, memo)
  }
  return memo
}

const remember = (map: Map<string, string>, k: string, v: string) => {
  if (map.size >= memoPerKey) map.delete(map.keys().next().value!)
  map.set(k, v)
}

/** {@link encryptValue}, remembered per key and session. */
export const encryptValueMemo = (key: DataKey, sessionId: string, value: string): string => {
  const { enc, dec } = memoOf(key)
  const k = `${sessionId}\u0000${value}`
  const hit = enc.get(k)
  if (hit !== undefined) return hit
  const out = encryptValue(key, sessionId, value)
  remember(enc, k, out)
  remember(dec, `${sessionId}\u0000${out}`, value)
  return out
}

/** {@link decryptValue}, remembered per key and session. */
export const decryptValueMemo = (key: DataKey, sessionId: string, encrypted: string): string | undefined => {
  const { enc, dec } = memoOf(key)
  const k = `${sessionId}\u0000${encrypted}`
  const hit = dec.get(k)
  if (hit !== undefined) return hit
  const out = decryptValue(key, sessionId, encrypted)
  if (out !== undefined) {
    remember(dec, k, out)
    remember(enc, `${sessionId}\u0000${out}`, encrypted)
  }
  return out
}
