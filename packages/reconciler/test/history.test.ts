/**
 * Issue 12: an incremental run records Stripe's history from the Events API (source
 * `events_api`), and costs what changed: the request budget, counted by the simulator.
 */
import type { SessionEvent } from "@idtrail/domain"
import { statusEnteredBy } from "@idtrail/domain"
import type { ObservedResponse } from "@idtrail/simulator"
import { afterEach, describe, expect, it } from "vitest"
import { reconcile } from "../src/index.ts"
import { openWorld, type World } from "./fixtures.ts"

let w: World | undefined
afterEach(async () => {
  await w?.dispose()
  w = undefined
})

/** Requests the simulator answered on Stripe's routes, by kind. */
const requestCounter = () => {
  const counts = { events: 0, sessions: 0 }
  return {
    counts,
    onResponse: (r: ObservedResponse) => {
      if (r.control) return
      if (r.path.startsWith("/v1/events")) counts.events++
      else counts.sessions++
    },
    reset: () => {
      counts.events = 0
      counts.sessions = 0
    },
  }
}

/** Statuses entered, with each failure's code, as recorded. */
const recordedSteps = (events: ReadonlyArray<SessionEvent>) =>
  events.flatMap((e) => {
    const status = statusEnteredBy(e)
    if (status === undefined) return []
    return e._tag === "VerificationFailed" ? [`${status}(${e.code})`] : [status]
  })

/** The same, from the simulator's Events API, oldest first. */
const stripeSteps = async (world: World, id: string) => {
  const events = []
  for await (const e of world.stripe.events.list({ type: "identity.verification_session.*", limit: 100 }))
    if ((e.data.object as { id: string }).id === id) events.push(e)
  const snapshots = events
    .reverse()
    .map((e) => e.data.object as { status: string; last_error: { code: string } | null })
  return snapshots
    .filter((s, i) => i === 0 || snapshots[i - 1]!.status !== s.status)
    .map((s) =>
      s.status === "requires_input" && s.last_error !== null ? `${s.status}(${s.last_error.code})` : s.status,
    )
}

describe("history from the Events API", () => {
  it("one incremental run records every session's statuses and failure codes as Stripe's events have them, same seconds included; a webhook of any of those events later changes nothing", async () => {
    w = await openWorld(undefined, 0, { frozenClock: true, startTime: 1_800_000_000 })
    const { sim, stripe, store } = w
    const ids: Array<string> = []
    for (let i = 0; i < 6; i++)
      ids.push((await stripe.identity.verificationSessions.create({ type: "document" })).id)
    sim.control.advanceClock(1)
    // Failure cycles in one second: only Stripe's order says which came last.
    for (const id of ids) {
      sim.control.submit(id)
      sim.control.fail(id, "document_expired")
      sim.control.submit(id)
    }
    sim.control.advanceClock(1)
    sim.control.fail(ids[0]!, "selfie_face_mismatch")
    sim.control.pass(ids[1]!)
    // A webhook recorded a session's first event before the run.
    const listed = (await stripe.events.list({ type: "identity.verification_session.*", limit: 100 })).data
    const asWebhook = (e: (typeof listed)[number]) =>
      store.handle(
        (e.data.object as { id: string }).id,
        {
          _tag: "Observe",
          session: e.data.object as never,
          source: "webhook",
          observedAt: e.created,
          stripeEventId: e.id,
          stripeEventType: e.type,
        },
        { actor: { kind: "service", id: "webhooks" } },
      )
    await asWebhook(listed.filter((e) => (e.data.object as { id: string }).id === ids[3]).at(-1)!)

    const run = await reconcile(store, w.api(), { mode: "incremental" })
    expect(run.complete).toBe(true)
    expect(run.historyEvents).toBeGreaterThan(ids.length * 3)
    for (const id of ids) {
      const recorded = (await store.readStream(id)).map((r) => r.event)
      expect({ id, steps: recordedSteps(recorded) }).toEqual({ id, steps: await stripeSteps(w, id) })
      expect((await store.readStream(id)).some((r) => r.metadata.source === "events_api")).toBe(true)
    }
    // Every event is recorded once, with its id: a webhook of any of them later changes nothing.
    for (const e of listed) expect(["NothingToDo", "AlreadyRecorded"]).toContain((await asWebhook(e))._tag)
    const again = await reconcile(store, w.api(), { mode: "incremental" })
    expect(again).toMatchObject({ complete: true, historyEvents: 0, repaired: 0, started: 0 })
  }, 180_000)

  it("a repair's report says what drifted (before → after) and counts it by kind", async () => {
    w = await openWorld(undefined, 0, { frozenClock: true, startTime: 1_800_000_000 })
    const { sim, stripe, store } = w
    const a = (await stripe.identity.verificationSessions.create({ type: "document", metadata: { k: "1" } }))
      .id
    await reconcile(store, w.api(), { mode: "sweep" })
    sim.control.advanceClock(60)
    await stripe.identity.verificationSessions.update(a, { metadata: { k: "2" } })
    sim.control.submit(a)
    const run = await reconcile(store, w.api(), { mode: "sweep" })
    const repair = run.repairs.find((r) => r.sessionId === a)!
    expect(repair.drift).toEqual(
      expect.arrayContaining([
        { what: "status", from: "requires_input", to: "processing" },
        { what: "metadata", from: { k: "1" }, to: { k: "2" } },
      ]),
    )
    expect(run.driftByKind).toMatchObject({ status: 1, metadata: 1 })
  }, 180_000)

  it("events older than the Events API's 30 days: the run says so, records no history from them, and still reads the present", async () => {
    w = await openWorld(undefined, 0, { frozenClock: true, startTime: 1_800_000_000 })
    const { sim, stripe, store } = w
    const a = (await stripe.identity.verificationSessions.create({ type: "document" })).id
    await reconcile(store, w.api(), { mode: "incremental" })
    sim.control.advanceClock(1)
    sim.control.submit(a)
    sim.control.advanceClock(31 * 86_400)
    const late = await reconcile(store, w.api(), { mode: "incremental" })
    expect(late.warnings.join()).toMatch(
      /older than the Events API's 30 days[\s\S]*history[\s\S]*run a sweep/,
    )
    expect(late.historyEvents).toBe(0)
    // The present is still read (a is open, so due on the schedule); the lost history is not invented.
    expect((await store.state(a)).facts?.status).toBe("processing")
    const submitted = (await store.readStream(a)).filter(
      (r) => r.metadata.stripeEventType === "identity.verification_session.processing",
    )
    expect(submitted).toEqual([])
  }, 180_000)
})

describe("what an incremental run costs", () => {
  it("0 changes: 1 Events API page and at most 1 % of the open sessions; k changes: about k more", async () => {
    const counter = requestCounter()
    w = await openWorld(undefined, 500, {
      frozenClock: true,
      startTime: 1_800_000_000,
      spanDays: 20,
      onResponse: counter.onResponse,
    })
    const { sim, store } = w
    await reconcile(store, w.api(), { mode: "sweep" })
    await reconcile(store, w.api(), { mode: "incremental" })
    const open = (await store.audit.countsByStatus())
      .filter((c) => c.status !== "verified" && c.status !== "canceled")
      .reduce((n, c) => n + c.sessions, 0)
    expect(open).toBeGreaterThan(100)
    const cap = Math.ceil(open / 100)

    sim.control.advanceClock(600)
    counter.reset()
    const quiet = await reconcile(store, w.api(), { mode: "incremental" })
    expect(quiet.complete).toBe(true)
    expect(counter.counts.events).toBe(1)
    expect(counter.counts.sessions).toBeLessThanOrEqual(cap)
    expect(quiet.requests).toBe(counter.counts.events + counter.counts.sessions)

    const k = 30
    const openIds: Array<string> = []
    for await (const s of w.stripe.identity.verificationSessions.list({
      status: "requires_input",
      limit: 100,
    })) {
      openIds.push(s.id)
      if (openIds.length === k) break
    }
    for (const id of openIds) sim.control.submit(id)
    sim.control.advanceClock(600)
    counter.reset()
    const busy = await reconcile(store, w.api(), { mode: "incremental" })
    expect(busy).toMatchObject({ complete: true, eventsRead: k })
    expect(counter.counts.events).toBe(1)
    expect(counter.counts.sessions).toBeGreaterThanOrEqual(k)
    expect(counter.counts.sessions).toBeLessThanOrEqual(k + cap)
  }, 300_000)
})
