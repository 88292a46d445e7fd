/**
 * `idtrail reconcile`: the sandbox (when `--simulate`), the store, Stripe, then one run, or with
 * `--every` a run after another on a jittered `Schedule` until a signal stops it. Every run
 * prints its report (and with `--report FILE` writes its audit report there, `run-report.ts`);
 * telemetry is wired at the service boundaries (`telemetry.ts`).
 *
 * @since 0.1.0
 */
import { isConnectedAccount } from "@idtrail/domain"
import { EventStore, type EventStoreService, makeEventStore } from "@idtrail/store"
import { Duration, Effect, Exit, Schedule } from "effect"
import { type Config, type ReconcileFlags, readConfig } from "../config.ts"
import { InvalidConfig } from "../errors.ts"
import { exitCodeOf } from "../exit-codes.ts"
import { makeProgress } from "../progress.ts"
import { type ReconcileReport, reconcileEffect } from "../reconcile.ts"
import { renderReport } from "../report.ts"
import { makeStripeApi, StripeApi } from "../stripe-api.ts"
import {
  countStripeRequests,
  instrumentStore,
  otlpConfigured,
  otlpLayer,
  type RunAttributes,
} from "../telemetry.ts"
import { renderVault } from "../vault.ts"
import { type CliContext, describeStore } from "./context.ts"
import { checkReportFile, writeRunReport } from "./run-report.ts"

/** The simulator playing Stripe in this process, for the sandbox; never loaded in production. */
const sandbox = (sessions: number) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const { startSimulator } = await import("@idtrail/simulator")
      return startSimulator({ sessions, seed: 1, rateLimit: false })
    }),
    (sim) => Effect.promise(() => sim.close()),
  )

const finalStatuses = new Set(["verified", "canceled"])

/** About how many sessions the run will compare: the local count (a sweep) or the open ones (incremental). */
const estimate = (store: EventStoreService, mode: Config["mode"], account: string) =>
  store.audit.countsByStatus({ account }).pipe(
    Effect.map((counts) =>
      counts
        .filter((c) => mode === "sweep" || !finalStatuses.has(c.status))
        .reduce((sum, c) => sum + c.sessions, 0),
    ),
    Effect.map((n) => (n === 0 ? null : n)),
    Effect.orElseSucceed(() => null),
  )

// Errors no later run gets past without a person: a setting, a key.
const needsAPerson = (error: { readonly _tag: string }) =>
  error._tag === "InvalidConfig" || error._tag === "StripeAuthRefused"

/** The reconcile command for `flags`; with `reportFile`, each run's audit report is written there. */
export const reconcileCommand = (ctx: CliContext, flags: ReconcileFlags, reportFile?: string) =>
  Effect.gen(function* () {
    const config = yield* readConfig(flags, ctx.env)
    if (reportFile !== undefined) yield* checkReportFile(reportFile, process.cwd())
    let apiKey = config.apiKey
    let apiBase = config.apiBase
    if (config.simulate !== undefined) {
      const sim = yield* sandbox(config.simulate)
      apiKey = "sk_test_simulated"
      apiBase = sim.url
      ctx.log("info", `simulator: ${config.simulate.toLocaleString("en")} sessions at ${sim.url}`)
    }
    const opened = yield* makeEventStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir })
    ctx.log("info", describeStore(opened, config.dataDir))
    if (config.vaultRetention !== undefined && opened.personalData !== "encrypted")
      return yield* new InvalidConfig({
        setting: "--vault-retention",
        message: "the vault needs the store to encrypt personal data: set IDTRAIL_KEK or IDTRAIL_KEK_FILE",
      })
    const attributes: RunAttributes = { account: config.account, mode: config.mode, dryRun: config.dryRun }
    const store = instrumentStore(opened, attributes, { driftAge: otlpConfigured(ctx.env, "METRICS") })
    const stripe = yield* makeStripeApi({
      apiKey: apiKey!,
      baseUrl: apiBase,
      maxRequestsPerSecond: config.maxRequestsPerSecond,
      maxRetries: config.maxRetries,
      // A connected account is read through the platform's key with the Stripe-Account header.
      stripeAccount: isConnectedAccount(config.account) ? config.account : undefined,
    })
    const host = new URL(apiBase ?? "https://api.stripe.com").hostname
    yield* Effect.acquireRelease(
      Effect.sync(() => countStripeRequests(host, attributes)),
      (stop) => Effect.sync(stop),
    )

    // One report a line when several follow each other; a readable document for one run.
    const print = (report: ReconcileReport) => {
      ctx.onReport(report)
      const json = config.every === undefined ? JSON.stringify(report, null, 2) : JSON.stringify(report)
      const text = renderReport(report) + (report.vault === undefined ? "" : `\n${renderVault(report.vault)}`)
      ctx.stdout(`${config.json ? json : text}\n`)
    }
    const once = Effect.gen(function* () {
      const progress = makeProgress({ tty: ctx.stderrIsTerminal, write: ctx.stderr, log: ctx.log })
      progress.estimate(yield* estimate(store, config.mode, config.account))
      const report = yield* reconcileEffect({
        mode: config.mode,
        dryRun: config.dryRun,
        account: config.account,
        concurrency: config.concurrency,
        vault: config.vaultRetention === undefined ? undefined : { retention: config.vaultRetention },
        onProgress: progress.update,
        onStopped: (partial) => {
          progress.done()
          print(partial)
        },
      }).pipe(Effect.provideService(EventStore, store), Effect.provideService(StripeApi, stripe))
      progress.done()
      print(report)
      if (reportFile !== undefined) {
        const written = yield* writeRunReport(opened, report, reportFile, process.cwd())
        const where = `the audit report of run ${report.runId} (${written.sessions.toLocaleString("en")} sessions, ${written.window.from.toISOString()} to ${written.window.to.toISOString()}): ${written.path}`
        // Under --json stdout is the report alone; the line goes to the log.
        if (config.json) ctx.log("info", where)
        else ctx.stdout(`\n${where}\n`)
      }
      return report
    })
    if (config.every === undefined) return yield* once

    const every = config.every
    ctx.log("info", `running every ${Duration.format(every)} (jittered ±20 %) until SIGTERM or SIGINT`)
    return yield* once.pipe(
      // A run that ended on something time may fix (the lease held, the database away) is logged; the schedule goes on.
      Effect.catchIf(
        (error) => !needsAPerson(error),
        (error) =>
          Effect.sync(() =>
            ctx.log("error", `the run ended early: ${error.message}`, {
              tag: error._tag,
              exitCode: exitCodeOf(Exit.fail(error)),
            }),
          ),
      ),
      Effect.repeat(Schedule.spaced(every).pipe(Schedule.jittered)),
    )
  }).pipe(Effect.scoped, Effect.provide(otlpLayer(ctx.env)))
