/**
 * One reconciliation run: take the account's lease, run the mode, and report. Every session read
 * from Stripe is observed authoritatively (`observe.ts`); repairs are the domain's ordinary
 * events, so a second run right after the first finds nothing to do.
 *
 * - `incremental.ts`: the Identity events since the saved cursor (each session's history, then
 *   its present), the quarantined sessions, and open sessions on a bounded schedule;
 * - `sweep.ts`: every session, compared both ways, a page at a time, resumable.
 *
 * `reconcileEffect` is the program, over the `EventStore` and `StripeApi` services; `reconcile`
 * runs it for Promise code. A run with any error never counts as complete.
 *
 * @since 0.1.0
 */
import {
  type DatabaseError,
  EventStore,
  maxPage,
  type PromiseStore,
  type StoreUnavailable,
} from "@idtrail/store"
import { Cause, Effect, Exit, Result } from "effect"
import { InvalidConfig, type RunInProgress, type StripeAuthRefused } from "./errors.ts"
import { incremental } from "./incremental.ts"
import type { Progress, Report } from "./report.ts"
import { makeRun } from "./run.ts"
import { defaultSchedule } from "./schedule.ts"
import { StripeApi, type StripeApiService } from "./stripe-api.ts"
import { sweep } from "./sweep.ts"
import { Tally } from "./tally.ts"
import {
  CurrentVaulting,
  checkRetention,
  expireVault,
  Vaulting,
  type VaultOptions,
  type VaultSummary,
} from "./vault.ts"

export interface ReconcileOptions {
  readonly mode: "incremental" | "sweep"
  /** Report what would change; write nothing (no events, no cursor, no lease, no quarantine). */
  readonly dryRun?: boolean | undefined
  /** The Stripe account the store records (default `default`): one run per account at a time. */
  readonly account?: string | undefined
  /** Default: `recon_<time>_<random>`. */
  readonly runId?: string | undefined
  /** How long the run's lease lasts without renewal (default 300 s; renewed after every page). */
  readonly leaseSeconds?: number | undefined
  readonly onProgress?: ((progress: Progress) => void) | undefined
  /**
   * When the run stops before its end (interrupted, or ended by one of its errors): the report
   * of what it did until then, with `stoppedBy` saying why.
   */
  readonly onStopped?: ((partial: Report) => void) | undefined
  /**
   * Local sessions read from the store per query, in both modes (default 1,000): the open
   * sessions of an incremental run, a window of a sweep's comparison.
   */
  readonly localPageSize?: number | undefined
  /**
   * Incremental runs: an open session no event named is re-read when the time since Stripe last
   * confirmed it exceeds this fraction of its age (default 0.1; 0: every open session; `schedule.ts`).
   */
  readonly rereadFraction?: number | undefined
  /** Incremental runs: at most this share of the open sessions is re-read on schedule (default 0.01). */
  readonly rereadShare?: number | undefined
  /**
   * Sweeps: how many sessions of a page are at the store at once, so their appends share commits
   * (default {@link defaultConcurrency}: 64 on either store). 1: one at a time.
   */
  readonly concurrency?: number | undefined
  /**
   * The vault (`vault.ts`; absent: off): verified sessions' outputs are read once expanded and
   * kept encrypted for `retention`; values past it are deleted at the end of every run that
   * writes. Needs a store with a key-encryption key.
   */
  readonly vault?: VaultOptions | undefined
}

/** A run's report; with the vault on, what the run did with it. */
export type ReconcileReport = Report & { readonly vault?: VaultSummary }

/**
 * A sweep's concurrency when none is given, by the store's kind (measured: the reconciler's
 * README). With the store's group reads and group commits, 64 of a page's 100 sessions at once
 * share a few round trips on either store.
 */
export const defaultConcurrency = { postgres: 64, pglite: 64 } as const

/**
 * What ends a run instead of a report: it cannot start (a bad option, the lease held, the database
 * unusable) or cannot go on (the lease lost, the key refused, the database gone).
 */
export type ReconcileError = InvalidConfig | RunInProgress | StripeAuthRefused | DatabaseError

// Errors no later page could get past; any other error on a page ends the run incomplete, with a report.
const endsTheRun = (error: {
  readonly _tag: string
}): error is RunInProgress | StripeAuthRefused | StoreUnavailable =>
  error._tag === "RunInProgress" || error._tag === "StripeAuthRefused" || error._tag === "StoreUnavailable"

/** One reconciliation of the `EventStore` against `StripeApi`. */
export const reconcileEffect = Effect.fn("reconciler.run")(function* (options: ReconcileOptions) {
  const store = yield* EventStore
  const stripe = yield* StripeApi
  const account = options.account ?? "default"
  const runId = options.runId ?? `recon_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`
  const dryRun = options.dryRun ?? false
  const leaseSeconds = options.leaseSeconds ?? 300
  const localPageSize = options.localPageSize ?? 1000
  if (!Number.isSafeInteger(localPageSize) || localPageSize < 1 || localPageSize > maxPage)
    return yield* new InvalidConfig({
      setting: "localPageSize",
      message: `localPageSize must be an integer from 1 to ${maxPage}, got ${String(localPageSize)}`,
    })
  const concurrency = options.concurrency ?? defaultConcurrency[store.kind]
  if (!Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > 100)
    return yield* new InvalidConfig({
      setting: "concurrency",
      message: `concurrency must be an integer from 1 to 100 (a page holds 100), got ${String(concurrency)}`,
    })
  const schedule = {
    rereadFraction: options.rereadFraction ?? defaultSchedule.rereadFraction,
    rereadShare: options.rereadShare ?? defaultSchedule.rereadShare,
  }
  if (!(schedule.rereadFraction >= 0) || !Number.isFinite(schedule.rereadFraction))
    return yield* new InvalidConfig({
      setting: "rereadFraction",
      message: `rereadFraction must be a number from 0 up, got ${String(schedule.rereadFraction)}`,
    })
  if (!(schedule.rereadShare >= 0 && schedule.rereadShare <= 1))
    return yield* new InvalidConfig({
      setting: "rereadShare",
      message: `rereadShare must be a number from 0 to 1, got ${String(schedule.rereadShare)}`,
    })
  let vaulting: Vaulting | undefined
  if (options.vault !== undefined) {
    const retention = checkRetention(options.vault.retention)
    if (Result.isFailure(retention))
      return yield* new InvalidConfig({ setting: "vault.retention", message: retention.failure })
    if (store.personalData !== "encrypted")
      return yield* new InvalidConfig({
        setting: "vault",
        message:
          "the vault keeps verified outputs encrypted, and this store has no key-encryption key: " +
          "set IDTRAIL_KEK (base64 of 32 bytes) or IDTRAIL_KEK_FILE, or turn the vault off",
      })
    vaulting = new Vaulting(retention.success, options.vault.now ?? (() => new Date()), {
      account,
      mode: options.mode,
      dry_run: String(dryRun),
    })
  }
  const startedAt = new Date().toISOString()
  const requestsBefore = yield* stripe.requests
  const tally = new Tally()
  const run = makeRun({ store, stripe, account, runId, dryRun, tally }, leaseSeconds, options.onProgress)
  const report = (stoppedBy: string | null) =>
    Effect.map(stripe.requests, (requests) =>
      tally.report({
        runId,
        account,
        mode: options.mode,
        dryRun,
        startedAt,
        stoppedBy,
        requests: requests - requestsBefore,
      }),
    ).pipe(
      Effect.map((r): ReconcileReport => (vaulting === undefined ? r : { ...r, vault: vaulting.summary() })),
      // Kept for the audit views (@idtrail/audit); a dry run writes nothing, and a run whose record fails still reports.
      Effect.tap((r) =>
        dryRun
          ? Effect.void
          : store.runState
              .recordRun(r)
              .pipe(Effect.catch((e) => Effect.logWarning(`the run could not be recorded: ${e.message}`))),
      ),
    )

  // Set once the run holds its lease: a run refused at the start has no report to give.
  let started = false
  const body = Effect.gen(function* () {
    if (!dryRun)
      yield* Effect.acquireRelease(store.runState.acquireLease(account, runId, leaseSeconds), () =>
        // Released on every exit, interruption included, so the next run is not refused.
        store.runState
          .releaseLease(account, runId)
          .pipe(
            Effect.catch((error) =>
              Effect.logWarning(`the lease could not be released (it expires by itself): ${error.message}`),
            ),
          ),
      )
    started = true
    for (const q of yield* store.runState.quarantined(account))
      tally.quarantine.set(q.sessionId, {
        ...q,
        firstAt: q.firstAt.toISOString(),
        lastAt: q.lastAt.toISOString(),
      })
    yield* (
      options.mode === "sweep"
        ? sweep(run, localPageSize, concurrency)
        : incremental(run, localPageSize, schedule)
    ).pipe(
      // A page that cannot be read ends the run, incomplete; what was done so far stays.
      Effect.catchIf(
        (error) => !endsTheRun(error),
        (error) => Effect.sync(() => tally.failed(null, error)),
      ),
    )
    // Values past their retention go at the end of every run that writes (not a dry run).
    yield* expireVault(run).pipe(
      Effect.catchIf(
        (error) => !endsTheRun(error),
        (error) => Effect.sync(() => tally.failed(null, error)),
      ),
    )
    return yield* report(null)
  }).pipe(Effect.scoped, Effect.provideService(CurrentVaulting, vaulting))

  return yield* body.pipe(
    Effect.onExit((exit) => {
      if (Exit.isSuccess(exit) || !started || options.onStopped === undefined) return Effect.void
      const error = Cause.findErrorOption(exit.cause)
      const stoppedBy = Cause.hasInterruptsOnly(exit.cause)
        ? "interrupted"
        : error._tag === "Some"
          ? error.value._tag
          : "defect"
      return Effect.flatMap(report(stoppedBy), (partial) => Effect.sync(() => options.onStopped?.(partial)))
    }),
  )
})

/**
 * {@link reconcileEffect} for Promise code: `store.service` is the store's Effect service.
 * Resolves with the report; rejects with the tagged error that ended the run (check `_tag`).
 */
export const reconcile = async (
  store: PromiseStore,
  stripe: StripeApiService,
  options: ReconcileOptions,
): Promise<ReconcileReport> => {
  const exit = await Effect.runPromiseExit(
    reconcileEffect(options).pipe(
      Effect.provideService(EventStore, store.service),
      Effect.provideService(StripeApi, stripe),
    ),
  )
  if (Exit.isSuccess(exit)) return exit.value
  throw Cause.squash(exit.cause)
}
