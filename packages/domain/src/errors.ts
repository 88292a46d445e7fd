/**
 * Every way the domain can say no, as tagged errors: they name what was wrong and where.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** A requested action is not allowed from the session's current status (fact sheet §2.3). */
export class TransitionNotAllowed extends Schema.TaggedError<TransitionNotAllowed>()("TransitionNotAllowed", {
  sessionId: Schema.String,
  status: Schema.String,
  action: Schema.String,
  message: Schema.String,
}) {}

/** A request named a session this stream has never observed. */
export class SessionNotFound extends Schema.TaggedError<SessionNotFound>()("SessionNotFound", {
  sessionId: Schema.NullOr(Schema.String),
  action: Schema.String,
  message: Schema.String,
}) {}

/** An observation of one session was sent to another session's stream. */
export class SessionMismatch extends Schema.TaggedError<SessionMismatch>()("SessionMismatch", {
  expected: Schema.String,
  actual: Schema.String,
  message: Schema.String,
}) {}

/**
 * An observation seen through one Stripe account was sent to a session recorded under another:
 * a session belongs to the account that created it, so nothing is written.
 */
export class AccountMismatch extends Schema.TaggedError<AccountMismatch>()("AccountMismatch", {
  sessionId: Schema.String,
  recorded: Schema.String,
  observed: Schema.String,
  message: Schema.String,
}) {}

/** A request's parameters break Stripe's rules (metadata limits, types, …). */
export class InvalidRequest extends Schema.TaggedError<InvalidRequest>()("InvalidRequest", {
  param: Schema.String,
  message: Schema.String,
}) {}

/** An incoming payload (webhook body, API response) is not what Stripe sends. */
export class InvalidPayload extends Schema.TaggedError<InvalidPayload>()("InvalidPayload", {
  path: Schema.String,
  message: Schema.String,
}) {}

/** What `decide` can answer instead of events. */
export type DecideError =
  | TransitionNotAllowed
  | SessionNotFound
  | SessionMismatch
  | AccountMismatch
  | InvalidRequest
