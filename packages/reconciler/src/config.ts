/**
 * The command's configuration: its arguments and environment, checked before anything runs. A
 * setting that cannot work is an `InvalidConfig` that says which and why.
 *
 * @since 0.1.0
 */
import { parseArgs } from "node:util"
import { Effect } from "effect"
import { InvalidConfig } from "./errors.ts"

export const usage =
  "usage: idtrail-reconcile [--mode incremental|sweep] [--dry-run] [--json] [--account NAME] [--data-dir DIR] [--simulate N]"

/** What one run of the command is asked to do. */
export interface Config {
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
  readonly maxRetries: number
}

const invalid = (setting: string, message: string) => Effect.fail(new InvalidConfig({ setting, message }))

const count = (name: string, raw: string | undefined, min: number) => {
  if (raw === undefined) return Effect.succeed(undefined)
  const n = Number(raw)
  return Number.isSafeInteger(n) && n >= min
    ? Effect.succeed(n)
    : invalid(name, `${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}`)
}

const unlessEmpty = (value: string | undefined) => (value === "" ? undefined : value)

/** Reads the command line and the environment. */
export const readConfig = Effect.fnUntraced(function* (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv) {
  // `pnpm reconcile -- --mode sweep` hands the `--` on: it separates pnpm's options from ours.
  const args = argv[0] === "--" ? argv.slice(1) : [...argv]
  const { values } = yield* Effect.try({
    try: () =>
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
      }),
    catch: (error) =>
      new InvalidConfig({ setting: "arguments", message: `${(error as Error).message}\n${usage}` }),
  })
  const mode = values.mode
  if (mode !== "incremental" && mode !== "sweep")
    return yield* invalid("--mode", `--mode must be incremental or sweep, got ${mode}`)
  const simulate = yield* count("--simulate", values.simulate, 0)
  const apiKey = unlessEmpty(env.STRIPE_API_KEY)
  if (simulate === undefined && apiKey === undefined)
    return yield* invalid(
      "STRIPE_API_KEY",
      "STRIPE_API_KEY is not set: give a (restricted, read-only) key for the account to reconcile, " +
        "or try the job against the simulator with --simulate 1000",
    )
  const rps = env.RECONCILE_MAX_RPS === undefined ? 20 : Number(env.RECONCILE_MAX_RPS)
  if (!Number.isFinite(rps) || rps <= 0)
    return yield* invalid(
      "RECONCILE_MAX_RPS",
      `RECONCILE_MAX_RPS must be a positive number, got ${JSON.stringify(env.RECONCILE_MAX_RPS)}`,
    )
  const retries = env.RECONCILE_MAX_RETRIES === undefined ? 6 : Number(env.RECONCILE_MAX_RETRIES)
  if (!Number.isSafeInteger(retries) || retries < 0)
    return yield* invalid(
      "RECONCILE_MAX_RETRIES",
      `RECONCILE_MAX_RETRIES must be an integer ≥ 0, got ${JSON.stringify(env.RECONCILE_MAX_RETRIES)}`,
    )
  return {
    mode,
    dryRun: values["dry-run"],
    json: values.json,
    account: values.account,
    dataDir: values["data-dir"],
    simulate,
    apiKey,
    apiBase: unlessEmpty(env.STRIPE_API_BASE),
    databaseUrl: unlessEmpty(env.DATABASE_URL),
    maxRequestsPerSecond: rps,
    maxRetries: retries,
  } satisfies Config
})
