/**
 * The `StripeApi` service's one request policy: a shared rate limit (a second's worth at once,
 * then spaced at the rate, in order), retries only of what is worth sending again, and typed
 * errors that never carry the API key.
 */
import { type StartedSimulator, startSimulator } from "@idtrail/simulator"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { type StripeApiService, stripeApi } from "../src/index.ts"
import { makeRateLimit } from "../src/request-policy.ts"

describe("the rate limit every request of a run passes", () => {
  it("lets a second's worth through at once, then spaces requests at the rate, in order", async () => {
    const limited = makeRateLimit(50)
    const started = performance.now()
    const order: Array<number> = []
    const at: Array<number> = []
    await Effect.runPromise(
      Effect.forEach(
        Array.from({ length: 80 }, (_, i) => i),
        (i) =>
          limited(
            Effect.sync(() => {
              order.push(i)
              at.push(performance.now() - started)
            }),
          ),
        { concurrency: "unbounded", discard: true },
      ),
    )
    expect(order).toEqual(Array.from({ length: 80 }, (_, i) => i))
    // The first 50 need no wait; the other 30 need 30 / 50 s more.
    expect(at[49]!).toBeLessThan(200)
    expect(at[79]!).toBeGreaterThanOrEqual(550)
  })

  it("refuses a rate that cannot work", () => {
    expect(() => stripeApi({ apiKey: "sk_test_x", maxRequestsPerSecond: 0 })).toThrow(
      /positive number of requests per second, got 0/,
    )
    expect(() => stripeApi({ apiKey: "sk_test_x", maxRequestsPerSecond: Number.NaN })).toThrow(
      expect.objectContaining({ _tag: "InvalidConfig", setting: "maxRequestsPerSecond" }),
    )
    expect(() => stripeApi({ apiKey: "sk_test_x", maxRetries: -1 })).toThrow(
      /maxRetries must be a non-negative integer/,
    )
  })
})

/** A simulator with `sessions`, and the service reading it with `maxRetries` (and `apiKey`). */
const withSimulator = async (
  sessions: number,
  options: { readonly maxRetries: number; readonly apiKey?: string },
  body: (sim: StartedSimulator, api: StripeApiService) => Promise<void>,
) => {
  const sim = await startSimulator({ sessions, seed: 3, rateLimit: false })
  try {
    await body(
      sim,
      stripeApi({ apiKey: "sk_test_policy", baseUrl: sim.url, maxRequestsPerSecond: 1000, ...options }),
    )
  } finally {
    await sim.close()
  }
}

const requestsSent = (api: StripeApiService) => Effect.runPromise(api.requests)

describe("reading Stripe through the service", () => {
  it("retries 429s until one succeeds, and counts every request sent", () =>
    withSimulator(3, { maxRetries: 3 }, async (sim, api) => {
      sim.control.setApiFaults({ forceRateLimitNext: 2 })
      const page = await Effect.runPromise(api.listSessions(null))
      expect(page.items).toHaveLength(3)
      expect(await requestsSent(api)).toBe(3)
    }))

  it("retries a 5xx answer up to maxRetries times, then fails typed and retryable", () =>
    withSimulator(0, { maxRetries: 2 }, async (sim, api) => {
      sim.control.setApiFaults({ serverErrorRate: 1, serverErrorStatus: 503 })
      const error = await Effect.runPromise(Effect.flip(api.listEvents(0, null)))
      expect(error).toMatchObject({ _tag: "StripeReadFailed", status: 503, retryable: true })
      expect(await requestsSent(api)).toBe(3)
    }))

  it("does not retry what cannot succeed: a 404 fails once, typed, with its status", () =>
    withSimulator(0, { maxRetries: 3 }, async (_, api) => {
      const error = await Effect.runPromise(Effect.flip(api.retrieve("vs_does_not_exist")))
      expect(error).toMatchObject({ _tag: "StripeReadFailed", status: 404, retryable: false })
      expect(await requestsSent(api)).toBe(1)
    }))

  it("a refused API key is StripeAuthRefused, not retried, and its message does not quote the key", () =>
    withSimulator(0, { maxRetries: 3, apiKey: "sk_live_refusedkey1234" }, async (_, api) => {
      const error = await Effect.runPromise(Effect.flip(api.listSessions(null)))
      expect(error).toMatchObject({ _tag: "StripeAuthRefused", status: 401 })
      expect(error.message).not.toMatch(/sk_live|1234/)
      expect(await requestsSent(api)).toBe(1)
    }))
})
