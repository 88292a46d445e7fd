/** `looksLikeSecret`: the shapes of Stripe's secrets, wherever they hide in a string. */
import { describe, expect, it } from "vitest"
import { looksLikeSecret } from "../src/index.ts"

describe("looksLikeSecret", () => {
  it.each([
    "pi_123_secret_abc",
    "order_42_secret_x",
    "seti_1Mm2cBLkdIwHu7ixaiKW3ElR_secret_NXDJNg0XcbwSxsT3Kn6iMqPHi8vwm9A",
    "vs_test_1_secret_live_abc",
    "vs_1NuN4r2eZvKYlo2C_secret_test_YWNjdF8x",
    "vs_1NuN4r2eZvKYlo2C_secret_live_YWNjdF8x",
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    "rk_live_51H0abc",
    "rk_test_51H0abc",
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "customer said: pi_123_secret_abc (pasted)",
    "key=sk_live_abc;",
  ])("%s is secret-shaped", (value) => {
    expect(looksLikeSecret(value)).toBe(true)
  })

  it.each([
    "",
    "order_42",
    "secret",
    "client_secret",
    "my_secret_plan",
    "top_secret_project",
    "a__secret_b",
    "pk_live_51H0abc",
    "pk_test_51H0abc",
    "sk_live_",
    "whsec_",
    "task_live_x",
    "desk_test_3",
    "vs_1NuN4r2eZvKYlo2C",
    "https://verify.stripe.com/start/test_abc",
  ])("%j is not", (value) => {
    expect(looksLikeSecret(value)).toBe(false)
  })

  it("stays linear on long adversarial strings (the store scans every string it stores)", () => {
    const adversarial = [
      `${"a_".repeat(100_000)}_secret_`,
      `${"a".repeat(200_000)}_secret_`,
      `${"sk_live".repeat(30_000)}k_live_`,
    ]
    const started = performance.now()
    for (const value of adversarial) expect(looksLikeSecret(value)).toBe(false)
    expect(performance.now() - started).toBeLessThan(1_000)
  })
})
