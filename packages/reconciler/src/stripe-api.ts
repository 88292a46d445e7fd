/**
 * What the reconciler reads from Stripe, as a service: one session, a page of sessions, a page of
 * Identity events. The official SDK sends the requests, pinned to {@link apiVersion}; every read
 * is an observation stamped with Stripe's own clock (the response's `Date` header), never the
 * local one. Every request goes through the run's one policy (`request-policy.ts`): the rate
 * limit, then retries with backoff and jitter.
 *
 * @since 0.1.0
 */
import { decodeSession, type VerificationSession } from "@idtrail/domain"
import { Cause, Context, Effect, Exit, Layer, Result } from "effect"
import Stripe from "stripe"
import { connectedAccountId } from "./config.ts"
import { InvalidConfig, StripeAuthRefused, type StripeError, StripeReadFailed } from "./errors.ts"
import { makeRateLimit, retrySchedule } from "./request-policy.ts"

/** The API version whose schemas the domain decodes (Stripe's JSON schemas in `vendor/stripe/`). */
export const apiVersion = "2026-07-29.dahlia"

/**
 * What the vault asks Stripe to expand on a VerificationSession: the two fields a team keeps.
 * Stripe also allows `verified_outputs.dob`, `verified_outputs.id_number` (restricted keys
 * only) and `last_verification_report`; those are not asked for.
 */
export const vaultExpansions = ["verified_outputs", "provided_details"] as const

/** A session as Stripe answered, and the Stripe time the answer describes. */
export interface Observation {
  readonly session: VerificationSession
  /** Unix seconds, from the response's `Date` header. */
  readonly observedAt: number
}

/** A page of a list, newest first, and where the next one starts. */
export interface Page<A> {
  readonly items: ReadonlyArray<A>
  readonly hasMore: boolean
  /** The id to pass as `startingAfter` for the next page. */
  readonly lastId: string | null
  /** Stripe's time of the answer (unix seconds, its `Date` header). */
  readonly observedAt: number
}

/** An Identity event as the reconciler needs it: which session changed, when, and how it was then. */
export interface ChangeEvent {
  readonly id: string
  /** `identity.verification_session.<status>`. */
  readonly type: string
  readonly created: number
  readonly sessionId: string
  /**
   * The event's `data.object`: Stripe's snapshot of the session at `created`; `null` when it does
   * not decode (the session is still read again, its history from this event is not recorded).
   */
  readonly snapshot: VerificationSession | null
}

/** An event's `data.object` decoded, or null. */
const snapshotOf = (raw: unknown): VerificationSession | null => {
  const session = decodeSession(raw)
  return Result.isSuccess(session) ? session.success : null
}

/** Stripe's Identity API as the reconciler reads it. */
export interface StripeApiService {
  readonly retrieve: (sessionId: string) => Effect.Effect<Observation, StripeError>
  /**
   * One session with its personal data expanded ({@link vaultExpansions}), for the vault
   * (`vault.ts`) only: what it returns must never be observed into the log or logged.
   */
  readonly retrieveWithOutputs: (sessionId: string) => Effect.Effect<Observation, StripeError>
  readonly listSessions: (startingAfter: string | null) => Effect.Effect<Page<Observation>, StripeError>
  /** Identity session events created at or after `createdGte`, newest first. */
  readonly listEvents: (
    createdGte: number,
    startingAfter: string | null,
  ) => Effect.Effect<Page<ChangeEvent>, StripeError>
  /** Requests sent so far, retries included. */
  readonly requests: Effect.Effect<number>
}

/** How to reach Stripe (or the simulator). */
export interface StripeApiOptions {
  readonly apiKey: string
  /** Default `https://api.stripe.com`; the simulator's URL in tests and demos. */
  readonly baseUrl?: string | undefined
  /** Requests per second across the run (default 20; Stripe allows 25 in test mode, 100 live). */
  readonly maxRequestsPerSecond?: number | undefined
  /** Retries of a 429, 5xx or network error, with exponential backoff and jitter (default 6). */
  readonly maxRetries?: number | undefined
  /** Page size of list calls (1–100, default 100). */
  readonly pageSize?: number | undefined
  /**
   * A connected account (`acct_…`) to read through the platform's key: every request carries it
   * as the `Stripe-Account` header (the SDK's `stripeAccount`). Absent: the key's own account.
   */
  readonly stripeAccount?: string | undefined
  /**
   * The rate limit every request (retries included) waits on, in place of this service's own
   * in-memory one of `maxRequestsPerSecond`: for a limit shared with other runs (the pool's).
   */
  readonly rateLimit?: (<A, E, R>(request: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>) | undefined
}

const unusable = (operation: string, message: string) =>
  new StripeReadFailed({ operation, status: null, retryable: false, message })

const observedAtOf = (operation: string, headers: Record<string, string> | undefined) => {
  const ms = headers?.date === undefined ? Number.NaN : Date.parse(headers.date)
  return Number.isNaN(ms)
    ? Effect.fail(
        unusable(
          operation,
          "Stripe's response has no usable Date header, so the observation has no Stripe time",
        ),
      )
    : Effect.succeed(Math.floor(ms / 1000))
}

const decoded = (operation: string, raw: unknown, observedAt: number) => {
  const session = decodeSession(raw)
  return Result.isFailure(session)
    ? Effect.fail(
        unusable(operation, `Stripe returned a session that does not decode: ${session.failure.message}`),
      )
    : Effect.succeed<Observation>({ session: session.success, observedAt })
}

/** An SDK failure as a typed error; the message never carries the API key or a client secret. */
const failure = (operation: string, error: unknown, stripeAccount?: string): StripeError => {
  const e = error as { type?: string; statusCode?: number; message?: string; code?: string }
  const status = e.statusCode ?? null
  if (status === 403 && e.code === "account_invalid" && stripeAccount !== undefined)
    return new StripeAuthRefused({
      status,
      message: `Stripe refused the connected account ${stripeAccount} (HTTP 403) to ${operation}: the platform's key in STRIPE_API_KEY has no access to it, or it does not exist`,
    })
  if (status === 401 || status === 403) {
    // Stripe's own message quotes part of the key: say what to check instead.
    return new StripeAuthRefused({
      status,
      message: `Stripe refused the API key (HTTP ${status}) to ${operation}: check STRIPE_API_KEY and its permissions (read access to Identity and Events)`,
    })
  }
  return new StripeReadFailed({
    operation,
    status,
    retryable: status === 429 || (status !== null && status >= 500) || e.type === "StripeConnectionError",
    message: `${operation} failed${status === null ? "" : ` (HTTP ${status})`}: ${e.type ?? "error"}: ${e.message ?? String(error)}`,
  })
}

/** The SDK's options for `baseUrl`: host, port and protocol. */
export const endpointOf = (baseUrl: string | undefined) => {
  if (baseUrl === undefined) return {}
  const url = new URL(baseUrl)
  const protocol = url.protocol === "http:" ? "http" : "https"
  return {
    host: url.hostname,
    port: url.port === "" ? (protocol === "http" ? 80 : 443) : Number(url.port),
    protocol,
  } as const
}

const invalid = (setting: string, message: string) => Effect.fail(new InvalidConfig({ setting, message }))

/** Builds the service; options that cannot work fail with `InvalidConfig`. */
export const makeStripeApi = Effect.fnUntraced(function* (options: StripeApiOptions) {
  const rps = options.maxRequestsPerSecond ?? 20
  if (!Number.isFinite(rps) || rps <= 0)
    return yield* invalid(
      "maxRequestsPerSecond",
      `a rate limit must be a positive number of requests per second, got ${rps}`,
    )
  const maxRetries = options.maxRetries ?? 6
  if (!Number.isSafeInteger(maxRetries) || maxRetries < 0)
    return yield* invalid("maxRetries", `maxRetries must be a non-negative integer, got ${maxRetries}`)
  const limit = options.pageSize ?? 100
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 100)
    return yield* invalid("pageSize", `pageSize must be an integer from 1 to 100, got ${limit}`)
  const { stripeAccount } = options
  if (stripeAccount !== undefined && !connectedAccountId.test(stripeAccount))
    return yield* invalid(
      "stripeAccount",
      `a connected account is read as acct_ followed by letters and digits, got ${JSON.stringify(stripeAccount)}`,
    )
  let endpoint: ReturnType<typeof endpointOf>
  try {
    endpoint = endpointOf(options.baseUrl)
  } catch {
    return yield* invalid(
      "STRIPE_API_BASE",
      `STRIPE_API_BASE must be a URL, got ${JSON.stringify(options.baseUrl)}`,
    )
  }
  // `maxNetworkRetries: 0`: the retries are ours (one policy, in `request-policy.ts`).
  const stripe = new Stripe(options.apiKey, {
    apiVersion,
    maxNetworkRetries: 0,
    telemetry: false,
    ...endpoint,
    ...(stripeAccount === undefined ? {} : { stripeAccount }),
  })
  const rateLimited = options.rateLimit ?? makeRateLimit(rps)
  const schedule = retrySchedule(maxRetries)
  let requests = 0
  const send = <A>(operation: string, request: () => Promise<A>): Effect.Effect<A, StripeError> =>
    rateLimited(
      Effect.suspend(() => {
        requests++
        return Effect.tryPromise({ try: request, catch: (error) => failure(operation, error, stripeAccount) })
      }),
    ).pipe(Effect.retry(schedule))

  const after = (startingAfter: string | null) =>
    startingAfter === null ? {} : { starting_after: startingAfter }

  return StripeApi.of({
    retrieve: Effect.fn("StripeApi.retrieve")(function* (sessionId: string) {
      const operation = `retrieve ${sessionId}`
      const session = yield* send(operation, () => stripe.identity.verificationSessions.retrieve(sessionId))
      return yield* decoded(operation, session, yield* observedAtOf(operation, session.lastResponse.headers))
    }),
    retrieveWithOutputs: Effect.fn("StripeApi.retrieveWithOutputs")(function* (sessionId: string) {
      const operation = `retrieve ${sessionId} with its verified outputs`
      const session = yield* send(operation, () =>
        stripe.identity.verificationSessions.retrieve(sessionId, { expand: [...vaultExpansions] }),
      )
      const observedAt = yield* observedAtOf(operation, session.lastResponse.headers)
      const result = decodeSession(session)
      // Not the decoder's message: it may quote a personal value.
      return Result.isSuccess(result)
        ? ({ session: result.success, observedAt } satisfies Observation)
        : yield* unusable(
            operation,
            "Stripe returned a session whose expanded fields do not decode (the values are not shown)",
          )
    }),
    listSessions: Effect.fn("StripeApi.listSessions")(function* (startingAfter: string | null) {
      const operation = "list sessions"
      const page = yield* send(operation, () =>
        stripe.identity.verificationSessions.list({ limit, ...after(startingAfter) }),
      )
      const observedAt = yield* observedAtOf(operation, page.lastResponse.headers)
      const items = yield* Effect.forEach(page.data, (s) => decoded(operation, s, observedAt))
      return { items, hasMore: page.has_more, lastId: page.data.at(-1)?.id ?? null, observedAt }
    }),
    listEvents: Effect.fn("StripeApi.listEvents")(function* (
      createdGte: number,
      startingAfter: string | null,
    ) {
      const operation = "list events"
      const page = yield* send(operation, () =>
        stripe.events.list({
          limit,
          type: "identity.verification_session.*",
          created: { gte: createdGte },
          ...after(startingAfter),
        }),
      )
      return {
        items: page.data.map(
          (e): ChangeEvent => ({
            id: e.id,
            type: e.type,
            created: e.created,
            sessionId: (e.data.object as { id: string }).id,
            snapshot: snapshotOf(e.data.object),
          }),
        ),
        hasMore: page.has_more,
        lastId: page.data.at(-1)?.id ?? null,
        observedAt: yield* observedAtOf(operation, page.lastResponse.headers),
      }
    }),
    requests: Effect.sync(() => requests),
  })
})

/** Stripe's Identity API, read through the official SDK under one rate limit and retry policy. */
export class StripeApi extends Context.Service<StripeApi, StripeApiService>()(
  "@idtrail/reconciler/StripeApi",
) {
  /** The service for `options`. */
  static readonly layer = (options: StripeApiOptions) => Layer.effect(StripeApi, makeStripeApi(options))
}

/** {@link makeStripeApi} for Promise code: the service, or a thrown `InvalidConfig`. */
export const stripeApi = (options: StripeApiOptions): StripeApiService => {
  const exit = Effect.runSyncExit(makeStripeApi(options))
  if (Exit.isSuccess(exit)) return exit.value
  throw Cause.squash(exit.cause)
}
