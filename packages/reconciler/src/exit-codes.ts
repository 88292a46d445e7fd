/**
 * The command's exit codes, one per thing a scheduler (or the person it pages) does next, and
 * the mapping from a run's `Exit` to them.
 *
 * @since 0.1.0
 */
import { Cause, Exit, Option } from "effect"
import type { Report } from "./report.ts"

/** Every exit code of `idtrail reconcile` (and `idtrail-reconcile`); `idtrail migrate` uses 0, 2 and 4. */
export const exitCodes = {
  /** The run is complete. */
  complete: 0,
  /** The run went to its end but is incomplete: a page failed, or sessions failed and were quarantined (a pool: any account's run). */
  incomplete: 1,
  /** The configuration cannot work (a missing key, a bad number, an unknown option, a file it was told to write that cannot be written). */
  badConfig: 2,
  /** Another run of the account holds the lease (or took it from this run); a pool: others held every account whenever it looked. */
  runInProgress: 3,
  /** The database cannot be reached or used. */
  databaseUnavailable: 4,
  /** Stripe refused the API key or its permissions (401, 403). */
  stripeAuthRefused: 5,
  /** Stopped by SIGINT (128 + 2), after releasing the lease and printing the partial report. */
  interrupted: 130,
  /** Stopped by SIGTERM (128 + 15), the same way. */
  terminated: 143,
} as const

const byTag: Record<string, number> = {
  InvalidConfig: exitCodes.badConfig,
  InvalidArgument: exitCodes.badConfig,
  // `audit export|report` to a path that cannot be written: the person who gave the path fixes it.
  OutputFailed: exitCodes.badConfig,
  RunInProgress: exitCodes.runInProgress,
  PoolIncomplete: exitCodes.incomplete,
  StoreUnavailable: exitCodes.databaseUnavailable,
  StoreFailure: exitCodes.databaseUnavailable,
  EventLogImmutable: exitCodes.databaseUnavailable,
  TransactionIdsAhead: exitCodes.databaseUnavailable,
  StripeAuthRefused: exitCodes.stripeAuthRefused,
}

/** The exit code of a run's `Exit`; `signal` is the one that interrupted it, if any. */
export const exitCodeOf = (
  exit: Exit.Exit<Report, { readonly _tag: string }>,
  signal: "SIGINT" | "SIGTERM" | null = null,
): number => {
  if (Exit.isSuccess(exit)) return exit.value.complete ? exitCodes.complete : exitCodes.incomplete
  if (Cause.hasInterruptsOnly(exit.cause))
    return signal === "SIGINT" ? exitCodes.interrupted : exitCodes.terminated
  const error = Cause.findErrorOption(exit.cause)
  return Option.isSome(error) ? (byTag[error.value._tag] ?? exitCodes.incomplete) : exitCodes.incomplete
}
