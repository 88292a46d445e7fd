/**
 * Checks made before anything is sent to the database: a bad stream id, an event that is not a
 * `SessionEvent`, a payload with a secret or personal data in it, or one that is too large is
 * refused whole, so nothing is half-written.
 *
 * @since 0.1.0
 */
import { looksLikeSecret, SessionEvent } from "@idtrail/domain"
import { Result, Schema } from "effect"
import { ForbiddenField, InvalidEvent, InvalidStreamId, PayloadTooLarge } from "./errors.ts"

/** The largest event (its JSON, in bytes) the store accepts. */
export const maxEventBytes = 256 * 1024

/** The longest stream id the store accepts. */
export const maxStreamIdLength = 255

// Printable, no whitespace: ids end up in logs, URLs and psql sessions.
const streamIdPattern = /^[\x21-\x7e]+$/

/** A stream id is a non-empty printable ASCII string without spaces, at most 255 characters. */
export const checkStreamId = (streamId: unknown): Result.Result<string, InvalidStreamId> => {
  if (typeof streamId !== "string") {
    return Result.fail(
      new InvalidStreamId({ streamId, message: `a stream id must be a string, got ${typeof streamId}` }),
    )
  }
  if (streamId.length === 0 || streamId.length > maxStreamIdLength) {
    return Result.fail(
      new InvalidStreamId({
        streamId,
        message: `a stream id must be 1 to ${maxStreamIdLength} characters, got ${streamId.length}`,
      }),
    )
  }
  if (!streamIdPattern.test(streamId)) {
    return Result.fail(
      new InvalidStreamId({
        streamId,
        message: `stream id ${JSON.stringify(streamId)} contains whitespace, control or non-ASCII characters`,
      }),
    )
  }
  return Result.succeed(streamId)
}

/**
 * Keys that hold a secret or personal data at Stripe, normalised (lower case, no `-` or `_`): they
 * never enter the event log, however a payload spells them (`client_secret`, `ClientSecret`,
 * `CLIENT-SECRET`, `URL`, …).
 */
export const forbiddenKeys: ReadonlySet<string> = new Set([
  "clientsecret",
  "url",
  "verifiedoutputs",
  "provideddetails",
])

/** `true` for a key naming a secret or personal data, in any case style. */
export const isForbiddenKey = (key: string): boolean =>
  // Every forbidden name has 3 to 16 letters; longer keys need separators to match, so 32 is ample.
  key.length >= 3 && key.length <= 32 && forbiddenKeys.has(key.replace(/[-_]/g, "").toLowerCase())

// Lone UTF-16 surrogates (U+D800–U+DFFF unpaired) are not Unicode: jsonb refuses them.
const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed()

/** What one walk over a value found: the first forbidden path, and whether JSON can hold it faithfully. */
interface Inspection {
  forbidden: string | undefined
  faithful: boolean
  /** The first string (or key) holding U+0000, which Postgres' jsonb cannot store. */
  nul: string | undefined
  /** The first string (or key) holding a lone UTF-16 surrogate, which jsonb cannot store either. */
  surrogate: string | undefined
  /** The keys and indexes leading to the value being inspected; rendered only when needed. */
  readonly trail: Array<string | number>
}

const newInspection = (): Inspection => ({
  forbidden: undefined,
  faithful: true,
  nul: undefined,
  surrogate: undefined,
  trail: [],
})

const render = (trail: ReadonlyArray<string | number>, last: string): string =>
  `$${trail.map((step) => (typeof step === "number" ? `[${step}]` : `.${step}`)).join("")}${last}`

const inspect = (value: unknown, merchantKeys: boolean, out: Inspection): void => {
  switch (typeof value) {
    case "string":
      if (out.forbidden === undefined && looksLikeSecret(value)) out.forbidden = render(out.trail, "")
      if (out.nul === undefined && value.includes("\u0000")) out.nul = render(out.trail, "")
      if (out.surrogate === undefined && !isWellFormed(value)) out.surrogate = render(out.trail, "")
      return
    case "boolean":
      return
    case "number":
      if (!Number.isFinite(value)) out.faithful = false
      return
    case "object": {
      if (value === null) return
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          out.trail.push(i)
          inspect(value[i], false, out)
          out.trail.pop()
        }
        return
      }
      const proto = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) {
        out.faithful = false
        return
      }
      const record = value as Record<string, unknown>
      const metadataChange = record.field === "metadata"
      for (const key in record) {
        if (!merchantKeys && out.forbidden === undefined && isForbiddenKey(key)) {
          out.forbidden = render(out.trail, `.${key}`)
        }
        if (out.nul === undefined && key.includes("\u0000"))
          out.nul = render(out.trail, `.${JSON.stringify(key)}`)
        if (out.surrogate === undefined && !isWellFormed(key))
          out.surrogate = render(out.trail, `.${JSON.stringify(key)}`)
        const nextMerchant = key === "metadata" || (metadataChange && (key === "from" || key === "to"))
        out.trail.push(key)
        inspect(record[key], nextMerchant, out)
        out.trail.pop()
      }
      return
    }
    default:
      out.faithful = false
  }
}

/** What the event log refuses in a value: a secret or personal data, a NUL character, a lone surrogate. */
export const findRefused = (
  value: unknown,
): {
  readonly forbidden: string | undefined
  readonly nul: string | undefined
  readonly surrogate: string | undefined
} => {
  const out = newInspection()
  inspect(value, false, out)
  return out
}

export const findForbidden = (value: unknown): string | undefined => findRefused(value).forbidden

/** An event ready for the database: its type and its JSON. */
export interface EncodedEvent {
  readonly type: string
  readonly json: string
}

const encodeEvent = Schema.encodeUnknownResult(SessionEvent)

/**
 * Encodes one event for storage, refusing anything that is not a `SessionEvent`, not JSON,
 * carrying forbidden fields, or larger than {@link maxEventBytes}. Encoding also drops keys the
 * schema does not know, so only the domain's fields are stored.
 */
export const encodeForStorage = (
  event: unknown,
  index: number,
  limit = maxEventBytes,
): Result.Result<EncodedEvent, InvalidEvent | ForbiddenField | PayloadTooLarge> => {
  const encoded = encodeEvent(event)
  if (Result.isFailure(encoded)) {
    return Result.fail(
      new InvalidEvent({
        index,
        message: `event ${index} is not a SessionEvent: ${encoded.failure.message}`,
      }),
    )
  }
  const data = encoded.success as SessionEvent
  const found = newInspection()
  inspect(data, false, found)
  // JSON.stringify would drop undefined and functions and turn NaN into null: a silent change of
  // meaning, so refuse it.
  if (!found.faithful) {
    return Result.fail(
      new InvalidEvent({
        index,
        message: `event ${index} is not JSON: it holds undefined, a function, a symbol, a BigInt, a non-finite number or a class instance`,
      }),
    )
  }
  if (found.nul !== undefined) {
    return Result.fail(
      new InvalidEvent({
        index,
        message: `event ${index} holds the NUL character (U+0000) at ${found.nul}; Postgres jsonb cannot store it`,
      }),
    )
  }
  if (found.surrogate !== undefined) {
    return Result.fail(
      new InvalidEvent({
        index,
        message: `event ${index} holds a lone UTF-16 surrogate at ${found.surrogate}; Postgres jsonb cannot store it`,
      }),
    )
  }
  if (found.forbidden !== undefined) {
    return Result.fail(
      new ForbiddenField({
        path: `events[${index}]${found.forbidden.slice(1)}`,
        message: `event ${index} carries a secret or personal data at ${found.forbidden}; it never enters the event log`,
      }),
    )
  }
  const json = JSON.stringify(data)
  // UTF-8 takes at most 3 bytes per UTF-16 unit: count exactly only near the limit.
  const bytes = json.length * 3 <= limit ? json.length : Buffer.byteLength(json, "utf8")
  if (bytes > limit) {
    return Result.fail(
      new PayloadTooLarge({
        index,
        bytes,
        limit,
        message: `event ${index} is ${bytes} bytes of JSON; the limit is ${limit}`,
      }),
    )
  }
  return Result.succeed({ type: data._tag, json })
}
