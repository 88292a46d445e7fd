/**
 * The reconciler's typed errors. Messages say what went wrong and never carry an API key, a
 * client secret or a session's URL.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** A read from Stripe failed after the SDK's retries, or returned something unusable. */
export class StripeReadFailed extends Schema.TaggedError<StripeReadFailed>()("StripeReadFailed", {
  operation: Schema.String,
  message: Schema.String,
}) {}

/** Another run holds this account's lock: one active run per account. */
export class RunInProgress extends Schema.TaggedError<RunInProgress>()("RunInProgress", {
  account: Schema.String,
  message: Schema.String,
}) {}

/** The job's configuration cannot work (a missing key, a bad number, an unknown mode). */
export class InvalidConfig extends Schema.TaggedError<InvalidConfig>()("InvalidConfig", {
  setting: Schema.String,
  message: Schema.String,
}) {}
