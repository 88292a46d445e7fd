/**
 * A Stripe account's rate limit shared by every worker of every process: the same token bucket as
 * `request-policy.ts` (effect's `RateLimiter`, "delay" when exceeded), its bucket a row in Postgres
 * (`runState.takeTokens`, migration 0015) on the database's clock instead of one per process. Each
 * request costs one more round trip to the database (measured: the reconciler README, "Workers").
 *
 * @since 0.1.0
 */
import type { EventStoreService } from "@idtrail/store"
import { Duration, Effect } from "effect"
import { RateLimiter } from "effect/persistence"
import { StripeReadFailed } from "./errors.ts"
import type { StripeApiService } from "./stripe-api.ts"

/** A rate limit: makes every effect passed through it wait for its turn. */
export type Limit = <A, E, R>(request: Effect.Effect<A, E, R>) => Effect.Effect<A, E | StripeReadFailed, R>

const unsupported = (what: string) =>
  Effect.fail(
    new RateLimiter.RateLimiterError({
      reason: new RateLimiter.RateLimitStoreError({ message: `the shared store has no ${what}` }),
    }),
  )

/** effect's `RateLimiterStore` over the store's token buckets (token buckets only). */
export const postgresRateLimiterStore = (store: EventStoreService) =>
  RateLimiter.RateLimiterStore.of({
    tokenBucket: ({ key, tokens, limit, refillRate, allowOverflow }) =>
      store.runState
        .takeTokens({ key, tokens, limit, refillMillis: Duration.toMillis(refillRate), allowOverflow })
        .pipe(
          Effect.mapError(
            (error) =>
              new RateLimiter.RateLimiterError({
                reason: new RateLimiter.RateLimitStoreError({ message: error.message, cause: error }),
              }),
          ),
        ),
    fixedWindow: () => unsupported("fixed windows"),
    adaptiveConsume: () => Effect.succeed({ delay: Duration.zero, epoch: 0, phase: "inactive" as const }),
    adaptiveFeedback: () => unsupported("adaptive limits"),
  })

/**
 * The limit of `key` at `perSecond` requests a second, shared through `store` by every process
 * using the same key and rate. A bucket holds a second's worth, as the in-process limit does.
 */
export const makeSharedLimit = (store: EventStoreService, key: string, perSecond: number): Limit => {
  const limiter = Effect.runSync(
    RateLimiter.make.pipe(
      Effect.provideService(RateLimiter.RateLimiterStore, postgresRateLimiterStore(store)),
    ),
  )
  const limit = Math.max(1, Math.floor(perSecond))
  const window = Duration.millis((limit / perSecond) * 1000)
  const turn = limiter.consume({ algorithm: "token-bucket", onExceeded: "delay", key, limit, window }).pipe(
    Effect.mapError(
      (error) =>
        new StripeReadFailed({
          operation: "rate limit",
          status: null,
          retryable: false,
          message: `the shared rate limit of ${key} could not be read: ${error.message}`,
        }),
    ),
    Effect.flatMap(({ delay }) => Effect.sleep(delay)),
  )
  return (request) => Effect.andThen(turn, request)
}

/** `api` with each of its reads waiting its turn under `limit` first. */
export const limited = (api: StripeApiService, limit: Limit): StripeApiService => ({
  ...api,
  retrieve: (sessionId) => limit(api.retrieve(sessionId)),
  listSessions: (startingAfter) => limit(api.listSessions(startingAfter)),
  listEvents: (createdGte, startingAfter) => limit(api.listEvents(createdGte, startingAfter)),
})
