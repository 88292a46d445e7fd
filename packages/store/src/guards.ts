/**
 * Checks made before anything is sent to the database: a bad stream id, an event that is not a
 * `SessionEvent`, a payload with a secret or personal data in it, or one that is too large is
 * refused whole, so nothing is half-written.
 *
 * @since 0.1.0
 */
import { SessionEvent } from "@idtrail/domain"
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

/** Keys that hold a secret or personal data at Stripe; they never enter the event log. */
export const forbiddenKeys: ReadonlySet<string> = new Set([
  "client_secret",
  "url",
  "verified_outputs",
  "provided_details",
  "verifiedOutputs",
  "providedDetails",
  "clientSecret",
])

// A Stripe client secret looks like `vs_…_secret_…`, wherever it hides.
const clientSecretPattern = /^[a-z]+_[A-Za-z0-9]+_secret_[A-Za-z0-9]+$/

/**
 * Finds a secret or personal field anywhere in a JSON value. Merchant metadata (any object under
 * a `metadata` key, and the sides of a metadata change) holds the merchant's own keys, so only
 * its values are checked there.
 */
export const findForbidden = (value: unknown, path = "$", merchantKeys = false): string | undefined => {
  if (typeof value === "string") return clientSecretPattern.test(value) ? path : undefined
  if (typeof value !== "object" || value === null) return undefined
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findForbidden(value[i], `${path}[${i}]`, false)
      if (found !== undefined) return found
    }
    return undefined
  }
  const record = value as Record<string, unknown>
  const metadataChange = record.field === "metadata"
  for (const key of Object.keys(record)) {
    const child = `${path}.${key}`
    if (!merchantKeys && forbiddenKeys.has(key)) return child
    const nextMerchant = key === "metadata" || (metadataChange && (key === "from" || key === "to"))
    const found = findForbidden(record[key], child, nextMerchant)
    if (found !== undefined) return found
  }
  return undefined
}

/** An event ready for the database: its type and its JSON. */
export interface EncodedEvent {
  readonly type: string
  readonly json: string
}

const encodeEvent = Schema.encodeUnknownResult(SessionEvent)

/**
 * Encodes one event for storage, refusing anything that is not a `SessionEvent`, not JSON,
 * carrying forbidden fields, or larger than {@link maxEventBytes}.
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
  const data = encoded.success as { readonly _tag: string }
  let json: string
  try {
    json = JSON.stringify(data)
  } catch (error) {
    return Result.fail(
      new InvalidEvent({ index, message: `event ${index} is not JSON: ${(error as Error).message}` }),
    )
  }
  // JSON.stringify drops what JSON cannot say (undefined, functions) and turns NaN into null:
  // a silent change of meaning, so refuse it.
  if (json === undefined || !jsonFaithful(data)) {
    return Result.fail(
      new InvalidEvent({
        index,
        message: `event ${index} is not JSON: it holds undefined, a function, a symbol or a non-finite number`,
      }),
    )
  }
  const forbidden = findForbidden(data)
  if (forbidden !== undefined) {
    return Result.fail(
      new ForbiddenField({
        path: `events[${index}]${forbidden.slice(1)}`,
        message: `event ${index} carries a secret or personal data at ${forbidden}; it never enters the event log`,
      }),
    )
  }
  const bytes = Buffer.byteLength(json, "utf8")
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

/** `true` when JSON.stringify would keep every value as it is. */
const jsonFaithful = (value: unknown): boolean => {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true
    case "number":
      return Number.isFinite(value)
    case "object": {
      if (value === null) return true
      if (Array.isArray(value)) return value.every(jsonFaithful)
      const proto = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) return false
      for (const key of Object.keys(value)) {
        if (!jsonFaithful((value as Record<string, unknown>)[key])) return false
      }
      return true
    }
    default:
      return false
  }
}
