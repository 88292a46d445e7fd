/**
 * What can be asked of a session. Everything learned from Stripe is an `Observe`; local intents
 * are requests, guarded by the lifecycle before anything reaches Stripe. Time always comes in on
 * the command: the domain has no clock.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { Source } from "./events.ts"
import { ProvidedDetails, SessionOptions, VerificationSession } from "./session.ts"

/**
 * A snapshot of the session as Stripe described it at `observedAt` (Stripe's clock:
 * `event.created` for webhooks, the response's `Date` header for API reads), seen through
 * `account` (absent: `"default"`, see `accountKeyOf`).
 */
export const Observe = Schema.TaggedStruct("Observe", {
  session: VerificationSession,
  source: Source,
  observedAt: Schema.Int,
  stripeEventId: Schema.optionalKey(Schema.String),
  stripeEventType: Schema.optionalKey(Schema.String),
  account: Schema.optionalKey(Schema.String),
})
export type Observe = typeof Observe.Type

export const RequestCancel = Schema.TaggedStruct("RequestCancel", {
  sessionId: Schema.String,
  requestedAt: Schema.Int,
})
export type RequestCancel = typeof RequestCancel.Type

export const RequestRedact = Schema.TaggedStruct("RequestRedact", {
  sessionId: Schema.String,
  requestedAt: Schema.Int,
})
export type RequestRedact = typeof RequestRedact.Type

/** The parameters Stripe's update endpoint accepts (fact sheet §2.3). */
export const RequestUpdate = Schema.TaggedStruct("RequestUpdate", {
  sessionId: Schema.String,
  requestedAt: Schema.Int,
  metadata: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  options: Schema.optionalKey(Schema.NullOr(SessionOptions)),
  type: Schema.optionalKey(Schema.String),
  provided_details: Schema.optionalKey(ProvidedDetails),
})
export type RequestUpdate = typeof RequestUpdate.Type

export const SessionCommand = Schema.Union([Observe, RequestCancel, RequestRedact, RequestUpdate])
export type SessionCommand = typeof SessionCommand.Type

/**
 * `api` and `reconciler` reads describe the present; webhooks and the Events API's snapshots
 * (`events_api`, an event's `data.object` read back by the reconciler) describe a past moment.
 */
export const isAuthoritative = (source: Source): boolean => source === "api" || source === "reconciler"

/**
 * Whether observations from `source` arrive in Stripe's order. Webhooks may come late, twice or
 * reordered; the Events API's snapshots are replayed in Stripe's own order (event `created`, then
 * list order), so two of them in one second need no refresh to say which came last.
 */
export const isInStripeOrder = (source: Source): boolean => source !== "webhook"
