/**
 * The `StripeApi` service's one request policy: a shared rate limit (a second's worth at once,
 * then spaced at the rate, in order), retries only of what is worth sending again, and typed
 * errors that never carry the API key.
 */
import { startSimulator } from "@idtrail/simulator"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { stripeApi } from "../src/index.ts"
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

describe("reading Stripe through the service", () => {
  it("retries 429s until one succeeds, and counts every request sent", async () => {
    const sim = await startSimulator({ sessions: 3, seed: 3, rateLimit: false })
    try {
      const api = stripeApi({
        apiKey: "sk_test_policy",
        baseUrl: sim.url,
        maxRequestsPerSecond: 1000,
        maxRetries: 3,
      })
      sim.control.setApiFaults({ forceRateLimitNext: 2 })
      const page = await Effect.runPromise(api.listSessions(null))
      expect(page.items).toHaveLength(3)
      expect(await Effect.runPromise(api.requests)).toBe(3)
    } finally {
      await sim.close()
    }
  })

  it("retries a 5xx answer up to maxRetries times, then fails typed and retryable", async () => {
    const sim = await startSimulator({ sessions: 0, seed: 3, rateLimit: false })
    try {
      const api = stripeApi({
        apiKey: "sk_test_policy",
        baseUrl: sim.url,
        maxRequestsPerSecond: 1000,
        maxRetries: 2,
      })
      sim.control.setApiFaults({ serverErrorRate: 1, serverErrorStatus: 503 })
      const error = await Effect.runPromise(Effect.flip(api.listEvents(0, null)))
      expect(error).toMatchObject({ _tag: "StripeReadFailed", status: 503, retryable: true })
      expect(await Effect.runPromise(api.requests)).toBe(3)
    } finally {
      await sim.close()
    }
  })

  it("does not retry what cannot succeed: a 404 fails once, typed, with its status", async () => {
    const sim = await startSimulator({ sessions: 0, seed: 3, rateLimit: false })
    try {
      const api = stripeApi({
        apiKey: "sk_test_policy",
        baseUrl: sim.url,
        maxRequestsPerSecond: 1000,
        maxRetries: 3,
      })
      const error = await Effect.runPromise(Effect.flip(api.retrieve("vs_does_not_exist")))
      expect(error).toMatchObject({ _tag: "StripeReadFailed", status: 404, retryable: false })
      expect(await Effect.runPromise(api.requests)).toBe(1)
    } finally {
      await sim.close()
    }
  })

  it("a refused API key is StripeAuthRefused, not retried, and its message does not quote the key", async () => {
    const sim = await startSimulator({ sessions: 0, seed: 3, rateLimit: false })
    try {
      const api = stripeApi({ apiKey: "sk_live_refusedkey1234", baseUrl: sim.url, maxRetries: 3 })
      const error = await Effect.runPromise(Effect.flip(api.listSessions(null)))
      expect(error).toMatchObject({ _tag: "StripeAuthRefused", status: 401 })
      expect(error.message).not.toMatch(/sk_live|1234/)
      expect(await Effect.runPromise(api.requests)).toBe(1)
    } finally {
      await sim.close()
    }
  })
})
