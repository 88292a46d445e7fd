/**
 * One policy for every request a run sends to Stripe: a rate limit shared by the whole run, below
 * Stripe's, and retries of what is worth sending again (a 429, a 5xx, a network error) with
 * exponential backoff and jitter. The SDK's own retries are off, so there is no second policy
 * hiding underneath this one.
 *
 * The limit is a token bucket from `effect/persistence`'s `RateLimiter` on its in-memory store:
 * a second's worth of requests may go at once, then they are spaced at the rate, in order (each
 * caller reserves its token before it waits).
 *
 * @since 0.1.0
 */
import { Duration, Effect, Schedule } from "effect"
import { RateLimiter } from "effect/persistence"
import type { StripeError } from "./errors.ts"

/** Retries of a retryable failure: 250 ms doubling, at most 8 s, each delay jittered by ±20 %. */
export const retrySchedule = (maxRetries: number) =>
  Schedule.min([Schedule.exponential("250 millis"), Schedule.spaced("8 seconds")]).pipe(
    Schedule.jittered,
    Schedule.upTo({ times: maxRetries }),
    Schedule.setInputType<StripeError>(),
    Schedule.while(({ input }) => input._tag === "StripeReadFailed" && input.retryable),
  )

/** Makes every effect passed through it wait for its turn under `perSecond` (a positive number). */
export const makeRateLimit = (
  perSecond: number,
): (<A, E, R>(request: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>) => {
  const limiter = Effect.runSync(RateLimiter.make.pipe(Effect.provide(RateLimiter.layerStoreMemory)))
  // Under one request a second, a bucket of one refilled every 1/perSecond s.
  const limit = Math.max(1, Math.floor(perSecond))
  const window = Duration.millis((limit / perSecond) * 1000)
  const turn = limiter
    .consume({ algorithm: "token-bucket", onExceeded: "delay", key: "stripe", limit, window })
    .pipe(
      // The in-memory store cannot fail.
      Effect.orDie,
      Effect.flatMap(({ delay }) => Effect.sleep(delay)),
    )
  return (request) => Effect.andThen(turn, request)
}
