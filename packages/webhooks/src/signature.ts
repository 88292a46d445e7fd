/**
 * Verifying the `Stripe-Signature` header of a webhook delivery, as stripe-node does it (fact
 * sheet §5): HMAC-SHA256 over `${t}.${rawBody}` keyed with the endpoint secret, hex encoded; any
 * `v1` entry may match (several appear while a secret is rotated); a timestamp older than the
 * tolerance is refused.
 *
 * Every input gives a typed result, whatever its type: a body or header as a string, Buffer or
 * Uint8Array is read; `null`, an array header or an already-parsed body is refused with a reason,
 * where a careless comparison would throw. Secrets never appear in an error message.
 *
 * @since 0.1.0
 */
import { createHmac, timingSafeEqual } from "node:crypto"
import { decodeStripeEvent, type ForeignEvent, type InvalidPayload, type StripeEvent } from "@idtrail/domain"
import { Result } from "effect"
import { InvalidSignature } from "./errors.ts"

/** A delivery's body: the raw bytes received, or their text. */
export type WebhookBody = string | Uint8Array

/** The `Stripe-Signature` header as frameworks hand it over (Node's headers may be arrays). */
export type SignatureHeader = string | Uint8Array | ReadonlyArray<string> | null | undefined

export interface VerifyOptions {
  /** The endpoint's signing secret(s), `whsec_…`; several while rotating. */
  readonly secrets: string | ReadonlyArray<string>
  /** The current time, unix seconds (default: the host's clock). */
  readonly now?: number
  /** How old a signature may be, in seconds (Stripe's default: 300); 0 skips the check. */
  readonly toleranceSeconds?: number
}

/** Stripe's default tolerance for a signature's age. */
export const defaultToleranceSeconds = 300

const fail = (reason: InvalidSignature["reason"], message: string) =>
  Result.fail(new InvalidSignature({ reason, message }))

// Not fatal, as stripe-node's: invalid UTF-8 becomes U+FFFD and simply fails to match.
const utf8 = new TextDecoder("utf-8")

/** The signed text of a body; only raw material can be verified. */
const bodyText = (rawBody: unknown): Result.Result<string, InvalidSignature> => {
  if (typeof rawBody === "string" && rawBody !== "") return Result.succeed(rawBody)
  if (rawBody instanceof Uint8Array && rawBody.length > 0) return Result.succeed(utf8.decode(rawBody))
  if (rawBody === null || rawBody === undefined || rawBody === "" || rawBody instanceof Uint8Array) {
    return fail("missing_payload", "no webhook body was received")
  }
  return fail(
    "payload_not_raw",
    "the body must be the raw bytes received (a string, Buffer or Uint8Array), not a parsed object: " +
      "the signature covers the exact bytes Stripe sent",
  )
}

const headerText = (header: unknown): Result.Result<string, InvalidSignature> => {
  if (Array.isArray(header)) {
    return fail("malformed_header", "the Stripe-Signature header was given as a list; pass its one value")
  }
  const text = header instanceof Uint8Array ? utf8.decode(header) : header
  if (text === null || text === undefined || (typeof text === "string" && text.trim() === "")) {
    return fail("missing_header", "the Stripe-Signature header is missing")
  }
  if (typeof text !== "string") return fail("malformed_header", "the Stripe-Signature header is not text")
  return Result.succeed(text)
}

const parseHeader = (header: string): { timestamp: number; signatures: Array<string> } | undefined => {
  let timestamp = Number.NaN
  const signatures: Array<string> = []
  for (const part of header.split(",")) {
    const eq = part.indexOf("=")
    if (eq < 0) continue
    const key = part.slice(0, eq).trim()
    const value = part.slice(eq + 1).trim()
    if (key === "t") timestamp = /^\d+$/.test(value) ? Number(value) : Number.NaN
    else if (key === "v1") signatures.push(value)
  }
  return Number.isFinite(timestamp) && signatures.length > 0 ? { timestamp, signatures } : undefined
}

const lowerHex = /^[0-9a-f]+$/

/**
 * Constant-time equality of a received signature with the expected one (lower-case hex, as
 * Stripe sends). Anything else cannot match; checking that first keeps `timingSafeEqual` on
 * buffers of equal length (a non-ASCII value of the right length made it throw).
 */
const sameSignature = (expected: string, received: string): boolean =>
  received.length === expected.length &&
  lowerHex.test(received) &&
  timingSafeEqual(Buffer.from(received, "latin1"), Buffer.from(expected, "latin1"))

const secretsOf = (secrets: unknown): ReadonlyArray<string> =>
  (typeof secrets === "string" ? [secrets] : Array.isArray(secrets) ? secrets : []).filter(
    (s): s is string => typeof s === "string" && s !== "",
  )

/** The signature check; on success, the body's text (what was signed). */
const check = (
  rawBody: unknown,
  header: unknown,
  options: VerifyOptions,
): Result.Result<string, InvalidSignature> => {
  const secrets = secretsOf(options.secrets)
  if (secrets.length === 0) return fail("no_secret", "no webhook signing secret is configured")
  const body = bodyText(rawBody)
  if (Result.isFailure(body)) return body
  const text = headerText(header)
  if (Result.isFailure(text)) return text
  const parsed = parseHeader(text.success)
  if (parsed === undefined) {
    return fail("malformed_header", "the Stripe-Signature header has no timestamp t=… or no v1=… signature")
  }
  const payload = `${parsed.timestamp}.${body.success}`
  const matched = secrets.some((secret) => {
    const expected = createHmac("sha256", secret).update(payload, "utf8").digest("hex")
    return parsed.signatures.some((signature) => sameSignature(expected, signature))
  })
  if (!matched) {
    return fail(
      "no_match",
      `no v1 signature matches the body (${parsed.signatures.length} signature(s), ${secrets.length} secret(s)); ` +
        "check the endpoint secret and that the raw body is passed unchanged" +
        (secrets.some((s) => /\s/.test(s))
          ? "; a configured secret contains whitespace (a stray newline?)"
          : ""),
    )
  }
  const tolerance = options.toleranceSeconds ?? defaultToleranceSeconds
  const now = options.now ?? Math.floor(Date.now() / 1000)
  // One-sided, as Stripe's: a future timestamp is not refused.
  if (tolerance > 0 && now - parsed.timestamp > tolerance) {
    return fail(
      "too_old",
      `the signature is ${now - parsed.timestamp}s old; at most ${tolerance}s is accepted`,
    )
  }
  return body
}

/** Checks a delivery's signature. The body must be the raw bytes received, not re-serialized JSON. */
export const verifyWebhookSignature = (
  rawBody: WebhookBody | null | undefined,
  header: SignatureHeader,
  options: VerifyOptions,
): Result.Result<void, InvalidSignature> => Result.map(check(rawBody, header, options), () => undefined)

/** Verifies a delivery's signature, then decodes its body. */
export const verifyWebhook = (
  rawBody: WebhookBody | null | undefined,
  header: SignatureHeader,
  options: VerifyOptions,
): Result.Result<StripeEvent | ForeignEvent, InvalidSignature | InvalidPayload> =>
  Result.flatMap(check(rawBody, header, options), decodeStripeEvent)
