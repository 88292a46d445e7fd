/**
 * One reconciliation run: take the account's lease, run the mode, and report. Every session read
 * from Stripe is observed authoritatively (`observe.ts`); repairs are the domain's ordinary
 * events, so a second run right after the first finds nothing to do.
 *
 * - `incremental.ts`: the Identity events since the saved cursor, plus the open sessions;
 * - `sweep.ts`: every session, compared both ways, a page at a time, resumable.
 *
 * A run with any error never counts as complete, and its cursor does not move.
 *
 * @since 0.1.0
 */
import { maxPage, type PromiseStore } from "@idtrail/store"
import { InvalidConfig } from "./errors.ts"
import { incremental } from "./incremental.ts"
import { acquireLease, releaseLease } from "./lease.ts"
import type { Progress, Report } from "./report.ts"
import { makeRun } from "./run.ts"
import type { StripeApi } from "./stripe-api.ts"
import { sweep } from "./sweep.ts"
import { ensureTables, type RunStateTarget } from "./tables.ts"
import { Tally } from "./tally.ts"

export interface ReconcileOptions {
  readonly mode: "incremental" | "sweep"
  /** Report what would change; write nothing (no events, no cursor, no lease). */
  readonly dryRun?: boolean | undefined
  /** The Stripe account the store records (default `default`): one run per account at a time. */
  readonly account?: string | undefined
  /** Default: `recon_<time>_<random>`. */
  readonly runId?: string | undefined
  /** How long the run's lease lasts without renewal (default 300 s; renewed after every page). */
  readonly leaseSeconds?: number | undefined
  readonly onProgress?: ((progress: Progress) => void) | undefined
  /**
   * Local sessions read from the store per query, in both modes (default 1,000): the open
   * sessions of an incremental run, a window of a sweep's comparison.
   */
  readonly localPageSize?: number | undefined
}

/** Runs one reconciliation of `store` against `stripe`. Rejects only when the run cannot start or continue (lease, database). */
export const reconcile = async (
  store: PromiseStore,
  stripe: StripeApi,
  options: ReconcileOptions,
): Promise<Report> => {
  const account = options.account ?? "default"
  const runId = options.runId ?? `recon_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`
  const dryRun = options.dryRun ?? false
  const leaseSeconds = options.leaseSeconds ?? 300
  const localPageSize = options.localPageSize ?? 1000
  if (!Number.isSafeInteger(localPageSize) || localPageSize < 1 || localPageSize > maxPage)
    throw new InvalidConfig({
      setting: "localPageSize",
      message: `localPageSize must be an integer from 1 to ${maxPage}, got ${String(localPageSize)}`,
    })
  const target: RunStateTarget = { db: store.service.db, schema: store.schema }
  const startedAt = new Date().toISOString()
  const requestsBefore = stripe.requests()
  const tally = new Tally()
  const run = makeRun(
    { store, stripe, target, account, runId, dryRun, tally },
    leaseSeconds,
    options.onProgress,
  )

  await ensureTables(target)
  if (!dryRun) await acquireLease(target, account, runId, leaseSeconds)
  try {
    await (options.mode === "sweep" ? sweep(run, localPageSize) : incremental(run, localPageSize))
  } catch (error) {
    // Losing the lease stops the run; a page that cannot be read ends it, incomplete, and what
    // was done so far stays.
    if ((error as { _tag?: string })._tag === "RunInProgress") throw error
    tally.failed(null, error)
  } finally {
    if (!dryRun) await releaseLease(target, account, runId)
  }
  return tally.report({
    runId,
    account,
    mode: options.mode,
    dryRun,
    startedAt,
    requests: stripe.requests() - requestsBefore,
  })
}
