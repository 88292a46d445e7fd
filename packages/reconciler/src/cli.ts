#!/usr/bin/env node
/**
 * `idtrail-reconcile`: one reconciliation run, for a scheduler (cron, a Kubernetes CronJob).
 *
 *   pnpm reconcile -- [--mode incremental|sweep] [--dry-run] [--json] [--account NAME]
 *                     [--data-dir DIR] [--simulate N]
 *
 * Environment: `STRIPE_API_KEY` (required unless `--simulate`), `STRIPE_API_BASE` (default
 * Stripe), `DATABASE_URL` (absent: embedded PGlite, in memory or in `--data-dir`),
 * `RECONCILE_MAX_RPS` (default 20). `--simulate N` starts the Stripe simulator in this process
 * with N sessions and reconciles against it: a sandbox needing no key and no database.
 *
 * Progress goes to stderr; the report to stdout (text, or JSON with `--json`). Exit codes: 0 the
 * run is complete, 1 it is incomplete (see its errors), 2 the configuration cannot work, 3 another
 * run of the account is active, 4 the database cannot be reached.
 *
 * @since 0.1.0
 */
import { parseArgs } from "node:util"
import { openStore } from "@idtrail/store"
import { InvalidConfig } from "./errors.ts"
import { reconcile } from "./reconcile.ts"
import { renderReport } from "./report.ts"
import { stripeApi } from "./stripe-api.ts"

const usage =
  "usage: idtrail-reconcile [--mode incremental|sweep] [--dry-run] [--json] [--account NAME] [--data-dir DIR] [--simulate N]"

interface Config {
  readonly mode: "incremental" | "sweep"
  readonly dryRun: boolean
  readonly json: boolean
  readonly account: string
  readonly dataDir: string | undefined
  readonly simulate: number | undefined
  readonly apiKey: string | undefined
  readonly apiBase: string | undefined
  readonly databaseUrl: string | undefined
  readonly maxRequestsPerSecond: number
}

/** Reads the command line and the environment; a setting that cannot work is an `InvalidConfig`. */
export const readConfig = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Config => {
  let parsed: ReturnType<typeof parse>
  // `pnpm reconcile -- --mode sweep` hands the `--` on: it separates pnpm's options from ours.
  const args = argv[0] === "--" ? argv.slice(1) : [...argv]
  const parse = () =>
    parseArgs({
      args,
      options: {
        mode: { type: "string", default: "incremental" },
        "dry-run": { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        account: { type: "string", default: "default" },
        "data-dir": { type: "string" },
        simulate: { type: "string" },
      },
      allowPositionals: false,
    })
  try {
    parsed = parse()
  } catch (error) {
    throw new InvalidConfig({ setting: "arguments", message: `${(error as Error).message}\n${usage}` })
  }
  const { values } = parsed
  if (values.mode !== "incremental" && values.mode !== "sweep") {
    throw new InvalidConfig({
      setting: "--mode",
      message: `--mode must be incremental or sweep, got ${values.mode}`,
    })
  }
  const count = (name: string, raw: string | undefined, min: number): number | undefined => {
    if (raw === undefined) return undefined
    const n = Number(raw)
    if (!Number.isSafeInteger(n) || n < min) {
      throw new InvalidConfig({
        setting: name,
        message: `${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}`,
      })
    }
    return n
  }
  const simulate = count("--simulate", values.simulate, 0)
  const apiKey = env.STRIPE_API_KEY === "" ? undefined : env.STRIPE_API_KEY
  if (simulate === undefined && apiKey === undefined) {
    throw new InvalidConfig({
      setting: "STRIPE_API_KEY",
      message:
        "STRIPE_API_KEY is not set: give a (restricted, read-only) key for the account to reconcile, " +
        "or try the job against the simulator with --simulate 1000",
    })
  }
  const rps = env.RECONCILE_MAX_RPS === undefined ? 20 : Number(env.RECONCILE_MAX_RPS)
  if (!Number.isFinite(rps) || rps <= 0) {
    throw new InvalidConfig({
      setting: "RECONCILE_MAX_RPS",
      message: `RECONCILE_MAX_RPS must be a positive number, got ${JSON.stringify(env.RECONCILE_MAX_RPS)}`,
    })
  }
  return {
    mode: values.mode,
    dryRun: values["dry-run"],
    json: values.json,
    account: values.account,
    dataDir: values["data-dir"],
    simulate,
    apiKey,
    apiBase: env.STRIPE_API_BASE === "" ? undefined : env.STRIPE_API_BASE,
    databaseUrl: env.DATABASE_URL === "" ? undefined : env.DATABASE_URL,
    maxRequestsPerSecond: rps,
  }
}

const exitCodeOf = (error: unknown): number => {
  switch ((error as { _tag?: string })._tag) {
    case "InvalidConfig":
    case "InvalidArgument":
      return 2
    case "RunInProgress":
      return 3
    case "StoreUnavailable":
      return 4
    default:
      return 1
  }
}

export const main = async (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Promise<number> => {
  let config: Config
  try {
    config = readConfig(argv, env)
  } catch (error) {
    process.stderr.write(`idtrail-reconcile: ${(error as Error).message}\n`)
    return exitCodeOf(error)
  }
  const log = (line: string) => process.stderr.write(`${line}\n`)
  let closeSimulator = async () => {}
  let apiKey = config.apiKey
  let apiBase = config.apiBase
  if (config.simulate !== undefined) {
    // Imported only here: the simulator plays Stripe in a sandbox run, never in production.
    const { startSimulator } = await import("@idtrail/simulator")
    const sim = await startSimulator({ sessions: config.simulate, seed: 1, rateLimit: false })
    closeSimulator = sim.close
    apiKey = "sk_test_simulated"
    apiBase = sim.url
    log(`simulator: ${config.simulate.toLocaleString("en")} sessions at ${sim.url}`)
  }
  try {
    const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir })
    log(
      `store: ${store.kind === "postgres" ? "Postgres (DATABASE_URL)" : `embedded PGlite${config.dataDir === undefined ? " in memory" : ` in ${config.dataDir}`}`}, schema ${store.schema}`,
    )
    try {
      const report = await reconcile(
        store,
        stripeApi({ apiKey: apiKey!, baseUrl: apiBase, maxRequestsPerSecond: config.maxRequestsPerSecond }),
        {
          mode: config.mode,
          dryRun: config.dryRun,
          account: config.account,
          onProgress: (p) =>
            log(
              `${p.phase}: ${p.pages} pages, ${p.examined} sessions compared, ${p.started} missing locally, ${p.repaired} repaired, ${p.errors} errors`,
            ),
        },
      )
      process.stdout.write(`${config.json ? JSON.stringify(report, null, 2) : renderReport(report)}\n`)
      return report.complete ? 0 : 1
    } finally {
      await store.close()
    }
  } catch (error) {
    process.stderr.write(`idtrail-reconcile: ${(error as Error).message}\n`)
    return exitCodeOf(error)
  } finally {
    await closeSimulator()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv.slice(2), process.env)
}
