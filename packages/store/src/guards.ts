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

const normalisedIsForbidden = (key: string): boolean =>
  // Every forbidden name has 3 to 16 letters; longer keys need separators to match, so 32 is ample.
  key.length >= 3 && key.length <= 32 && forbiddenKeys.has(key.replace(/[-_]/g, "").toLowerCase())

// The keys checked are the schema's field names (merchant keys are not checked), a small set that
// repeats on every append: remember the answers, up to a bound, instead of normalising each time.
const keyAnswers = new Map<string, boolean>()
const maxKeyAnswers = 4096

/** `true` for a key naming a secret or personal data, in any case style. */
export const isForbiddenKey = (key: string): boolean => {
  const known = keyAnswers.get(key)
  if (known !== undefined) return known
  const answer = normalisedIsForbidden(key)
  if (keyAnswers.size < maxKeyAnswers) keyAnswers.set(key, answer)
  return answer
}

// Lone UTF-16 surrogates (U+D800–U+DFFF unpaired) are not Unicode: jsonb refuses them.
const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed()

const surrogatePath = (value: unknown, trail: Array<string | number>): string | undefined => {
  if (typeof value === "string") return isWellFormed(value) ? undefined : render(trail, "")
  if (typeof value !== "object" || value === null) return undefined
  const entries: Iterable<readonly [string | number, unknown]> = Array.isArray(value)
    ? value.entries()
    : Object.entries(value)
  for (const [step, inner] of entries) {
    if (typeof step === "string" && !isWellFormed(step)) return render(trail, `.${JSON.stringify(step)}`)
    trail.push(step)
    const found = surrogatePath(inner, trail)
    trail.pop()
    if (found !== undefined) return found
  }
  return undefined
}

/**
 * The path of the first lone surrogate in `value`, given its JSON: `JSON.stringify` writes a lone
 * surrogate as a `\udXXX` escape, so one substring test on the JSON spares the walk on every
 * ordinary payload.
 */
export const findLoneSurrogate = (value: unknown, json: string): string | undefined =>
  json.includes("\\ud") ? surrogatePath(value, []) : undefined

/** What one walk over a value found: the first forbidden path, and whether JSON can hold it faithfully. */
interface Inspection {
  forbidden: string | undefined
  faithful: boolean
  /** The first string (or key) holding U+0000, which Postgres' jsonb cannot store. */
  nul: string | undefined
  /** The keys and indexes leading to the value being inspected; rendered only when needed. */
  readonly trail: Array<string | number>
}

const newInspection = (): Inspection => ({
  forbidden: undefined,
  faithful: true,
  nul: undefined,
  trail: [],
})

const render = (trail: ReadonlyArray<string | number>, last: string): string =>
  `$${trail.map((step) => (typeof step === "number" ? `[${step}]` : `.${step}`)).join("")}${last}`

const inspect = (value: unknown, merchantKeys: boolean, out: Inspection): void => {
  switch (typeof value) {
    case "string":
      if (out.forbidden === undefined && looksLikeSecret(value)) out.forbidden = render(out.trail, "")
      if (out.nul === undefined && value.includes("\u0000")) out.nul = render(out.trail, "")
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

/** What the event log refuses in a value: a secret or personal data, or a NUL character. */
export const findRefused = (
  value: unknown,
): { readonly forbidden: string | undefined; readonly nul: string | undefined } => {
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
  if (found.forbidden !== undefined) {
    return Result.fail(
      new ForbiddenField({
        path: `events[${index}]${found.forbidden.slice(1)}`,
        message: `event ${index} carries a secret or personal data at ${found.forbidden}; it never enters the event log`,
      }),
    )
  }
  const json = JSON.stringify(data)
  const surrogate = findLoneSurrogate(data, json)
  if (surrogate !== undefined) {
    return Result.fail(
      new InvalidEvent({
        index,
        message: `event ${index} holds a lone UTF-16 surrogate at ${surrogate}; Postgres jsonb cannot store it`,
      }),
    )
  }
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
