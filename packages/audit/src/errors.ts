/**
 * The audit package's own error: what it writes (a report, an export) could not be written.
 * Everything else it reports is the store's (`InvalidArgument`, `CorruptEvent`, database errors).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** A file or stream the audit views write to refused the write (no such directory, disk full, a closed pipe). */
export class OutputFailed extends Schema.TaggedError<OutputFailed>()("OutputFailed", {
  target: Schema.String,
  message: Schema.String,
}) {}

/** The `OutputFailed` of a failed write to `target`. */
export const outputFailed = (target: string, cause: unknown): OutputFailed =>
  new OutputFailed({
    target,
    message: `cannot write ${target}: ${cause instanceof Error ? cause.message : String(cause)}`,
  })
