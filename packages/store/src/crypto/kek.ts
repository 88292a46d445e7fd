/**
 * The key-encryption key (KEK): wraps and unwraps each session's data key. `KeyEncryption` is the
 * plug-in point for a KMS (a service whose `wrap`/`unwrap` call it); the local implementation
 * holds 32 bytes the operator provides (`IDTRAIL_KEK` as base64, or `IDTRAIL_KEK_FILE`). The KEK
 * itself is never stored or logged: only its id (a fingerprint) is.
 *
 * @since 0.1.0
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto"
import { readFileSync } from "node:fs"
import { Context, Effect, Layer } from "effect"
import { KeyEncryptionKeyInvalid } from "./errors.ts"

/** Wraps and unwraps data keys. */
export interface KeyEncryptionService {
  /** Names the KEK (a fingerprint, or a KMS key's id); stored beside every key it wraps. */
  readonly id: string
  readonly wrap: (key: Uint8Array) => Effect.Effect<Uint8Array, KeyEncryptionKeyInvalid>
  /** Fails when `wrapped` was not wrapped by this KEK. */
  readonly unwrap: (wrapped: Uint8Array) => Effect.Effect<Uint8Array, KeyEncryptionKeyInvalid>
}

/** The KEK as an Effect service: provide a KMS-backed one to keep the KEK out of the process. */
export class KeyEncryption extends Context.Service<KeyEncryption, KeyEncryptionService>()(
  "@idtrail/store/KeyEncryption",
) {
  /** A local KEK of 32 bytes. */
  static readonly layerLocal = (kek: Uint8Array) =>
    Layer.effect(
      KeyEncryption,
      Effect.try({ try: () => localKeyEncryption(kek), catch: (e) => e as KeyEncryptionKeyInvalid }),
    )
}

const ivBytes = 12
const tagBytes = 16

/** A KEK held in this process: AES-256-GCM, a random IV per wrap. Throws `KeyEncryptionKeyInvalid` unless 32 bytes. */
export const localKeyEncryption = (kek: Uint8Array): KeyEncryptionService => {
  if (kek.byteLength !== 32) {
    throw new KeyEncryptionKeyInvalid({
      message: `a key-encryption key is 32 bytes (256 bits), got ${kek.byteLength}`,
    })
  }
  const key = Buffer.from(kek)
  const id = `local:${createHash("sha256").update("idtrail kek id\0").update(key).digest("hex").slice(0, 16)}`
  return {
    id,
    wrap: (dataKey) =>
      Effect.sync(() => {
        const iv = randomBytes(ivBytes)
        const cipher = createCipheriv("aes-256-gcm", key, iv)
        cipher.setAAD(Buffer.from(id))
        const body = Buffer.concat([cipher.update(dataKey), cipher.final()])
        return Buffer.concat([iv, body, cipher.getAuthTag()])
      }),
    unwrap: (wrapped) =>
      Effect.try({
        try: () => {
          const bytes = Buffer.from(wrapped)
          const decipher = createDecipheriv("aes-256-gcm", key, bytes.subarray(0, ivBytes))
          decipher.setAAD(Buffer.from(id))
          decipher.setAuthTag(bytes.subarray(bytes.length - tagBytes))
          return Buffer.concat([
            decipher.update(bytes.subarray(ivBytes, bytes.length - tagBytes)),
            decipher.final(),
          ])
        },
        catch: () =>
          new KeyEncryptionKeyInvalid({
            message: `a data key does not unwrap with the key-encryption key ${id}`,
          }),
      }),
  }
}

/** A KEK made up now and never kept: for an in-memory store, whose data dies with the process anyway. */
export const ephemeralKeyEncryption = (): KeyEncryptionService => localKeyEncryption(randomBytes(32))

const decodeKek = (text: string, from: string): Uint8Array => {
  const trimmed = text.trim()
  const bytes = Buffer.from(trimmed, "base64")
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) || bytes.byteLength !== 32) {
    throw new KeyEncryptionKeyInvalid({
      message: `${from} must hold 32 random bytes as base64 (44 characters; e.g. \`openssl rand -base64 32\`)`,
    })
  }
  return bytes
}

/**
 * The KEK the environment names: `IDTRAIL_KEK` (base64 of 32 bytes) or `IDTRAIL_KEK_FILE` (a
 * file holding that base64); `undefined` when neither is set. A malformed one is an error, never
 * ignored.
 */
export const keyEncryptionFromEnv = (
  env: Readonly<Record<string, string | undefined>>,
): Effect.Effect<KeyEncryptionService | undefined, KeyEncryptionKeyInvalid> =>
  Effect.try({
    try: () => {
      const inline = env.IDTRAIL_KEK
      const file = env.IDTRAIL_KEK_FILE
      if (inline !== undefined && inline !== "") return localKeyEncryption(decodeKek(inline, "IDTRAIL_KEK"))
      if (file === undefined || file === "") return undefined
      let text: string
      try {
        text = readFileSync(file, "utf8")
      } catch (error) {
        throw new KeyEncryptionKeyInvalid({
          message: `IDTRAIL_KEK_FILE ${file} cannot be read: ${(error as Error).message}`,
        })
      }
      return localKeyEncryption(decodeKek(text, `IDTRAIL_KEK_FILE ${file}`))
    },
    catch: (error) =>
      error instanceof KeyEncryptionKeyInvalid
        ? error
        : new KeyEncryptionKeyInvalid({ message: `the key-encryption key: ${String(error)}` }),
  })
