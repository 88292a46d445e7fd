/**
 * A pool: `workers` reconciliations at once in this process, over a list of accounts, sharing the
 * work with any other process of the same pool through Postgres (`runState`'s pool operations,
 * migration 0015). Each account's run is the ordinary run (`reconcileEffect`) with `account` set.
 *
 * - A round: every account of the list reconciled once. The process joins the pool's open round
 *   (or opens the next), adding its accounts; an account done in the round by anyone is not run
 *   again in it.
 * - A worker claims an account (its lease, taken with a row lock, `SKIP LOCKED`), runs it while a
 *   heartbeat renews the lease, and gives it up; a crashed process's accounts are claimed again
 *   once their leases expire. Workers with nothing to claim wait while accounts are still held by
 *   others, so they take over what a crashed process left.
 * - The result: complete when every account of the round ended complete; `heldByOthers` when this
 *   process ran none because others held them whenever it looked (the exit codes: `exit-codes.ts`).
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import { type DatabaseError, EventStore, type EventStoreService } from "@idtrail/store"
import { Cause, Duration, Effect, Exit, Fiber, Option, Schema } from "effect"
import { InvalidConfig, type StripeAuthRefused } from "./errors.ts"
import { type ReconcileOptions, reconcileEffect } from "./reconcile.ts"
import type { Report } from "./report.ts"
import { StripeApi, type StripeApiService } from "./stripe-api.ts"

export interface PoolOptions {
  /** The accounts of the round (account keys; see `accounts.ts`). */
  readonly accounts: ReadonlyArray<string>
  /** Runs at once in this process (1 to 64). */
  readonly workers: number
  readonly mode: "incremental" | "sweep"
  /**
   * The pool's name: processes with the same name share its rounds (default: the mode and the
   * sorted accounts).
   */
  readonly pool?: string | undefined
  /** Each run's lease (default 300 s), renewed every third of it while the run goes on. */
  readonly leaseSeconds?: number | undefined
  /** How often a worker with nothing to claim looks again (default a quarter of the lease, at most 1 s). */
  readonly pollMillis?: number | undefined
  /** The store an account's run writes through (default: the `EventStore` provided; e.g. instrumented per account). */
  readonly storeFor?: ((account: string) => EventStoreService) | undefined
  /** The Stripe API of an account (a connected account's reads carry its `Stripe-Account`). */
  readonly stripeFor: (account: string) => Effect.Effect<StripeApiService, InvalidConfig>
  /** Passed to each run. */
  readonly concurrency?: ReconcileOptions["concurrency"]
  readonly localPageSize?: ReconcileOptions["localPageSize"]
  readonly rereadFraction?: ReconcileOptions["rereadFraction"]
  readonly rereadShare?: ReconcileOptions["rereadShare"]
  /** The vault, for every account's run (absent: off). */
  readonly vault?: ReconcileOptions["vault"]
  /** Told of each run's report as it ends (a stopped run's partial report included). */
  readonly onReport?: ((report: Report) => void) | undefined
  /** Told when a worker claims an account. */
  readonly onClaim?: ((account: string, runId: string) => void) | undefined
}

/** What a pool's round came to, as this process saw it at the end. */
export interface PoolReport {
  readonly pool: string
  readonly round: number
  /** Accounts in the round (all processes' lists). */
  readonly accounts: number
  /** The reports of the runs this process made, in the order they ended. */
  readonly reports: ReadonlyArray<Report>
  /** Accounts of the round whose run ended incomplete (by any process). */
  readonly incomplete: ReadonlyArray<string>
  /** Every account of the round done, and none incomplete. */
  readonly complete: boolean
  /** This process ran no account: another run held each whenever it looked. */
  readonly heldByOthers: boolean
}

/**
 * The default name of a pool: processes given the same mode and accounts share their rounds. A
 * long list is named by its digest (the name is a key of an index).
 */
export const poolName = (mode: string, accounts: ReadonlyArray<string> | "all", platform = "default") => {
  if (accounts === "all") return `${mode}:${platform}:all`
  const list = [...new Set(accounts)].sort().join(",")
  return list.length <= 200
    ? `${mode}:${list}`
    : `${mode}:sha256:${createHash("sha256").update(list).digest("hex")}`
}

const newRunId = () => `recon_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`

const invalid = (setting: string, message: string) => Effect.fail(new InvalidConfig({ setting, message }))

/** Renews the lease every third of it; stops (with a warning) once it cannot, and the run's own renewal ends the run. */
const heartbeat = (store: EventStoreService, account: string, runId: string, leaseSeconds: number) =>
  Effect.sleep(Duration.millis((leaseSeconds * 1000) / 3)).pipe(
    Effect.andThen(store.runState.renewLease(account, runId, leaseSeconds)),
    Effect.forever,
    Effect.catch((error) => Effect.logWarning(`the lease of ${account} was not renewed: ${error.message}`)),
  )

/** Runs the pool's round over `options.accounts` until every account in it is done. */
export const runPool = Effect.fn("reconciler.pool")(function* (options: PoolOptions) {
  const store = yield* EventStore
  const { accounts, workers, mode } = options
  const leaseSeconds = options.leaseSeconds ?? 300
  if (accounts.length === 0) return yield* invalid("accounts", "a pool needs at least one account")
  if (!Number.isSafeInteger(workers) || workers < 1 || workers > 64)
    return yield* invalid("workers", `workers must be an integer from 1 to 64, got ${String(workers)}`)
  if (!Number.isFinite(leaseSeconds) || leaseSeconds < 1 || leaseSeconds > 86_400)
    return yield* invalid(
      "leaseSeconds",
      `the lease must be from 1 to 86400 seconds, got ${String(leaseSeconds)}`,
    )
  const pollMillis = options.pollMillis ?? Math.min(1000, leaseSeconds * 250)
  const pool = options.pool ?? poolName(mode, accounts)
  let round = yield* store.runState.joinRound(pool, accounts)
  // A round left open with every account done (its process stopped before closing it) is closed, and the next one joined.
  for (let i = 0; i < 3 && (yield* store.runState.finishRound(pool, round)); i++)
    round = yield* store.runState.joinRound(pool, accounts)

  const reports: Array<Report> = []
  const refused: Array<StripeAuthRefused> = []
  // Whether a worker with nothing to claim ever found accounts held by other runs.
  let sawHeld = false
  const report = (r: Report) => {
    reports.push(r)
    options.onReport?.(r)
  }

  /** One claimed account's run; `true` when the account is done in the round. */
  const runAccount = (account: string, runId: string) =>
    Effect.gen(function* () {
      const stripe = yield* options.stripeFor(account)
      const beat = yield* Effect.forkChild(heartbeat(store, account, runId, leaseSeconds))
      const exit = yield* reconcileEffect({
        mode,
        account,
        runId,
        leaseSeconds,
        concurrency: options.concurrency,
        localPageSize: options.localPageSize,
        rereadFraction: options.rereadFraction,
        rereadShare: options.rereadShare,
        vault: options.vault,
        onStopped: report,
      }).pipe(
        Effect.provideService(EventStore, options.storeFor?.(account) ?? store),
        Effect.provideService(StripeApi, stripe),
        Effect.exit,
      )
      yield* Fiber.interrupt(beat)
      if (Exit.isSuccess(exit)) {
        report(exit.value)
        yield* store.runState.finishAccount(pool, round, account, runId, exit.value.complete)
        return
      }
      const error = Cause.findErrorOption(exit.cause)
      if (Option.isNone(error)) return yield* Effect.failCause(exit.cause as Cause.Cause<never>)
      switch (error.value._tag) {
        // Another run took the lease: the account is its to finish.
        case "RunInProgress":
          return
        // This account's key or permission: the others may still be read.
        case "StripeAuthRefused":
          refused.push(error.value as StripeAuthRefused)
          yield* Effect.logWarning(`account ${account}: ${error.value.message}`)
          yield* store.runState.finishAccount(pool, round, account, runId, false)
          return
        default:
          return yield* Effect.fail(error.value)
      }
    })

  const worker = Effect.gen(function* () {
    for (;;) {
      const runId = newRunId()
      const account = yield* store.runState.claimAccount(pool, round, runId, leaseSeconds)
      if (account !== null) {
        options.onClaim?.(account, runId)
        yield* runAccount(account, runId)
        continue
      }
      const status = yield* store.runState.roundStatus(pool, round)
      if (status.done >= status.accounts) return
      if (status.held > 0) sawHeld = true
      yield* Effect.sleep(Duration.millis(pollMillis))
    }
  })

  yield* Effect.all(
    Array.from({ length: workers }, () => worker),
    { concurrency: "unbounded", discard: true },
  )
  yield* store.runState.finishRound(pool, round)
  const status = yield* store.runState.roundStatus(pool, round)
  // Every run this process made refused by Stripe: the key, not an account, is wrong.
  if (reports.length > 0 && refused.length === reports.length) return yield* Effect.fail(refused[0]!)
  return {
    pool,
    round,
    accounts: status.accounts,
    reports,
    incomplete: status.incomplete,
    complete: status.done === status.accounts && status.incomplete.length === 0,
    heldByOthers: reports.length === 0 && sawHeld,
  } satisfies PoolReport
})

/** What ends a pool instead of a report. */
export type PoolError = InvalidConfig | StripeAuthRefused | DatabaseError

/** A pool's round went to its end with accounts incomplete (exit 1, as an incomplete run). */
export class PoolIncomplete extends Schema.TaggedError<PoolIncomplete>()("PoolIncomplete", {
  pool: Schema.String,
  round: Schema.Number,
  accounts: Schema.Array(Schema.String),
  message: Schema.String,
}) {}
