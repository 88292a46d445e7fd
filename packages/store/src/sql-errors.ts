/**
 * Turning what `pg` throws into the store's typed errors: a database that cannot be reached is
 * `StoreUnavailable`, a refused change of the log is `EventLogImmutable`, anything else is a
 * `StoreFailure` naming the operation.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { EventLogImmutable, StoreFailure, StoreUnavailable } from "./errors.ts"

const networkCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "EAI_AGAIN",
])
const unavailableMessages = [
  "timeout exceeded when trying to connect",
  "Connection terminated",
  "connection error",
  "Cannot use a pool after calling end",
  "Client was closed",
  "the database system is",
]

/** The Postgres SQLSTATE of an error, when it has one. */
export const sqlState = (error: unknown): string | undefined => {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === "string" ? code : undefined
}

/** `true` when the error says the database could not be reached rather than that a query failed. */
export const isUnavailable = (error: unknown): boolean => {
  const code = sqlState(error)
  if (code !== undefined && (networkCodes.has(code) || code.startsWith("08") || code.startsWith("57P")))
    return true
  const message = error instanceof Error ? error.message : String(error)
  return unavailableMessages.some((m) => message.includes(m))
}

/** Maps a thrown database error to a typed store error. */
export const toStoreError = (
  operation: string,
  error: unknown,
): StoreUnavailable | StoreFailure | EventLogImmutable => {
  const message = error instanceof Error ? error.message : String(error)
  if (sqlState(error) === "IT001") return new EventLogImmutable({ message })
  if (isUnavailable(error)) {
    return new StoreUnavailable({
      message: `${operation}: the database is unavailable (${message || sqlState(error) || "no answer"})`,
      cause: error,
    })
  }
  return new StoreFailure({ operation, message: `${operation} failed: ${message}`, cause: error })
}

/** Runs a database call as an Effect, mapping its failure with {@link toStoreError}. */
export const query = <A>(
  operation: string,
  run: () => Promise<A>,
): Effect.Effect<A, StoreUnavailable | StoreFailure | EventLogImmutable> =>
  Effect.tryPromise({ try: run, catch: (error) => toStoreError(operation, error) })
