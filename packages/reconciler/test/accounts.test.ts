/**
 * The run's account (issue 13): `--account` names a platform account or a connected account
 * `acct_…`; a connected account is read through the platform's key with the Stripe-Account
 * header, and sees only its own sessions and events. (Many accounts in one store, end to end:
 * the repository's `test/accounts.test.ts`.)
 */
import { startSimulator } from "@idtrail/simulator"
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { checkAccount } from "../src/config.ts"
import { stripeApi } from "../src/index.ts"

describe("--account", () => {
  it.each(["default", "second", "eu-platform", "acct_1Nv0FGQ9RKHgCVdK"])(
    "%s is an account key",
    (account) => {
      expect(Exit.isSuccess(Effect.runSyncExit(checkAccount(account)))).toBe(true)
    },
  )

  it.each([
    ["", /must name a platform account/],
    ["has space", /must name a platform account/],
    ["acct_", /starts with acct_, so it names a connected account/],
    ["acct_with-dash", /starts with acct_, so it names a connected account/],
  ])("%j is refused with InvalidConfig saying why", (account, message) => {
    const exit = Effect.runSyncExit(checkAccount(account))
    expect(Exit.isFailure(exit)).toBe(true)
    expect(JSON.stringify(exit)).toMatch(/InvalidConfig/)
    expect(JSON.stringify(exit)).toMatch(message)
  })
})

describe("reading a connected account (Stripe-Account)", () => {
  it("lists and retrieves only the connected account's sessions and events; the platform's are not its", async () => {
    const sim = await startSimulator({
      seed: 5,
      sessions: 7,
      connectedAccounts: ["acct_1Conn"],
      connectedSessions: 4,
      rateLimit: false,
    })
    try {
      const base = { apiKey: "sk_test_connect", baseUrl: sim.url, maxRequestsPerSecond: 1000 }
      const platform = stripeApi(base)
      const connected = stripeApi({ ...base, stripeAccount: "acct_1Conn" })
      const page = await Effect.runPromise(connected.listSessions(null))
      const platformPage = await Effect.runPromise(platform.listSessions(null))
      expect(page.items).toHaveLength(4)
      expect(platformPage.items).toHaveLength(7)
      const ids = new Set(page.items.map((o) => o.session.id))
      expect(platformPage.items.some((o) => ids.has(o.session.id))).toBe(false)
      const one = page.items[0]!.session.id
      expect((await Effect.runPromise(connected.retrieve(one))).session.id).toBe(one)
      // Another account's session is not found through this one (a 404, not a read of the platform's).
      const other = await Effect.runPromiseExit(connected.retrieve(platformPage.items[0]!.session.id))
      expect(JSON.stringify(other)).toMatch(/HTTP 404/)
      const events = await Effect.runPromise(connected.listEvents(0, null))
      expect(events.items.every((e) => ids.has(e.sessionId))).toBe(true)
    } finally {
      await sim.close()
    }
  })

  it("a connected account the key cannot reach is StripeAuthRefused naming the account", async () => {
    const sim = await startSimulator({ seed: 6, sessions: 1, rateLimit: false })
    try {
      const api = stripeApi({
        apiKey: "sk_test_connect",
        baseUrl: sim.url,
        maxRequestsPerSecond: 1000,
        stripeAccount: "acct_1Unknown",
      })
      const exit = await Effect.runPromiseExit(api.listSessions(null))
      expect(JSON.stringify(exit)).toMatch(/StripeAuthRefused/)
      expect(JSON.stringify(exit)).toMatch(/connected account acct_1Unknown \(HTTP 403\)/)
    } finally {
      await sim.close()
    }
  })

  it("a stripeAccount that is not acct_… is refused before any request", () => {
    expect(() => stripeApi({ apiKey: "sk_test_x", stripeAccount: "second" })).toThrow(
      /acct_ followed by letters and digits/,
    )
  })
})
