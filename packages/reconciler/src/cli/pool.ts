/**
 * `idtrail reconcile --accounts all|LIST --workers N`: a pool (`pool.ts`) over the accounts, sharing
 * each round with every other process of the same `--mode` and `--accounts` on the database. Each
 * account's run prints its report as a single run does; the round's outcome decides the exit code:
 * 0 every account complete, 1 any incomplete, 3 this process ran none because other runs held every
 * account whenever it looked. With `--every`, a round after another.
 *
 * Each account's reads go through its own rate limit (`RECONCILE_MAX_RPS`), shared by every process
 * through Postgres (`postgres-limit.ts`); a connected account (`acct_…`) is read with `Stripe-Account`.
 * Telemetry is a run's (`telemetry.ts`), each account's counters with its `account`.
 *
 * @since 0.1.0
 */
import { EventStore, makeEventStore, RunInProgress } from "@idtrail/store"
import { Duration, Effect, Exit, Schedule } from "effect"
import { isConnected, listConnectedAccounts, parseAccounts, resolveAccounts } from "../accounts.ts"
import { type ReconcileFlags, readConfig } from "../config.ts"
import { InvalidConfig } from "../errors.ts"
import { exitCodeOf } from "../exit-codes.ts"
import { PoolIncomplete, poolName, runPool } from "../pool.ts"
import { makeSharedLimit } from "../postgres-limit.ts"
import type { ReconcileReport } from "../reconcile.ts"
import { type Report, renderReport } from "../report.ts"
import { makeStripeApi } from "../stripe-api.ts"
import { countStripeRequests, instrumentStore, otlpConfigured, otlpLayer } from "../telemetry.ts"
import { renderVault } from "../vault.ts"
import { type CliContext, describeStore } from "./context.ts"

/** The pool's own flags, as parsed. */
export interface PoolFlags {
  readonly accounts: string | undefined
  readonly workers: string | undefined
  readonly leaseSeconds: string | undefined
}

const invalid = (setting: string, message: string) => Effect.fail(new InvalidConfig({ setting, message }))

const integer = (setting: string, raw: string | undefined, fallback: number, min: number, max: number) => {
  if (raw === undefined) return Effect.succeed(fallback)
  const n = Number(raw)
  return Number.isSafeInteger(n) && n >= min && n <= max
    ? Effect.succeed(n)
    : invalid(setting, `${setting} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`)
}

/** Checks the pool's flags beside the command's; nothing is opened before they pass. */
export const readPoolConfig = Effect.fnUntraced(function* (
  flags: ReconcileFlags,
  pool: PoolFlags,
  env: NodeJS.ProcessEnv,
  reportFile: string | undefined,
) {
  const config = yield* readConfig(flags, env)
  if (config.dryRun)
    return yield* invalid(
      "--dry-run",
      "--dry-run reads one account and writes nothing, so it takes no part in a pool: give --account, not --accounts or --workers",
    )
  if (config.simulate !== undefined)
    return yield* invalid(
      "--simulate",
      "--simulate is a sandbox of one account: not with --accounts or --workers",
    )
  if (reportFile !== undefined)
    return yield* invalid(
      "--report",
      "--report writes the audit report of one run: not with --accounts or --workers",
    )
  const workers = yield* integer("--workers", pool.workers, 1, 1, 64)
  const leaseSeconds = yield* integer("--lease-seconds", pool.leaseSeconds, 300, 1, 86_400)
  const accounts = yield* parseAccounts(pool.accounts ?? config.account, config.account)
  return { config, workers, leaseSeconds, accounts }
})

/** The reconcile command as a pool. */
export const poolCommand = (ctx: CliContext, flags: ReconcileFlags, pool: PoolFlags, reportFile?: string) =>
  Effect.gen(function* () {
    const {
      config,
      workers,
      leaseSeconds,
      accounts: spec,
    } = yield* readPoolConfig(flags, pool, ctx.env, reportFile)
    const store = yield* makeEventStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir })
    ctx.log("info", describeStore(store, config.dataDir))
    if (config.vaultRetention !== undefined && store.personalData !== "encrypted")
      return yield* invalid(
        "--vault-retention",
        "the vault needs the store to encrypt personal data: set IDTRAIL_KEK or IDTRAIL_KEK_FILE",
      )
    const apiKey = config.apiKey!
    const limits = new Map<string, ReturnType<typeof makeSharedLimit>>()
    const limitOf = (account: string) => {
      let limit = limits.get(account)
      if (limit === undefined) {
        limit = makeSharedLimit(store, account, config.maxRequestsPerSecond)
        limits.set(account, limit)
      }
      return limit
    }
    const stripeFor = (account: string) =>
      makeStripeApi({
        apiKey,
        baseUrl: config.apiBase,
        maxRetries: config.maxRetries,
        stripeAccount: isConnected(account) ? account : undefined,
        rateLimit: limitOf(account),
      })
    const name = poolName(config.mode, spec.all ? "all" : spec.accounts, config.account)
    // Telemetry as a run's: each account's counters carry it; requests are counted for the platform key.
    const driftAge = otlpConfigured(ctx.env, "METRICS")
    const storeFor = (account: string) =>
      instrumentStore(store, { account, mode: config.mode, dryRun: false }, { driftAge })
    const host = new URL(config.apiBase ?? "https://api.stripe.com").hostname
    yield* Effect.acquireRelease(
      Effect.sync(() =>
        countStripeRequests(host, { account: config.account, mode: config.mode, dryRun: false }),
      ),
      (stop) => Effect.sync(stop),
    )

    const print = (report: Report) => {
      ctx.onReport(report)
      const vault = (report as ReconcileReport).vault
      const text = renderReport(report) + (vault === undefined ? "" : `\n${renderVault(vault)}`)
      ctx.stdout(`${config.json ? JSON.stringify(report) : text}\n`)
    }
    const round = Effect.gen(function* () {
      const accounts = yield* resolveAccounts(
        spec,
        config.account,
        listConnectedAccounts({
          apiKey,
          baseUrl: config.apiBase,
          maxRetries: config.maxRetries,
          limit: limitOf(config.account),
        }),
      )
      ctx.log("info", `pool ${name}: ${accounts.length} accounts, ${workers} workers in this process`)
      const result = yield* runPool({
        accounts,
        workers,
        mode: config.mode,
        pool: name,
        leaseSeconds,
        stripeFor,
        storeFor,
        concurrency: config.concurrency,
        vault: config.vaultRetention === undefined ? undefined : { retention: config.vaultRetention },
        onReport: print,
        onClaim: (account, runId) => ctx.log("info", `${account}: run ${runId} starts`, { pool: name }),
      }).pipe(Effect.provideService(EventStore, store))
      const summary = {
        pool: name,
        round: result.round,
        accounts: result.accounts,
        ranHere: result.reports.length,
        incomplete: result.incomplete,
      }
      if (result.heldByOthers)
        return yield* new RunInProgress({
          account: name,
          message: `pool ${name}, round ${result.round}: other runs held every account whenever this process looked; it ran none`,
        })
      if (!result.complete)
        return yield* new PoolIncomplete({
          pool: name,
          round: result.round,
          accounts: result.incomplete,
          message: `pool ${name}, round ${result.round}: ${result.incomplete.length} of ${result.accounts} accounts incomplete (${result.incomplete.slice(0, 10).join(", ")}${result.incomplete.length > 10 ? ", …" : ""})`,
        })
      // The last report told decides the exit code: a run stopped by a lost lease printed an incomplete one.
      const last = result.reports.findLast((r) => r.complete)
      if (last !== undefined) ctx.onReport(last)
      ctx.log("info", `pool ${name}, round ${result.round}: every account complete`, summary)
      return result
    })
    if (config.every === undefined) return yield* round

    const every = config.every
    ctx.log(
      "info",
      `running a round every ${Duration.format(every)} (jittered ±20 %) until SIGTERM or SIGINT`,
    )
    return yield* round.pipe(
      // What time may fix (accounts held, incomplete ones, the database away) is logged; the schedule goes on.
      Effect.catchIf(
        (error) => error._tag !== "InvalidConfig" && error._tag !== "StripeAuthRefused",
        (error) =>
          Effect.sync(() =>
            ctx.log("error", `the round ended early: ${error.message}`, {
              tag: error._tag,
              exitCode: exitCodeOf(Exit.fail(error)),
            }),
          ),
      ),
      Effect.repeat(Schedule.spaced(every).pipe(Schedule.jittered)),
    )
  }).pipe(Effect.asVoid, Effect.scoped, Effect.provide(otlpLayer(ctx.env)))
