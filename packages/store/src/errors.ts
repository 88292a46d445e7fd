/**
 * Every way the store can say no, as tagged errors. Each names what was wrong and where; when
 * one is raised, nothing has been written.
 *
 * Version conflicts and duplicate Stripe events are not errors: `appendToStream` returns them as
 * values (see `append.ts`).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** A stream id that is not a non-empty, printable string of at most 255 characters. */
export class InvalidStreamId extends Schema.TaggedError<InvalidStreamId>()("InvalidStreamId", {
  streamId: Schema.Unknown,
  message: Schema.String,
}) {}

/** An event that is not a `SessionEvent` of the domain, or not representable as JSON. */
export class InvalidEvent extends Schema.TaggedError<InvalidEvent>()("InvalidEvent", {
  index: Schema.Int,
  message: Schema.String,
}) {}

/** A payload carrying a secret or personal data (`client_secret`, `url`, verified outputs, provided details). */
export class ForbiddenField extends Schema.TaggedError<ForbiddenField>()("ForbiddenField", {
  path: Schema.String,
  message: Schema.String,
}) {}

/** An event whose JSON is larger than the store accepts. */
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", {
  index: Schema.Int,
  bytes: Schema.Int,
  limit: Schema.Int,
  message: Schema.String,
}) {}

/** Arguments that make no sense: a negative expected version, a bad limit, bad metadata, … */
export class InvalidArgument extends Schema.TaggedError<InvalidArgument>()("InvalidArgument", {
  argument: Schema.String,
  message: Schema.String,
}) {}

/** The database cannot be reached (refused, timed out, shut down, connection lost). */
export class StoreUnavailable extends Schema.TaggedError<StoreUnavailable>()("StoreUnavailable", {
  message: Schema.String,
  cause: Schema.Defect(),
}) {}

/** The database answered with an error the store did not expect. */
export class StoreFailure extends Schema.TaggedError<StoreFailure>()("StoreFailure", {
  operation: Schema.String,
  message: Schema.String,
  cause: Schema.Defect(),
}) {}

/** An UPDATE, DELETE or TRUNCATE of the append-only event log was attempted. */
export class EventLogImmutable extends Schema.TaggedError<EventLogImmutable>()("EventLogImmutable", {
  message: Schema.String,
}) {}

/**
 * The stored events carry transaction ids the server has not reached yet: the database was
 * restored into a new cluster (logical dump/restore). Readers would skip events, so the store
 * refuses to start.
 */
export class TransactionIdsAhead extends Schema.TaggedError<TransactionIdsAhead>()("TransactionIdsAhead", {
  storedMax: Schema.String,
  serverNext: Schema.String,
  message: Schema.String,
}) {}

/** `handle` lost the race for the stream's next version more times than it may retry. */
export class ConflictRetriesExhausted extends Schema.TaggedError<ConflictRetriesExhausted>()(
  "ConflictRetriesExhausted",
  {
    streamId: Schema.String,
    attempts: Schema.Int,
    message: Schema.String,
  },
) {}

/** An event that was stored but no longer decodes (it was written by something else). */
export class CorruptEvent extends Schema.TaggedError<CorruptEvent>()("CorruptEvent", {
  position: Schema.Int,
  message: Schema.String,
}) {}

/** Errors of the database itself, common to every operation. */
export type DatabaseError = StoreUnavailable | StoreFailure | EventLogImmutable

/** Errors of bad input to an append. */
export type AppendInputError =
  | InvalidStreamId
  | InvalidEvent
  | ForbiddenField
  | PayloadTooLarge
  | InvalidArgument

/** Another run holds this account's lease: one active reconciler run per account. */
export class RunInProgress extends Schema.TaggedError<RunInProgress>()("RunInProgress", {
  account: Schema.String,
  message: Schema.String,
}) {}
