/**
 * Verifying the `Stripe-Signature` header of a webhook delivery, as stripe-node does it
 * (fact sheet §5): HMAC-SHA256 over `${t}.${rawBody}` keyed with the endpoint secret, hex
 * encoded; any `v1` entry may match (several appear while a secret is rotated); a timestamp
 * older than the tolerance is refused. Pure: the caller passes the current time.
 *
 * Secrets never appear in an error message.
 *
 * @since 0.1.0
 */
import { createHmac, timingSafeEqual } from "node:crypto"
import { Result, Schema } from "effect"
import type { InvalidPayload } from "./errors.ts"
import { decodeStripeEvent, type ForeignEvent, type StripeEvent } from "./stripe-event.ts"

/** Why a delivery's signature was refused. */
export class InvalidSignature extends Schema.TaggedError<InvalidSignature>()("InvalidSignature", {
  reason: Schema.Literals(["missing_header", "malformed_header", "no_match", "too_old", "no_secret"]),
  message: Schema.String,
}) {}

export interface VerifyOptions {
  /** The endpoint's signing secret(s), `whsec_…`; several while rotating. */
  readonly secrets: string | ReadonlyArray<string>
  /** The current time, unix seconds. */
  readonly now: number
  /** How old a signature may be, in seconds (Stripe's default: 300). */
  readonly toleranceSeconds?: number
}

/** Stripe's default tolerance for a signature's age. */
export const defaultToleranceSeconds = 300

const fail = (reason: InvalidSignature["reason"], message: string) =>
  Result.fail(new InvalidSignature({ reason, message }))

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

const sameHex = (a: string, b: string): boolean =>
  a.length === b.length && timingSafeEqual(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"))

/** Checks a delivery's signature. The body must be the raw bytes received, not re-serialized JSON. */
export const verifyWebhookSignature = (
  rawBody: string | Uint8Array,
  header: string | null | undefined,
  options: VerifyOptions,
): Result.Result<void, InvalidSignature> => {
  const secrets = (typeof options.secrets === "string" ? [options.secrets] : options.secrets).filter(
    (s) => s !== "",
  )
  if (secrets.length === 0) return fail("no_secret", "no webhook signing secret is configured")
  if (header === null || header === undefined || header.trim() === "") {
    return fail("missing_header", "the Stripe-Signature header is missing")
  }
  const parsed = parseHeader(header)
  if (parsed === undefined) {
    return fail("malformed_header", "the Stripe-Signature header has no timestamp t=… or no v1=… signature")
  }
  const body = typeof rawBody === "string" ? rawBody : Buffer.from(rawBody).toString("utf8")
  const payload = `${parsed.timestamp}.${body}`
  const matched = secrets.some((secret) => {
    const expected = createHmac("sha256", secret).update(payload, "utf8").digest("hex")
    return parsed.signatures.some((signature) => sameHex(signature, expected))
  })
  if (!matched) {
    return fail(
      "no_match",
      `no v1 signature matches the body (${parsed.signatures.length} signature(s), ${secrets.length} secret(s)); ` +
        "check the endpoint secret and that the raw body is passed unchanged",
    )
  }
  const tolerance = options.toleranceSeconds ?? defaultToleranceSeconds
  // One-sided, as Stripe's: a future timestamp is not refused.
  if (tolerance > 0 && options.now - parsed.timestamp > tolerance) {
    return fail(
      "too_old",
      `the signature is ${options.now - parsed.timestamp}s old; at most ${tolerance}s is accepted`,
    )
  }
  return Result.succeed(undefined)
}

/** Verifies a delivery's signature, then decodes its body. */
export const verifyWebhook = (
  rawBody: string | Uint8Array,
  header: string | null | undefined,
  options: VerifyOptions,
): Result.Result<StripeEvent | ForeignEvent, InvalidSignature | InvalidPayload> => {
  const body = typeof rawBody === "string" ? rawBody : Buffer.from(rawBody).toString("utf8")
  return Result.flatMap(verifyWebhookSignature(body, header, options), () => decodeStripeEvent(body))
}
