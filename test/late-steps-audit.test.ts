/**
 * Late steps as auditors read them (issue 12's gap, migration 0016): the decider records a step
 * that arrives after later ones, and replaces a filled-in step by its real one; the store's audit
 * views then count each step once and place it by Stripe's time.
 *
 * Runs on the embedded PGlite, or on Postgres when DATABASE_URL is set.
 */
import { type Observe, stepsInStripeOrder, type VerificationSession } from "@idtrail/domain"
import type { PromiseStore } from "@idtrail/store"
import { openTemporaryStore } from "@idtrail/store/testing"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const CREATED = 1_800_000_000

const snapshot = (id: string, status: string, failed = false): VerificationSession => ({
  id,
  object: "identity.verification_session",
  client_reference_id: null,
  client_secret: null,
  created: CREATED,
  last_error: failed ? { code: "document_expired", reason: "The document is expired." } : null,
  last_verification_report: failed || status === "verified" ? "vr_1" : null,
  livemode: false,
  metadata: {},
  options: null,
  redaction: null,
  related_customer: null,
  related_customer_account: null,
  status,
  type: "document",
  url: null,
})

/** Stripe's event of a step, as a webhook brings it. */
const webhook = (id: string, status: string, at: number, type: string, failed = false): Observe => ({
  _tag: "Observe",
  session: snapshot(id, status, failed),
  source: "webhook",
  observedAt: CREATED + at,
  stripeEventId: `evt_${id}_${type}_${at}`,
  stripeEventType: `identity.verification_session.${type}`,
})

const everything = { from: new Date(0), to: new Date(4_000_000_000_000) }
let store: PromiseStore & { dispose: () => Promise<void> }
const actor = { kind: "service", id: "late-steps" } as const
const send = async (id: string, observations: ReadonlyArray<Observe>) => {
  for (const o of observations) await store.handle(id, o, { actor })
}

beforeAll(async () => {
  store = await openTemporaryStore({ databaseUrl: process.env.DATABASE_URL })
  // Stripe: created 0 → processing 10 → failed 20 → processing 30 → verified 40. The failure's
  // webhook is refused at first and retried after the verification landed.
  await send("vs_late_failure", [
    webhook("vs_late_failure", "requires_input", 0, "created"),
    webhook("vs_late_failure", "processing", 10, "processing"),
    webhook("vs_late_failure", "processing", 30, "processing", true),
    webhook("vs_late_failure", "verified", 40, "verified", true),
    webhook("vs_late_failure", "requires_input", 20, "requires_input", true),
  ])
  // Stripe: created 0 → processing 10 → verified 40; a read at 60 sees verified first (both steps
  // filled in), then the webhooks arrive.
  await send("vs_late_verified", [
    webhook("vs_late_verified", "requires_input", 0, "created"),
    {
      _tag: "Observe",
      session: snapshot("vs_late_verified", "verified"),
      source: "reconciler",
      observedAt: CREATED + 60,
    },
    webhook("vs_late_verified", "processing", 10, "processing"),
    webhook("vs_late_verified", "verified", 40, "verified"),
  ])
})

afterAll(async () => {
  await store?.dispose()
})

describe("late steps in the audit views", () => {
  it("the history reads Stripe's steps in Stripe's order; the present is Stripe's", async () => {
    const events = (await store.readStream("vs_late_failure")).map((r) => r.event)
    expect(stepsInStripeOrder(events).map((s) => [s.status, s.at - CREATED])).toEqual([
      ["requires_input", 0],
      ["processing", 10],
      ["requires_input", 20],
      ["processing", 30],
      ["verified", 40],
    ])
    expect(events.filter((e) => "late" in e && e.late === true).map((e) => e._tag)).toEqual([
      "VerificationFailed",
    ])
    expect((await store.state("vs_late_failure")).facts?.status).toBe("verified")
  })

  it("transitions are counted by Stripe's order: no verified → requires_input, each step once", async () => {
    const transitions = await store.audit.transitions(everything)
    const count = (from: string | null, to: string) =>
      transitions.find((t) => t.fromStatus === from && t.toStatus === to)?.count ?? 0
    expect(count("verified", "requires_input")).toBe(0)
    expect(count("processing", "requires_input")).toBe(1)
    expect(count("requires_input", "processing")).toBe(3)
    expect(count("processing", "verified")).toBe(2)
    expect(count(null, "requires_input")).toBe(2)
  })

  it("session_failures counts the late failure once (the step filled in for it is replaced)", async () => {
    expect(await store.audit.failureReasons(everything)).toEqual([{ code: "document_expired", count: 1 }])
  })

  it("a verification filled in by a read and confirmed by its webhook later is dated by that webhook: time to verified is known", async () => {
    const events = (await store.readStream("vs_late_verified")).map((r) => r.event)
    expect(events.filter((e) => "confirms" in e && e.confirms !== undefined).map((e) => e._tag)).toEqual([
      "SessionSubmitted",
      "SessionVerified",
    ])
    const times = await store.audit.timeToVerified(everything)
    expect(times).toMatchObject({ sessions: 2, transitionTimeUnknown: 0, p50: 40 })
  })
})
