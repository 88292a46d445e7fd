/**
 * The command's configuration: its arguments and environment, checked before anything runs. A
 * setting that cannot work is an `InvalidConfig` that says which and why.
 *
 * @since 0.1.0
 */
import { Duration, Effect } from "effect"
import { InvalidConfig } from "./errors.ts"

/** The flags of `idtrail reconcile` as parsed (`cli/commands.ts`), before they are checked. */
export interface ReconcileFlags {
  readonly mode: string
  readonly dryRun: boolean
  readonly json: boolean
  readonly account: string
  readonly dataDir: string | undefined
  readonly simulate: string | undefined
  readonly every: string | undefined
  /** Sweeps: sessions of a page at the store at once (absent: the store's default). */
  readonly concurrency?: string | undefined
  /** The vault's retention (`30d`); absent: `IDTRAIL_VAULT_RETENTION`, else the vault is off. */
  readonly vaultRetention?: string | undefined
}

/** What one run of the command is asked to do. */
export interface Config {
  readonly mode: "incremental" | "sweep"
  readonly dryRun: boolean
  readonly json: boolean
  readonly account: string
  readonly dataDir: string | undefined
  readonly simulate: number | undefined
  /** Run again and again, this far apart (jittered); undefined: one run. */
  readonly every: Duration.Duration | undefined
  readonly apiKey: string | undefined
  readonly apiBase: string | undefined
  readonly databaseUrl: string | undefined
  readonly maxRequestsPerSecond: number
  readonly maxRetries: number
  /** Sweeps: sessions of a page at the store at once; undefined: the default (64). */
  readonly concurrency: number | undefined
  /** The vault on, keeping verified outputs this long; undefined: off. */
  readonly vaultRetention: Duration.Duration | undefined
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

const units: Record<string, Duration.Unit> = { s: "seconds", m: "minutes", h: "hours", d: "days" }

/** `30s`, `10m`, `1h`, `1d` (at least a second). */
export const parseEvery = (raw: string | undefined) => {
  if (raw === undefined) return Effect.succeed(undefined)
  const match = /^(\d+)\s*(s|m|h|d)$/.exec(raw.trim())
  const amount = match === null ? 0 : Number(match[1])
  return match !== null && amount >= 1 && Number.isSafeInteger(amount)
    ? Effect.succeed(Duration.fromInputUnsafe(`${amount} ${units[match[2]!]!}`))
    : invalid(
        "--every",
        `--every must be a duration of at least 1s, like 30s, 10m, 1h or 1d, got ${JSON.stringify(raw)}`,
      )
}

/** The longest vault retention the store accepts (ten years). */
const maxRetentionDays = 3653

/**
 * `--vault-retention` (or `IDTRAIL_VAULT_RETENTION`): `90d`, `12h`, … at least a second, at most
 * ten years. The vault keeps values encrypted, so it needs a key-encryption key in the environment.
 */
export const parseVaultRetention = (raw: string | undefined, env: NodeJS.ProcessEnv) => {
  if (raw === undefined) return Effect.succeed(undefined)
  const setting = "--vault-retention"
  const match = /^(\d+)\s*(s|m|h|d)$/.exec(raw.trim())
  const amount = match === null ? 0 : Number(match[1])
  const retention =
    match !== null && amount >= 1 && Number.isSafeInteger(amount)
      ? Duration.fromInputUnsafe(`${amount} ${units[match[2]!]!}`)
      : undefined
  if (retention === undefined || Duration.isGreaterThan(retention, Duration.days(maxRetentionDays)))
    return invalid(
      setting,
      `${setting} (or IDTRAIL_VAULT_RETENTION) must be a duration from 1s to ${maxRetentionDays}d, like 90d or 12h, got ${JSON.stringify(raw)}`,
    )
  if (unlessEmpty(env.IDTRAIL_KEK) === undefined && unlessEmpty(env.IDTRAIL_KEK_FILE) === undefined)
    return invalid(
      setting,
      "the vault keeps verified outputs encrypted under a key-encryption key, and none is set: " +
        "set IDTRAIL_KEK (base64 of 32 bytes) or IDTRAIL_KEK_FILE, or leave --vault-retention (and IDTRAIL_VAULT_RETENTION) out",
    )
  return Effect.succeed(retention)
}

/**
 * An account key: a platform account's name (letters, digits, `_ . : -`, not starting with
 * `acct_`), or a connected account's Stripe id `acct_…`, read with the `Stripe-Account` header.
 */
/** A connected account's Stripe id, as every account check reads it. */
export const connectedAccountId = /^acct_[A-Za-z0-9]{1,64}$/
/** A platform account's name. */
export const platformAccountName = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/

export const checkAccount = (account: string) =>
  account.startsWith("acct_")
    ? connectedAccountId.test(account)
      ? Effect.void
      : invalid(
          "--account",
          `--account ${JSON.stringify(account)} starts with acct_, so it names a connected account: acct_ followed by letters and digits`,
        )
    : platformAccountName.test(account)
      ? Effect.void
      : invalid(
          "--account",
          `--account must name a platform account (letters, digits, _ . : -, up to 100) or a connected account acct_…, got ${JSON.stringify(account)}`,
        )

/** Checks the parsed flags and reads the environment. */
export const readConfig = Effect.fnUntraced(function* (flags: ReconcileFlags, env: NodeJS.ProcessEnv) {
  const mode = flags.mode
  if (mode !== "incremental" && mode !== "sweep")
    return yield* invalid("--mode", `--mode must be incremental or sweep, got ${mode}`)
  yield* checkAccount(flags.account)
  const simulate = yield* count("--simulate", flags.simulate, 0)
  const every = yield* parseEvery(flags.every)
  const concurrency = yield* count("--concurrency", flags.concurrency, 1)
  if (concurrency !== undefined && concurrency > 100)
    return yield* invalid(
      "--concurrency",
      `--concurrency must be from 1 to 100 (a page holds 100), got ${concurrency}`,
    )
  const vaultRetention = yield* parseVaultRetention(
    flags.vaultRetention ?? unlessEmpty(env.IDTRAIL_VAULT_RETENTION),
    env,
  )
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
  // Checked here, so a single run and a pool both refuse it before opening anything.
  const apiBase = unlessEmpty(env.STRIPE_API_BASE)
  if (apiBase !== undefined && !/^https?:$/.test(URL.parse(apiBase)?.protocol ?? ""))
    return yield* invalid(
      "STRIPE_API_BASE",
      `STRIPE_API_BASE must be an http(s) URL, got ${JSON.stringify(apiBase)}`,
    )
  return {
    mode,
    dryRun: flags.dryRun,
    json: flags.json,
    account: flags.account,
    dataDir: flags.dataDir,
    simulate,
    every,
    apiKey,
    apiBase,
    databaseUrl: unlessEmpty(env.DATABASE_URL),
    maxRequestsPerSecond: rps,
    maxRetries: retries,
    concurrency,
    vaultRetention,
  } satisfies Config
})
