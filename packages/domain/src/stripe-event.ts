/**
 * Stripe's Event envelope, as delivered to webhooks and listed by `GET /v1/events`. Only
 * `identity.verification_session.*` events are ours; any other type decodes as a
 * `ForeignEvent` rather than failing, so one endpoint can receive everything.
 *
 * @since 0.1.0
 */
import { Result, Schema, SchemaIssue } from "effect"
import { Observe } from "./commands.ts"
import { InvalidPayload } from "./errors.ts"
import { VerificationSession } from "./session.ts"

/** The envelope fields every Stripe event has; `data.object` is left undecoded. */
export const EventEnvelope = Schema.Struct({
  id: Schema.String,
  object: Schema.Literal("event"),
  type: Schema.String,
  created: Schema.Int,
  livemode: Schema.Boolean,
  api_version: Schema.optionalKey(Schema.NullOr(Schema.String)),
  pending_webhooks: Schema.optionalKey(Schema.Int),
  account: Schema.optionalKey(Schema.String),
  request: Schema.optionalKey(
    Schema.NullOr(
      Schema.Struct({
        id: Schema.NullOr(Schema.String),
        idempotency_key: Schema.NullOr(Schema.String),
      }),
    ),
  ),
  data: Schema.Struct({
    object: Schema.Unknown,
    previous_attributes: Schema.optionalKey(Schema.Unknown),
  }),
})

/** An `identity.verification_session.*` event with its session decoded. */
export const StripeEvent = Schema.Struct({
  ...EventEnvelope.fields,
  data: Schema.Struct({
    object: VerificationSession,
    previous_attributes: Schema.optionalKey(Schema.Unknown),
  }),
})
export type StripeEvent = typeof StripeEvent.Type

/** An event of another kind (payments, accounts, …): acknowledged, not processed. */
export interface ForeignEvent {
  readonly _tag: "ForeignEvent"
  readonly id: string
  readonly type: string
}

export const sessionEventPrefix = "identity.verification_session."

const decodeEnvelope = Schema.decodeUnknownResult(EventEnvelope, { errors: "all" })
const decodeIdentityEvent = Schema.decodeUnknownResult(StripeEvent, { errors: "all" })
const decodeSessionResult = Schema.decodeUnknownResult(VerificationSession, { errors: "all" })
const formatIssue = SchemaIssue.makeFormatterStandardSchemaV1()

const renderPath = (prefix: string, path: ReadonlyArray<unknown> | undefined): string => {
  const segments = (path ?? []).map((p) =>
    String(typeof p === "object" && p !== null && "key" in p ? p.key : p),
  )
  const all = prefix === "" ? segments : [prefix, ...segments]
  return all.length === 0 ? "$" : all.join(".")
}

/** Turns a schema failure into an `InvalidPayload` naming the first bad path. */
export const toInvalidPayload = (error: Schema.SchemaError, prefix = ""): InvalidPayload => {
  const issues = formatIssue(error.issue).issues
  return new InvalidPayload({
    path: renderPath(prefix, issues[0]?.path),
    message: issues.map((i) => `${i.message} at ${renderPath(prefix, i.path)}`).join("; "),
  })
}

/** Decodes a VerificationSession from an unknown value (an API response body). */
export const decodeSession = (input: unknown): Result.Result<VerificationSession, InvalidPayload> =>
  Result.mapError(decodeSessionResult(input), (e) => toInvalidPayload(e))

/**
 * Decodes a webhook body (the raw string or parsed JSON). Malformed JSON and malformed events
 * are `InvalidPayload`; events of other types are `ForeignEvent`.
 */
export const decodeStripeEvent = (
  input: unknown,
): Result.Result<StripeEvent | ForeignEvent, InvalidPayload> => {
  let value = input
  if (typeof input === "string") {
    try {
      value = JSON.parse(input)
    } catch (error) {
      return Result.fail(
        new InvalidPayload({ path: "$", message: `the body is not JSON: ${(error as Error).message}` }),
      )
    }
  }
  // Peek at the type so an identity event is decoded once, not envelope first and then again.
  const type = typeof value === "object" && value !== null ? (value as { type?: unknown }).type : undefined
  if (typeof type === "string" && type.startsWith(sessionEventPrefix)) {
    return Result.mapError(decodeIdentityEvent(value), (e) => toInvalidPayload(e))
  }
  const envelope = decodeEnvelope(value)
  if (Result.isFailure(envelope)) return Result.fail(toInvalidPayload(envelope.failure))
  return Result.succeed({ _tag: "ForeignEvent", id: envelope.success.id, type: envelope.success.type })
}

/**
 * The `Observe` command a webhook event stands for: Stripe's `event.created` is its time. Its
 * account: a Connect event's own (`event.account`), else `platform`, the account of the endpoint
 * that received it (absent: the default account).
 */
export const observeEvent = (event: StripeEvent, platform?: string): Observe => {
  const account = event.account ?? platform
  return Observe.make({
    session: event.data.object,
    source: "webhook",
    observedAt: event.created,
    stripeEventId: event.id,
    stripeEventType: event.type,
    ...(account === undefined ? {} : { account }),
  })
}
