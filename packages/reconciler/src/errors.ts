/**
 * The reconciler's typed errors. Messages say what went wrong and never carry an API key, a
 * client secret or a session's URL.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** The one-run-per-account refusal lives with the lease, in the store; re-exported here. */
export { RunInProgress } from "@idtrail/store"

/**
 * A read from Stripe failed (after the retries, when `retryable`), or returned something
 * unusable. `status` is the HTTP status when Stripe answered.
 */
export class StripeReadFailed extends Schema.TaggedError<StripeReadFailed>()("StripeReadFailed", {
  operation: Schema.String,
  status: Schema.NullOr(Schema.Int),
  /** A 429, a 5xx or a network error: worth sending again. */
  retryable: Schema.Boolean,
  message: Schema.String,
}) {}

/** Stripe refused the API key (401) or its permissions (403): no read of the run can succeed. */
export class StripeAuthRefused extends Schema.TaggedError<StripeAuthRefused>()("StripeAuthRefused", {
  status: Schema.Int,
  message: Schema.String,
}) {}

/** What a read from Stripe can fail with. */
export type StripeError = StripeReadFailed | StripeAuthRefused

/** The job's configuration cannot work (a missing key, a bad number, an unknown mode). */
export class InvalidConfig extends Schema.TaggedError<InvalidConfig>()("InvalidConfig", {
  setting: Schema.String,
  message: Schema.String,
}) {}
