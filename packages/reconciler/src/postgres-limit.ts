/**
 * A Stripe account's rate limit shared by every worker of every process: the same token bucket as
 * `request-policy.ts` (effect's `RateLimiter`, "delay" when exceeded), its bucket a row in Postgres
 * (`runState.takeTokens`, migration 0015) on the database's clock instead of one per process. Given
 * to the reader as `StripeApiOptions.rateLimit`, so retries wait their turn too. Each request costs
 * a transaction at the database (measured: the reconciler README, "Workers").
 *
 * @since 0.1.0
 */
import type { EventStoreService } from "@idtrail/store"
import { Duration, Effect } from "effect"
import { RateLimiter } from "effect/persistence"
import { makeRateLimit } from "./request-policy.ts"

/** A rate limit: makes every effect passed through it wait for its turn. */
export type Limit = <A, E, R>(request: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

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
  // Without the database the run fails at its next write anyway; until then, the process's own limit.
  const fallback = makeRateLimit(perSecond)
  const turn = limiter.consume({ algorithm: "token-bucket", onExceeded: "delay", key, limit, window }).pipe(
    Effect.flatMap(({ delay }) => Effect.sleep(delay)),
    Effect.catch((error) =>
      Effect.logWarning(
        `the shared rate limit of ${key} could not be read (${error.message}): this process's own limit`,
      ).pipe(Effect.andThen(fallback(Effect.void))),
    ),
  )
  return (request) => Effect.andThen(turn, request)
}
