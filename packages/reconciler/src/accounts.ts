/**
 * Which accounts a pool reconciles: `--accounts all` (the platform account and every connected
 * account Stripe lists, `GET /v1/accounts`, every page) or `--accounts a,b,…` (account keys).
 *
 * An account key starting with `acct_` is a connected account of the platform key in use, read
 * with the `Stripe-Account` header; any other key names a platform account. One process holds one
 * platform key, so a list names the platform account (`--account`) and connected accounts only.
 *
 * @since 0.1.0
 */

import { isConnectedAccount } from "@idtrail/domain"
import { Effect } from "effect"
import Stripe from "stripe"
import { connectedAccountId, platformAccountName } from "./config.ts"
import { InvalidConfig, StripeAuthRefused, type StripeError, StripeReadFailed } from "./errors.ts"
import type { Limit } from "./postgres-limit.ts"
import { retrySchedule } from "./request-policy.ts"
import { apiVersion, endpointOf } from "./stripe-api.ts"

/** `true` for a connected account's key (`acct_…`). */
export const isConnected = isConnectedAccount

/** What `--accounts` asked for, checked: `all`, or the keys of the list (deduplicated, in order). */
export type AccountsSpec =
  | { readonly all: true }
  | { readonly all: false; readonly accounts: ReadonlyArray<string> }

/** Reads `--accounts` (`all` or a comma list) for the platform account `platform`. */
export const parseAccounts = (raw: string, platform: string): Effect.Effect<AccountsSpec, InvalidConfig> => {
  const invalid = (message: string) => Effect.fail(new InvalidConfig({ setting: "--accounts", message }))
  if (raw.trim() === "all") return Effect.succeed({ all: true })
  const keys = [...new Set(raw.split(",").map((k) => k.trim()))]
  if (keys.length === 0 || keys.some((k) => k === ""))
    return invalid(`--accounts must be all or a comma list of account keys, got ${JSON.stringify(raw)}`)
  for (const key of keys) {
    if (isConnected(key)) {
      if (!connectedAccountId.test(key))
        return invalid(
          `--accounts: ${JSON.stringify(key)} is not a connected account id (acct_ and letters or digits)`,
        )
    } else if (!platformAccountName.test(key)) {
      return invalid(`--accounts: ${JSON.stringify(key)} is not an account key`)
    } else if (key !== platform) {
      return invalid(
        `--accounts: ${JSON.stringify(key)} is a platform account, but this process reads the platform account ` +
          `${JSON.stringify(platform)} (--account) with its key; list ${platform} and connected accounts (acct_…), ` +
          "and run each other platform account with its own key",
      )
    }
  }
  return Effect.succeed({ all: false, accounts: keys })
}

/** How to list the connected accounts. */
export interface ListAccountsOptions {
  readonly apiKey: string
  readonly baseUrl?: string | undefined
  readonly maxRetries: number
  /** The platform's rate limit; the list's requests count against it. */
  readonly limit?: Limit | undefined
}

const failure = (error: unknown): StripeError => {
  const e = error as { type?: string; statusCode?: number; message?: string }
  const status = e.statusCode ?? null
  if (status === 401 || status === 403)
    return new StripeAuthRefused({
      status,
      message: `Stripe refused the API key (HTTP ${status}) to list the connected accounts: --accounts all needs read access to Connect accounts`,
    })
  return new StripeReadFailed({
    operation: "list accounts",
    status,
    retryable: status === 429 || (status !== null && status >= 500) || e.type === "StripeConnectionError",
    message: `list accounts failed${status === null ? "" : ` (HTTP ${status})`}: ${e.type ?? "error"}: ${e.message ?? String(error)}`,
  })
}

/** The ids of every connected account of the platform key, every page of `GET /v1/accounts`. */
export const listConnectedAccounts = Effect.fnUntraced(function* (options: ListAccountsOptions) {
  const stripe = new Stripe(options.apiKey, {
    apiVersion,
    maxNetworkRetries: 0,
    telemetry: false,
    ...endpointOf(options.baseUrl),
  })
  const limit: Limit = options.limit ?? ((request) => request)
  const ids: Array<string> = []
  let startingAfter: string | undefined
  for (;;) {
    const after = startingAfter
    const page = yield* limit(
      Effect.tryPromise({
        try: () =>
          stripe.accounts.list({ limit: 100, ...(after === undefined ? {} : { starting_after: after }) }),
        catch: failure,
      }),
    ).pipe(Effect.retry(retrySchedule(options.maxRetries)))
    ids.push(...page.data.map((a) => a.id))
    if (!page.has_more || page.data.length === 0) return ids
    startingAfter = page.data.at(-1)!.id
  }
})

/** The accounts of `spec`: for `all`, the platform account first, then the connected ones as Stripe lists them. */
export const resolveAccounts = (
  spec: AccountsSpec,
  platform: string,
  list: Effect.Effect<ReadonlyArray<string>, StripeError>,
): Effect.Effect<ReadonlyArray<string>, StripeError> =>
  spec.all
    ? Effect.map(list, (connected) => [platform, ...connected.filter((id) => id !== platform)])
    : Effect.succeed(spec.accounts)
