/**
 * The Events API: an event for every status change (and none for updates), the list filters,
 * retrieve, and Stripe's 30-day retention measured by the simulator clock.
 */
import type Stripe from "stripe"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { failure, type Harness, startHarness } from "./support/harness.ts"
import { expectConforms } from "./support/schemas.ts"

const T0 = 1_780_000_000
let h: Harness
let stripe: Stripe
let a: Stripe.Identity.VerificationSession
let b: Stripe.Identity.VerificationSession

const sessionOf = (e: Stripe.Event) => (e.data.object as { id: string }).id

beforeAll(async () => {
  h = await startHarness({ seed: 13, startTime: T0, frozenClock: true })
  stripe = h.stripe
  // a: created → processing → requires_input → processing → verified, one step every 60 s.
  a = await stripe.identity.verificationSessions.create({ type: "document", metadata: { who: "a" } })
  h.sim.control.advanceClock(60)
  await stripe.identity.verificationSessions.update(a.id, { metadata: { who: "a2" } })
  h.sim.control.submit(a.id)
  h.sim.control.advanceClock(60)
  h.sim.control.fail(a.id, "document_expired")
  h.sim.control.advanceClock(60)
  h.sim.control.submit(a.id)
  h.sim.control.pass(a.id)
  // b: created → canceled.
  b = await stripe.identity.verificationSessions.create({ type: "id_number" })
  await stripe.identity.verificationSessions.cancel(b.id)
})
afterAll(async () => {
  expect(h.violations()).toEqual([])
  await h.close()
})

describe("events", () => {
  it("records one event per status change, newest first, and none for updates", async () => {
    const events = await stripe.events.list({ limit: 100 })
    expect(events.data.map((e) => [e.type, sessionOf(e)])).toEqual([
      ["identity.verification_session.canceled", b.id],
      ["identity.verification_session.created", b.id],
      ["identity.verification_session.verified", a.id],
      ["identity.verification_session.processing", a.id],
      ["identity.verification_session.requires_input", a.id],
      ["identity.verification_session.processing", a.id],
      ["identity.verification_session.created", a.id],
    ])
  })

  it("carries Stripe's event fields: evt_ id, one-second created, api_version, livemode, pending_webhooks, request", async () => {
    const [canceled, created] = (await stripe.events.list({ limit: 2 })).data
    for (const e of [canceled!, created!]) {
      expectConforms("event", e)
      expect(e.id).toMatch(/^evt_/)
      expect(e.object).toBe("event")
      expect(Number.isInteger(e.created)).toBe(true)
      expect(e.api_version).toBe("2026-07-29.dahlia")
      expect(e.livemode).toBe(false)
      expect(e.pending_webhooks).toBe(0)
      expect(e.data).not.toHaveProperty("previous_attributes")
    }
    expect(canceled!.request?.id).toMatch(/^req_/)
    expect(canceled!.created).toBe(T0 + 180)
  })

  it("snapshots the session as it was when the event happened", async () => {
    const events = (await stripe.events.list({ limit: 100 })).data.filter((e) => sessionOf(e) === a.id)
    const byType = (t: string) =>
      events.find((e) => e.type === t)!.data.object as Stripe.Identity.VerificationSession
    expect(byType("identity.verification_session.created")).toMatchObject({
      status: "requires_input",
      metadata: { who: "a" },
    })
    expect(byType("identity.verification_session.requires_input")).toMatchObject({
      status: "requires_input",
      last_error: { code: "document_expired" },
      metadata: { who: "a2" },
    })
    expect(byType("identity.verification_session.verified").status).toBe("verified")
    expect(byType("identity.verification_session.verified")).not.toHaveProperty("verified_outputs")
  })

  it("marks automatic (end-user and check) events with a null request id", async () => {
    const processing = (await stripe.events.list({ type: "identity.verification_session.processing" }))
      .data[0]!
    expect(processing.request).toEqual({ id: null, idempotency_key: null })
  })

  it("retrieves an event by id; an unknown id is 404 resource_missing", async () => {
    const first = (await stripe.events.list({ limit: 1 })).data[0]!
    const again = await stripe.events.retrieve(first.id)
    expect(again).toEqual(expect.objectContaining({ id: first.id, type: first.type, created: first.created }))
    const e = await failure(stripe.events.retrieve("evt_nope"))
    expect(e.statusCode).toBe(404)
    expect(e.code).toBe("resource_missing")
    expect(e.param).toBe("id")
  })

  it("filters by type with * wildcards", async () => {
    const types = async (type: string) =>
      (await stripe.events.list({ type, limit: 100 })).data.map((e) => e.type)
    expect(await types("identity.verification_session.processing")).toEqual([
      "identity.verification_session.processing",
      "identity.verification_session.processing",
    ])
    expect(await types("identity.verification_session.*")).toHaveLength(7)
    expect(await types("identity.*")).toHaveLength(7)
    expect(await types("*.created")).toEqual([
      "identity.verification_session.created",
      "identity.verification_session.created",
    ])
    expect(await types("*")).toHaveLength(7)
    expect(await types("charge.*")).toEqual([])
  })

  it("filters by types[] (exact names), and refuses type and types together", async () => {
    const list = await stripe.events.list({
      types: ["identity.verification_session.verified", "identity.verification_session.canceled"],
    })
    expect(list.data.map((e) => e.type)).toEqual([
      "identity.verification_session.canceled",
      "identity.verification_session.verified",
    ])
    const wildcard = await stripe.events.list({ types: ["identity.*"] })
    expect(wildcard.data).toEqual([])
    const e = await failure(
      stripe.events.list({ type: "identity.*", types: ["identity.verification_session.created"] }),
    )
    expect(e.statusCode).toBe(400)
    expect(e.code).toBe("parameters_exclusive")
  })

  it("filters by created", async () => {
    const list = await stripe.events.list({ created: { gte: T0 + 60, lt: T0 + 180 }, limit: 100 })
    expect(list.data.map((e) => e.type)).toEqual([
      "identity.verification_session.requires_input",
      "identity.verification_session.processing",
    ])
    expect((await stripe.events.list({ created: T0 })).data.map((e) => e.type)).toEqual([
      "identity.verification_session.created",
    ])
  })

  it("filters by delivery_success", async () => {
    expect((await stripe.events.list({ delivery_success: true, limit: 100 })).data).toHaveLength(7)
    expect((await stripe.events.list({ delivery_success: false, limit: 100 })).data).toHaveLength(0)
  })

  it("auto-paginates newest first, and ending_before catches up oldest to newest", async () => {
    const all = await stripe.events.list({ limit: 2 }).autoPagingToArray({ limit: 100 })
    expect(all).toHaveLength(7)
    const oldest = all.at(-1)!
    const caughtUp: string[] = []
    for await (const e of stripe.events.list({ ending_before: oldest.id, limit: 2 })) caughtUp.push(e.id)
    expect(caughtUp).toEqual(
      all
        .slice(0, -1)
        .map((e) => e.id)
        .reverse(),
    )
  })

  it("redacts the metadata in a redacted session's event snapshots", async () => {
    await stripe.identity.verificationSessions.redact(a.id)
    const events = (await stripe.events.list({ limit: 100 })).data.filter((e) => sessionOf(e) === a.id)
    expect(
      events.every((e) => JSON.stringify((e.data.object as { metadata: object }).metadata) === "{}"),
    ).toBe(true)
  })

  it("forgets events older than 30 days by the simulator clock", async () => {
    const all = await stripe.events.list({ limit: 100 })
    const oldest = all.data.at(-1)!
    // Move to 30 days after the first events, plus a second: those created at T0 are gone.
    h.sim.control.advanceClock(T0 + 30 * 86_400 + 1 - h.sim.control.now())
    const later = await stripe.events.list({ limit: 100 })
    expect(later.data.map((e) => e.id)).not.toContain(oldest.id)
    expect(later.data.length).toBeLessThan(all.data.length)
    const e = await failure(stripe.events.retrieve(oldest.id))
    expect(e.statusCode).toBe(404)
    expect(e.code).toBe("resource_missing")
    h.sim.control.advanceClock(3600)
    expect((await stripe.events.list({ limit: 100 })).data).toEqual([])
    // The sessions themselves stay listable.
    expect((await stripe.identity.verificationSessions.list()).data.map((s) => s.id)).toEqual([b.id, a.id])
  })
})
