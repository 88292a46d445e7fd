import { describe, expect, it } from "vitest"
import { RateLimiter } from "../src/index.ts"

describe("the shared rate limiter", () => {
  it("lets a second's worth through at once, then spaces requests at the rate, in order", async () => {
    const limiter = new RateLimiter(50)
    const started = performance.now()
    const order: Array<number> = []
    const at: Array<number> = []
    await Promise.all(
      Array.from({ length: 80 }, (_, i) =>
        limiter.take().then(() => {
          order.push(i)
          at.push(performance.now() - started)
        }),
      ),
    )
    expect(order).toEqual(Array.from({ length: 80 }, (_, i) => i))
    // The first 50 need no wait; the other 30 need 30 / 50 s more.
    expect(at[49]!).toBeLessThan(200)
    expect(at[79]!).toBeGreaterThanOrEqual(550)
  })

  it("refuses a rate that cannot work", () => {
    expect(() => new RateLimiter(0)).toThrow(/positive number of requests per second, got 0/)
    expect(() => new RateLimiter(Number.NaN)).toThrow(RangeError)
  })
})
