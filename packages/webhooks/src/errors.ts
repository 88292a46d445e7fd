/**
 * How a delivery can be refused before it reaches the store, as tagged errors. Their messages
 * are written here and never contain a secret or a piece of the body, so they can be answered
 * to the sender as they are.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** Why a delivery's signature (or the material it is computed over) was refused. */
export class InvalidSignature extends Schema.TaggedError<InvalidSignature>()("InvalidSignature", {
  reason: Schema.Literals([
    "missing_header",
    "malformed_header",
    "missing_payload",
    "payload_not_raw",
    "no_match",
    "too_old",
    "no_secret",
  ]),
  message: Schema.String,
}) {}

/** An HTTP request that is not a delivery the handler can read: wrong method, too big, broken. */
export class RequestRefused extends Schema.TaggedError<RequestRefused>()("RequestRefused", {
  reason: Schema.Literals(["method_not_allowed", "body_too_large", "body_unreadable"]),
  message: Schema.String,
}) {}

/**
 * An event whose `livemode` differs from its session's (`data.object.livemode`): Stripe never
 * sends one, so the delivery is refused and nothing is written.
 */
export class LivemodeMismatch extends Schema.TaggedError<LivemodeMismatch>()("LivemodeMismatch", {
  stripeEventId: Schema.String,
  eventLivemode: Schema.Boolean,
  sessionLivemode: Schema.Boolean,
  message: Schema.String,
}) {}

/**
 * The endpoint's `account` cannot name a platform account (empty, or a connected account's
 * `acct_…`). A setting, not the delivery's fault: answered 500, so Stripe delivers again once
 * the endpoint is fixed.
 */
export class InvalidAccount extends Schema.TaggedError<InvalidAccount>()("InvalidAccount", {
  account: Schema.String,
  message: Schema.String,
}) {}
