import { confirm, decodeStripeEvent, fold } from "@idtrail/domain"
import { sql } from "kysely"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { CommandContext } from "../src/index.ts"
import { actor, backends, dbOf, observation, openTestStore, snapshot } from "./fixtures.ts"

const webhook = (id: string, eventId: string, status: string, created: number, overrides = {}) => ({
  id: eventId,
  object: "event",
  type: `identity.verification_session.${status}`,
  created,
  livemode: false,
  api_version: "2026-07-29.dahlia",
  data: { object: snapshot(id, status, overrides) },
})

describe.each(backends)("handle on $name", ({ databaseUrl }) => {
  let store: Awaited<ReturnType<typeof openTestStore>>
  beforeAll(async () => {
    store = await openTestStore(databaseUrl)
  })
  afterAll(async () => {
    await store?.dispose()
  })

  it("given webhooks in order, records the lifecycle with the webhook's source, event and actor", async () => {
    const context: CommandContext = {
      actor: { kind: "service", id: "webhook-ingester" },
      correlationId: "req_1",
    }
    for (const [eventId, status, at] of [
      ["evt_h1", "requires_input", 100],
      ["evt_h2", "processing", 110],
      ["evt_h3", "verified", 120],
    ] as const) {
      const decoded = decodeStripeEvent(JSON.stringify(webhook("vs_h1", eventId, status, at)))
      if (decoded._tag !== "Success" || "_tag" in decoded.success) throw new Error("bad fixture")
      const result = await store.observe(decoded.success, context)
      expect(result._tag).toBe("EventsAppended")
    }
    const history = await store.audit.history("vs_h1")
    expect(history.map((h) => [h.version, h.type, h.source, h.stripeEventId, h.causationId])).toEqual([
      [1, "SessionStarted", "webhook", "evt_h1", "evt_h1"],
      [2, "SessionSubmitted", "webhook", "evt_h2", "evt_h2"],
      [3, "SessionVerified", "webhook", "evt_h3", "evt_h3"],
    ])
    expect(history.every((h) => h.actor.id === "webhook-ingester" && h.correlationId === "req_1")).toBe(true)
  })

  it("a redelivered webhook is recorded once", async () => {
    const decoded = decodeStripeEvent(webhook("vs_h1", "evt_h2", "processing", 110))
    if (decoded._tag !== "Success" || "_tag" in decoded.success) throw new Error("bad fixture")
    const again = await store.observe(decoded.success, { actor })
    expect(["NothingToDo", "AlreadyRecorded"]).toContain(again._tag)
    expect((await store.readStream("vs_h1")).length).toBe(3)
  })

  it("a late webhook of a step already recorded changes nothing", async () => {
    const result = await store.handle(
      "vs_h1",
      observation(snapshot("vs_h1", "processing"), 110, "webhook", "evt_old"),
      {
        actor,
      },
    )
    expect(result).toMatchObject({ _tag: "NothingToDo", version: 3 })
  })

  it("a local intent is recorded with source local and the requesting user", async () => {
    await store.handle("vs_h2", observation(snapshot("vs_h2", "requires_input"), 100, "api"), { actor })
    const result = await store.handle(
      "vs_h2",
      { _tag: "RequestCancel", sessionId: "vs_h2", requestedAt: 130 },
      { actor: { kind: "user", id: "usr_9" }, causationId: "cmd_1" },
    )
    expect(result).toMatchObject({ _tag: "EventsAppended", nextVersion: 2 })
    const [, cancel] = await store.audit.history("vs_h2")
    expect(cancel).toMatchObject({
      type: "CancelRequested",
      source: "local",
      causationId: "cmd_1",
      actor: { kind: "user", id: "usr_9" },
    })
  })

  it("racing observations of one session all land, each decided on the state the other left: versions have no gap", async () => {
    await store.handle("vs_h3", observation(snapshot("vs_h3", "requires_input"), 100, "api"), { actor })
    const results = await Promise.all([
      store.handle(
        "vs_h3",
        observation(snapshot("vs_h3", "requires_input", { metadata: { a: "1" } }), 101, "api"),
        { actor },
      ),
      store.handle(
        "vs_h3",
        observation(snapshot("vs_h3", "processing", { metadata: { a: "1" } }), 102, "api"),
        { actor },
      ),
      store.handle(
        "vs_h3",
        observation(snapshot("vs_h3", "processing", { metadata: { a: "1", b: "2" } }), 103, "api"),
        {
          actor,
        },
      ),
    ])
    expect(results.every((r) => r._tag === "EventsAppended" || r._tag === "NothingToDo")).toBe(true)
    const events = await store.readStream("vs_h3")
    expect(events.map((e) => e.streamVersion)).toEqual(events.map((_, i) => i + 1))
    const state = await store.state("vs_h3")
    expect(state.version).toBe(events.length)
    expect(state.facts?.status).toBe("processing")
  })

  it("a writer that keeps losing the race gives up with ConflictRetriesExhausted, writing nothing", async () => {
    // Two writers decide on the same version at once; with no retry allowed, the loser gives up.
    let lost = 0
    for (let i = 0; i < 10; i++) {
      const id = `vs_h4_${i}`
      await store.handle(id, observation(snapshot(id, "requires_input"), 100, "api"), { actor })
      const outcomes = await Promise.allSettled([
        store.handle(id, observation(snapshot(id, "processing"), 110, "api"), { actor }, { maxRetries: 0 }),
        store.handle(id, observation(snapshot(id, "canceled"), 111, "api"), { actor }, { maxRetries: 0 }),
      ])
      for (const outcome of outcomes) {
        if (outcome.status === "fulfilled") continue
        lost++
        expect(outcome.reason).toMatchObject({ _tag: "ConflictRetriesExhausted", streamId: id, attempts: 1 })
      }
      const events = await store.readStream(id)
      expect(events.map((e) => e.streamVersion)).toEqual(events.map((_, v) => v + 1))
      expect((await store.state(id)).version).toBe(events.length)
    }
    expect(lost).toBeGreaterThan(0)
  })

  it("a dry run returns WouldAppend (the events, the version they were decided on, the state after them) and writes nothing", async () => {
    await store.handle("vs_h5", observation(snapshot("vs_h5", "requires_input"), 100, "api"), { actor })
    const before = await store.readStream("vs_h5")
    const command = observation(snapshot("vs_h5", "processing"), 110, "api")
    const dry = await store.handle("vs_h5", command, { actor }, { dryRun: true })
    expect(dry).toMatchObject({ _tag: "WouldAppend", version: 1, events: [{ _tag: "SessionSubmitted" }] })
    if (dry._tag !== "WouldAppend") return
    // The confirm step follows the fold: an authoritative read moves confirmedAt.
    expect(dry.state).toEqual(confirm(command, fold(dry.events, await store.state("vs_h5"))))
    expect(dry.state.facts?.status).toBe("processing")
    expect(await store.readStream("vs_h5")).toEqual(before)
    expect((await store.state("vs_h5")).version).toBe(1)
    // The real run appends exactly what the dry run announced, and reaches the same state.
    const real = await store.handle("vs_h5", command, { actor })
    expect(real).toMatchObject({
      _tag: "EventsAppended",
      events: dry.events,
      nextVersion: 2,
      state: dry.state,
    })
  })

  it("a dry run of a command that changes nothing is NothingToDo; a refused one fails as handle does", async () => {
    const dry = await store.handle(
      "vs_h5",
      observation(snapshot("vs_h5", "processing"), 110, "api"),
      { actor },
      { dryRun: true },
    )
    expect(dry).toMatchObject({ _tag: "NothingToDo", version: 2 })
    await expect(
      store.handle(
        "vs_unknown_dry",
        { _tag: "RequestCancel", sessionId: "vs_unknown_dry", requestedAt: 1 },
        { actor },
        { dryRun: true },
      ),
    ).rejects.toMatchObject({ _tag: "SessionNotFound" })
    expect(await store.readStream("vs_unknown_dry")).toEqual([])
  })

  it("the state handle returns and stores is its events folded onto the state before them, then confirmed", async () => {
    const command = observation(snapshot("vs_h6", "verified", { metadata: { a: "1" } }), 100, "api")
    const result = await store.handle("vs_h6", command, { actor })
    if (result._tag !== "EventsAppended") throw new Error(`expected EventsAppended, got ${result._tag}`)
    expect(result.state).toEqual(confirm(command, fold(result.events)))
    expect(await store.state("vs_h6")).toEqual(result.state)
  })

  it("handle folds the stream when the projection row is missing (during a rebuild)", async () => {
    await sql.raw(`truncate "${store.schema}".verification_sessions`).execute(dbOf(store))
    const result = await store.handle(
      "vs_h1",
      observation(snapshot("vs_h1", "verified", { metadata: { k: "v" } }), 200, "api"),
      {
        actor,
      },
    )
    expect(result).toMatchObject({ _tag: "EventsAppended", nextVersion: 4 })
    expect((await store.state("vs_h1")).facts?.metadata).toEqual({ k: "v" })
  })
})
