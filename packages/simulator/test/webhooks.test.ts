/**
 * Webhooks: every event is POSTed to every registered endpoint with a `Stripe-Signature` that
 * the official SDK's `constructEvent` accepts; failures are retried with backoff; seeded faults
 * drop, duplicate, reorder and delay deliveries at the configured rates.
 */
import Stripe from "stripe"
import { afterEach, describe, expect, it } from "vitest"
import { type Harness, startHarness } from "./support/harness.ts"
import { type Receiver, startReceiver } from "./support/receiver.ts"
import { expectConforms } from "./support/schemas.ts"

const SECRET = "whsec_test_secret_for_the_simulator"
const verifier = new Stripe("sk_test_unused", { apiVersion: "2026-07-29.dahlia" as Stripe.LatestApiVersion })

const open: Array<{ close: () => Promise<void> }> = []
const harnesses: Harness[] = []
afterEach(async () => {
  const violations = harnesses.splice(0).flatMap((h) => h.violations())
  await Promise.all(open.splice(0).map((x) => x.close()))
  expect(violations).toEqual([])
})

const setup = async (
  options: Parameters<typeof startHarness>[0] = {},
): Promise<{ h: Harness; r: Receiver }> => {
  const h = await startHarness({ webhookRetry: { baseDelayMs: 5, maxDelayMs: 20 }, ...options })
  const r = await startReceiver()
  open.push(h, r)
  harnesses.push(h)
  return { h, r }
}

/** Creates `n` sessions and cancels each: 2n events. Returns the session ids. */
const churn = async (h: Harness, n: number): Promise<string[]> => {
  const ids: string[] = []
  for (let i = 0; i < n; i++) {
    const s = await h.stripe.identity.verificationSessions.create({ type: "document" })
    await h.stripe.identity.verificationSessions.cancel(s.id)
    ids.push(s.id)
  }
  return ids
}

describe("webhook delivery", () => {
  it("delivers each event once, signed so that stripe.webhooks.constructEvent accepts it", async () => {
    const { h, r } = await setup()
    h.sim.control.addWebhookEndpoint({ url: r.url, secret: SECRET })
    const [id] = await churn(h, 1)
    await h.sim.control.flushWebhooks()
    expect(r.received).toHaveLength(2)
    const events = r.received.map((x) => verifier.webhooks.constructEvent(x.body, x.signature!, SECRET))
    expect(events.map((e) => e.type)).toEqual([
      "identity.verification_session.created",
      "identity.verification_session.canceled",
    ])
    for (const e of events) expectConforms("event", e)
    expect((events[0]!.data.object as { id: string }).id).toBe(id)
  })

  it("signs with the endpoint's own secret; a tampered body or another secret fails verification", async () => {
    const { h, r } = await setup()
    const endpoint = h.sim.control.addWebhookEndpoint({ url: r.url })
    expect(endpoint.secret).toMatch(/^whsec_/)
    await h.stripe.identity.verificationSessions.create({ type: "document" })
    await h.sim.control.flushWebhooks()
    const [x] = r.received
    expect(x!.signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/)
    expect(() => verifier.webhooks.constructEvent(x!.body, x!.signature!, endpoint.secret)).not.toThrow()
    const tampered = x!.body.replace('"livemode":false', '"livemode":true')
    expect(tampered).not.toBe(x!.body)
    expect(() => verifier.webhooks.constructEvent(tampered, x!.signature!, endpoint.secret)).toThrow(
      Stripe.errors.StripeSignatureVerificationError,
    )
    expect(() => verifier.webhooks.constructEvent(x!.body, x!.signature!, SECRET)).toThrow(
      Stripe.errors.StripeSignatureVerificationError,
    )
  })

  it("sends only the event types an endpoint enabled (wildcards allowed)", async () => {
    const { h, r } = await setup()
    h.sim.control.addWebhookEndpoint({ url: r.url, secret: SECRET, enabled_events: ["*.canceled"] })
    await churn(h, 3)
    await h.sim.control.flushWebhooks()
    const types = r.received.map((x) => JSON.parse(x.body).type)
    expect(types).toEqual(Array(3).fill("identity.verification_session.canceled"))
  })

  it("retries a non-2xx answer with backoff until it succeeds; pending_webhooks then reaches 0", async () => {
    const { h, r } = await setup()
    r.respond = (_body, attempt) => (attempt < 3 ? 500 : 200)
    h.sim.control.addWebhookEndpoint({ url: r.url, secret: SECRET })
    const s = await h.stripe.identity.verificationSessions.create({ type: "document" })
    const pending = (await h.stripe.events.list({ limit: 1 })).data[0]!
    expect(pending.pending_webhooks).toBe(1)
    expect((await h.stripe.events.list({ delivery_success: false })).data.map((e) => e.id)).toEqual([
      pending.id,
    ])
    const stats = await h.sim.control.flushWebhooks()
    expect(r.received).toHaveLength(3)
    expect(new Set(r.received.map((x) => x.body)).size).toBe(1)
    expect(stats).toMatchObject({ attempts: 3, delivered: 1, retried: 2, failed: 0 })
    const after = await h.stripe.events.retrieve(pending.id)
    expect(after.pending_webhooks).toBe(0)
    expect((await h.stripe.events.list({ delivery_success: false })).data).toEqual([])
    expect((after.data.object as { id: string }).id).toBe(s.id)
  })

  it("gives up after the configured attempts and leaves the event pending", async () => {
    const { h, r } = await setup({ webhookRetry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 4 } })
    r.respond = () => 503
    h.sim.control.addWebhookEndpoint({ url: r.url, secret: SECRET })
    await h.stripe.identity.verificationSessions.create({ type: "document" })
    const stats = await h.sim.control.flushWebhooks()
    expect(r.received).toHaveLength(3)
    expect(stats).toMatchObject({ attempts: 3, delivered: 0, failed: 1 })
    const [e] = (await h.stripe.events.list({ delivery_success: false })).data
    expect(e?.pending_webhooks).toBe(1)
  })

  it("treats an unreachable endpoint as a failed attempt", async () => {
    const { h } = await setup({ webhookRetry: { maxAttempts: 2, baseDelayMs: 1 } })
    h.sim.control.addWebhookEndpoint({ url: "http://127.0.0.1:9/unreachable", secret: SECRET })
    await h.stripe.identity.verificationSessions.create({ type: "document" })
    expect(await h.sim.control.flushWebhooks()).toMatchObject({ attempts: 2, failed: 1 })
  })
})

describe("webhook faults", () => {
  // 250 sessions created and canceled: 500 events. With rate p, the count of affected events is
  // Binomial(500, p); the tolerance is four standard deviations (a false alarm about 1 in 15,000).
  const N = 500
  const tolerance = (n: number, p: number) => 4 * Math.sqrt(n * p * (1 - p))

  it("drops about 20% and duplicates about 20% of the rest, and the receiver's multiset shows it", async () => {
    const { h, r } = await setup({ seed: 2024, webhookFaults: { dropRate: 0.2, duplicateRate: 0.2 } })
    h.sim.control.addWebhookEndpoint({ url: r.url, secret: SECRET })
    await churn(h, N / 2)
    const stats = await h.sim.control.flushWebhooks()
    const counts = new Map<string, number>()
    for (const x of r.received) {
      const e = verifier.webhooks.constructEvent(x.body, x.signature!, SECRET)
      expectConforms("event", JSON.parse(x.body))
      counts.set(e.id, (counts.get(e.id) ?? 0) + 1)
    }
    const all = await h.stripe.events.list({ limit: 100 }).autoPagingToArray({ limit: 1000 })
    expect(all).toHaveLength(N)
    const known = new Set(all.map((e) => e.id))
    expect([...counts.keys()].every((id) => known.has(id))).toBe(true)
    const received = counts.size
    const twice = [...counts.values()].filter((c) => c === 2).length
    expect([...counts.values()].every((c) => c === 1 || c === 2)).toBe(true)
    expect(Math.abs(N - received - 0.2 * N)).toBeLessThanOrEqual(tolerance(N, 0.2))
    expect(Math.abs(twice - 0.2 * received)).toBeLessThanOrEqual(tolerance(received, 0.2))
    // The simulator's own account of what it did matches what arrived.
    expect(stats.dropped).toBe(N - received)
    expect(stats.duplicated).toBe(twice)
    expect(r.received).toHaveLength(received + twice)
  }, 30_000)

  it("reproduces the same drops and duplicates from the same seed", async () => {
    const run = async () => {
      const { h, r } = await setup({
        seed: 77,
        frozenClock: true,
        startTime: 1_780_000_000,
        webhookFaults: { dropRate: 0.3, duplicateRate: 0.3 },
      })
      h.sim.control.addWebhookEndpoint({ url: r.url, secret: SECRET })
      await churn(h, 40)
      await h.sim.control.flushWebhooks()
      return r.received.map((x) => JSON.parse(x.body).id as string).sort()
    }
    const first = await run()
    const second = await run()
    expect(first.length).toBeGreaterThan(0)
    expect(second).toEqual(first)
  })

  it("reorders deliveries within a window but delivers the same set", async () => {
    const { h, r } = await setup({ seed: 8, webhookFaults: { reorderWindow: 10 } })
    h.sim.control.addWebhookEndpoint({ url: r.url, secret: SECRET })
    // Queue 40 events before delivery starts, so windows are full.
    for (let i = 0; i < 20; i++) {
      const s = h.sim.control.simulator.createSession(() => {}, "document")
      h.sim.control.simulator.act(s, { kind: "cancel" })
    }
    await h.sim.control.flushWebhooks()
    const order = r.received.map((x) => JSON.parse(x.body).id as string)
    const created = (await h.stripe.events.list({ limit: 100 })).data.map((e) => e.id).reverse()
    expect([...order].sort()).toEqual([...created].sort())
    expect(order).not.toEqual(created)
    // Nothing moves further than its window.
    for (const [k, id] of order.entries())
      expect(Math.floor(created.indexOf(id) / 10)).toBe(Math.floor(k / 10))
  })

  it("delays deliveries, so a delayed event arrives after later ones", async () => {
    const { h, r } = await setup({ seed: 4, webhookFaults: { delayRate: 0.5, delayMs: 60 } })
    h.sim.control.addWebhookEndpoint({ url: r.url, secret: SECRET })
    for (let i = 0; i < 10; i++) h.sim.control.simulator.createSession(() => {}, "document")
    const stats = await h.sim.control.flushWebhooks()
    expect(stats.delayed).toBeGreaterThan(0)
    expect(stats.delayed).toBeLessThan(10)
    expect(r.received).toHaveLength(10)
    const order = r.received.map((x) => JSON.parse(x.body).id as string)
    const created = (await h.stripe.events.list({ limit: 100 })).data.map((e) => e.id).reverse()
    expect(order).not.toEqual(created)
  })
})
