#!/usr/bin/env node
/**
 * `idtrail-reconcile`: one reconciliation run, for a scheduler (cron, a Kubernetes CronJob).
 *
 *   pnpm reconcile -- [--mode incremental|sweep] [--dry-run] [--json] [--account NAME]
 *                     [--data-dir DIR] [--simulate N]
 *
 * Environment: `STRIPE_API_KEY` (required unless `--simulate`), `STRIPE_API_BASE` (default
 * Stripe), `DATABASE_URL` (absent: embedded PGlite, in memory or in `--data-dir`),
 * `RECONCILE_MAX_RPS` (default 20), `RECONCILE_MAX_RETRIES` (default 6). `--simulate N` starts the Stripe simulator in this process
 * with N sessions and reconciles against it: a sandbox needing no key and no database.
 *
 * Progress goes to stderr; the report to stdout (text, or JSON with `--json`). SIGTERM and SIGINT
 * interrupt the run: its lease is released and the partial report printed. The exit codes are in
 * `exit-codes.ts` and the README.
 *
 * @since 0.1.0
 */
import { realpathSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { EventStore, makeEventStore } from "@idtrail/store"
import { Cause, Effect, Exit, Option } from "effect"
import { type Config, readConfig } from "./config.ts"
import { exitCodeOf } from "./exit-codes.ts"
import { reconcileEffect } from "./reconcile.ts"
import { type Report, renderReport } from "./report.ts"
import { makeStripeApi, StripeApi } from "./stripe-api.ts"

const log = (line: string) => process.stderr.write(`${line}\n`)

const print = (config: Config, report: Report) =>
  process.stdout.write(`${config.json ? JSON.stringify(report, null, 2) : renderReport(report)}\n`)

/** The simulator playing Stripe in this process, for the sandbox; never loaded in production. */
const sandbox = (sessions: number) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const { startSimulator } = await import("@idtrail/simulator")
      return startSimulator({ sessions, seed: 1, rateLimit: false })
    }),
    (sim) => Effect.promise(() => sim.close()),
  )

/** One run as the command runs it: configuration, sandbox, store, Stripe, the run, its report. */
export const program = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv) =>
  Effect.gen(function* () {
    const config = yield* readConfig(argv, env)
    let apiKey = config.apiKey
    let apiBase = config.apiBase
    if (config.simulate !== undefined) {
      const sim = yield* sandbox(config.simulate)
      apiKey = "sk_test_simulated"
      apiBase = sim.url
      log(`simulator: ${config.simulate.toLocaleString("en")} sessions at ${sim.url}`)
    }
    const store = yield* makeEventStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir })
    const where = config.dataDir === undefined ? " in memory" : ` in ${config.dataDir}`
    log(
      `store: ${store.kind === "postgres" ? "Postgres (DATABASE_URL)" : `embedded PGlite${where}`}, schema ${store.schema}`,
    )
    const stripe = yield* makeStripeApi({
      apiKey: apiKey!,
      baseUrl: apiBase,
      maxRequestsPerSecond: config.maxRequestsPerSecond,
      maxRetries: config.maxRetries,
    })
    const report = yield* reconcileEffect({
      mode: config.mode,
      dryRun: config.dryRun,
      account: config.account,
      onProgress: (p) =>
        log(
          `${p.phase}: ${p.pages} pages, ${p.examined} sessions compared, ${p.started} missing locally, ${p.repaired} repaired, ${p.errors} errors`,
        ),
      onStopped: (partial) => print(config, partial),
    }).pipe(Effect.provideService(EventStore, store), Effect.provideService(StripeApi, stripe))
    print(config, report)
    return report
  }).pipe(Effect.scoped)

/** Runs the command until it ends or a signal interrupts it; resolves with the exit code. */
export const main = async (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Promise<number> => {
  const interrupt = new AbortController()
  let signal: "SIGINT" | "SIGTERM" | null = null
  const stop = (received: "SIGINT" | "SIGTERM") => () => {
    signal ??= received
    interrupt.abort()
  }
  const onTerm = stop("SIGTERM")
  const onInt = stop("SIGINT")
  process.on("SIGTERM", onTerm)
  process.on("SIGINT", onInt)
  try {
    const exit = await Effect.runPromiseExit(program(argv, env), { signal: interrupt.signal })
    if (Exit.isFailure(exit)) {
      const error = Cause.findErrorOption(exit.cause)
      const message = Cause.hasInterruptsOnly(exit.cause)
        ? `interrupted by ${signal ?? "an interruption"}: the lease was released, the report above is partial`
        : Option.isSome(error)
          ? ((error.value as { message?: string }).message ?? error.value._tag)
          : Cause.pretty(exit.cause)
      log(`idtrail-reconcile: ${message}`)
    }
    return exitCodeOf(exit, signal)
  } finally {
    process.off("SIGTERM", onTerm)
    process.off("SIGINT", onInt)
  }
}

// Run when this file is the entry point, also through node_modules/.bin's symlink: real paths compared.
const isEntryPoint = (): boolean => {
  const argv1 = process.argv[1]
  if (argv1 === undefined) return false
  try {
    return realpathSync(fileURLToPath(import.meta.url)) === realpathSync(argv1)
  } catch {
    return false
  }
}

if (isEntryPoint()) {
  process.exitCode = await main(process.argv.slice(2), process.env)
}
