/**
 * The `idtrail` command tree, parsed by `effect/cli`: `reconcile`, `migrate`, `audit` and `sim`, each with
 * `--help` listing its flags and environment variables.
 *
 * @since 0.1.0
 */
import { makeEventStore } from "@idtrail/store"
import { Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { audit } from "./audit.ts"
import { type CliContext, describeStore } from "./context.ts"
import { erase } from "./erase.ts"
import { EnvironmentVariables } from "./help.ts"
import { poolCommand } from "./pool.ts"
import { reconcileCommand } from "./reconcile.ts"
import { runSimulatorCli } from "./sim.ts"

const database: ReadonlyArray<readonly [string, string]> = [
  [
    "DATABASE_URL",
    "Postgres (postgres://…); absent: an embedded PGlite in a temporary directory or in --data-dir",
  ],
]

const telemetry: ReadonlyArray<readonly [string, string]> = [
  ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTLP/HTTP endpoint for traces, metrics and logs (absent: telemetry off)"],
  ["OTEL_EXPORTER_OTLP_HEADERS", "headers for it (key=value,…); also the per-signal OTEL_* variables"],
  ["OTEL_SERVICE_NAME", "the service name (default idtrail-reconciler)"],
  ["OTEL_SDK_DISABLED", "true turns telemetry off"],
]

const dataDir = Flag.String("data-dir").pipe(
  Flag.withDescription(
    "the embedded PGlite's directory (when DATABASE_URL is not set); default: a temporary one, removed on exit (memory:// keeps it in memory)",
  ),
  Flag.optional,
)

const reconcile = (ctx: CliContext) =>
  Command.make(
    "reconcile",
    {
      mode: Flag.String("mode").pipe(
        Flag.withDescription(
          "incremental (the Events API since the last run, and open sessions) or sweep (every session)",
        ),
        Flag.withDefault("incremental"),
      ),
      dryRun: Flag.Boolean("dry-run").pipe(
        Flag.withDescription("report what would change; write nothing"),
        Flag.withDefault(false),
      ),
      json: Flag.Boolean("json").pipe(
        Flag.withDescription("print the report as JSON (one line per run with --every)"),
        Flag.withDefault(false),
      ),
      account: Flag.String("account").pipe(
        Flag.withDescription(
          "the Stripe account to reconcile: a platform account's name (its key in STRIPE_API_KEY; default `default`) or a connected account acct_… (read through the platform's key with the Stripe-Account header); the run's sessions, lease and cursors are that account's",
        ),
        Flag.withDefault("default"),
      ),
      dataDir,
      simulate: Flag.String("simulate").pipe(
        Flag.withDescription(
          "a sandbox: the Stripe simulator in this process with N sessions (no key needed)",
        ),
        Flag.optional,
      ),
      every: Flag.String("every").pipe(
        Flag.withDescription(
          "keep running: a run every DURATION (30s, 10m, 1h, 1d), jittered ±20 %, until SIGTERM",
        ),
        Flag.optional,
      ),
      concurrency: Flag.String("concurrency").pipe(
        Flag.withDescription("sweeps: sessions of a page recorded at once (1 to 100; default 64)"),
        Flag.optional,
      ),
      vaultRetention: Flag.String("vault-retention").pipe(
        Flag.withDescription(
          "the vault: keep each verified session's verified outputs and provided details, read once from Stripe, encrypted (needs IDTRAIL_KEK or IDTRAIL_KEK_FILE) for DURATION (90d, 12h; up to 3653d); values past it are deleted at the end of every run",
        ),
        Flag.optional,
      ),
      report: Flag.String("report").pipe(
        Flag.withDescription(
          "write the HTML audit report of the run's window (the oldest session to the run's end) to FILE",
        ),
        Flag.optional,
      ),
      // The pool (cli/pool.ts): any of these three makes the command a pool.
      accounts: Flag.String("accounts").pipe(
        Flag.withDescription(
          "a pool over several accounts: all (the --account and every connected account Stripe lists) or a comma list (the --account, acct_…); processes with the same --mode and --accounts share each round through Postgres",
        ),
        Flag.optional,
      ),
      workers: Flag.String("workers").pipe(
        Flag.withDescription("a pool: accounts reconciled at once in this process (1 to 64, default 1)"),
        Flag.optional,
      ),
      leaseSeconds: Flag.String("lease-seconds").pipe(
        Flag.withDescription(
          "a pool: an account's lease, renewed while its run goes on (default 300); a crashed process's accounts are taken over once it expires",
        ),
        Flag.optional,
      ),
    },
    ({ report, accounts, workers, leaseSeconds, ...flags }) =>
      Effect.gen(function* () {
        const parsed = {
          ...flags,
          dataDir: Option.getOrUndefined(flags.dataDir),
          simulate: Option.getOrUndefined(flags.simulate),
          every: Option.getOrUndefined(flags.every),
          concurrency: Option.getOrUndefined(flags.concurrency),
          vaultRetention: Option.getOrUndefined(flags.vaultRetention),
        }
        const pooled = Option.isSome(accounts) || Option.isSome(workers) || Option.isSome(leaseSeconds)
        if (pooled)
          return yield* poolCommand(
            ctx,
            parsed,
            {
              accounts: Option.getOrUndefined(accounts),
              workers: Option.getOrUndefined(workers),
              leaseSeconds: Option.getOrUndefined(leaseSeconds),
            },
            Option.getOrUndefined(report),
          )
        return yield* reconcileCommand(ctx, parsed, Option.getOrUndefined(report))
      }),
  ).pipe(
    Command.withShortDescription("compare the local record with Stripe and repair drift"),
    Command.withDescription(
      "One reconciliation run (or, with --every, one after another): read Stripe, record what the local " +
        "record lacks as ordinary events, print the report. Exit codes: 0 complete, 1 incomplete, 2 bad " +
        "configuration, 3 another run holds the lease, 4 database unreachable, 5 Stripe refused the key, " +
        "130/143 interrupted by SIGINT/SIGTERM.",
    ),
    Command.annotate(EnvironmentVariables, [
      [
        "STRIPE_API_KEY",
        "a restricted key: read Identity VerificationSessions and Events (required unless --simulate)",
      ],
      ["STRIPE_API_BASE", "Stripe's API base URL (default https://api.stripe.com)"],
      ...database,
      ["RECONCILE_MAX_RPS", "requests per second to Stripe (default 20)"],
      ["RECONCILE_MAX_RETRIES", "retries of a 429, 5xx or network error (default 6)"],
      [
        "IDTRAIL_VAULT_RETENTION",
        "the vault's retention when --vault-retention is not given (absent: vault off)",
      ],
      [
        "IDTRAIL_KEK, IDTRAIL_KEK_FILE",
        "the key-encryption key the store encrypts personal data with (the vault needs one)",
      ],
      ...telemetry,
    ]),
    Command.withExamples([
      { command: "idtrail reconcile --simulate 1000 --mode sweep", description: "a sandbox sweep" },
      {
        command: "idtrail reconcile --mode sweep --report report.html",
        description: "a sweep, then the audit report of its window",
      },
      { command: "idtrail reconcile --mode incremental --every 10m", description: "keep the record in step" },
    ]),
  )

const migrate = (ctx: CliContext) =>
  Command.make("migrate", { dataDir }, ({ dataDir }) =>
    Effect.gen(function* () {
      const dir = Option.getOrUndefined(dataDir)
      const store = yield* makeEventStore({ databaseUrl: ctx.env.DATABASE_URL || undefined, dataDir: dir })
      ctx.log("info", `${describeStore(store, dir)}: migrated, up to date`)
    }).pipe(Effect.scoped),
  ).pipe(
    Command.withShortDescription("bring the store's schema up to date, and exit"),
    Command.withDescription(
      "Runs the store's migrations (idempotent; safe from several processes at once) and exits: a deploy " +
        "step before the job and the webhook handlers start. Exit 0 when up to date, 4 when the database " +
        "cannot be reached or used.",
    ),
    Command.annotate(EnvironmentVariables, database),
  )

const sim = Command.make("sim", {}, () => Effect.promise(() => runSimulatorCli([]))).pipe(
  Command.withShortDescription("serve the Stripe simulator (idtrail sim --help for its options)"),
  Command.withDescription("The Stripe simulator alone, for the stripe SDK; its options: idtrail sim --help."),
)

/** The `idtrail` command. */
export const idtrail = (ctx: CliContext) =>
  Command.make("idtrail").pipe(
    Command.withDescription("An auditable record of Stripe Identity VerificationSessions in Postgres."),
    Command.withSubcommands([reconcile(ctx), migrate(ctx), audit(ctx), erase(ctx), sim]),
  )
