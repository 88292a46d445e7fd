import { initialState, type SessionEvent } from "@idtrail/domain"
import { sql } from "kysely"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { backends, dbOf, metadata, openTestStore, snapshot } from "./fixtures.ts"

const started = (sessionId: string, at = 100): SessionEvent => ({
  _tag: "SessionStarted",
  sessionId,
  at,
  source: "webhook",
  stripeEventType: "identity.verification_session.created",
  midLife: false,
  facts: {
    status: "requires_input",
    type: "document",
    livemode: false,
    created: 90,
    clientReferenceId: null,
    metadata: { order: "42" },
    options: null,
    lastError: null,
    lastVerificationReport: null,
    redactionStatus: null,
    relatedCustomer: null,
    relatedCustomerAccount: null,
    relatedPerson: null,
    verificationFlow: null,
  },
})
const submitted = (sessionId: string, at = 110): SessionEvent => ({ _tag: "SessionSubmitted", sessionId, at })

describe.each(backends)("appendToStream on $name", ({ databaseUrl }) => {
  let store: Awaited<ReturnType<typeof openTestStore>>
  beforeAll(async () => {
    store = await openTestStore(databaseUrl)
  })
  afterAll(async () => {
    await store?.dispose()
  })
  const count = async (table: string) =>
    Number(
      (
        await sql<{ n: string }>`select count(*) as n from ${sql.raw(`"${store.schema}".${table}`)}`.execute(
          dbOf(store),
        )
      ).rows[0]!.n,
    )

  it("stores a batch with versions 1..n, returns its positions and updates the session projection", async () => {
    const result = await store.appendToStream("vs_a1", [started("vs_a1"), submitted("vs_a1")], {
      expectedVersion: 0,
      stripeEventId: "evt_a1",
      metadata: metadata({ stripeEventId: "evt_a1", observedAt: 110 }),
    })
    expect(result._tag).toBe("Appended")
    if (result._tag !== "Appended") return
    expect(result.nextVersion).toBe(2)
    expect(result.positions).toHaveLength(2)
    expect(result.positions[1]!).toBeGreaterThan(result.positions[0]!)
    const events = await store.readStream("vs_a1")
    expect(events.map((e) => [e.streamVersion, e.event._tag])).toEqual([
      [1, "SessionStarted"],
      [2, "SessionSubmitted"],
    ])
    expect(events.map((e) => e.position)).toEqual(result.positions)
    const state = await store.state("vs_a1")
    expect(state.version).toBe(2)
    expect(state.facts?.status).toBe("processing")
    const row = await sql<{
      status: string
      version: string
      metadata: unknown
    }>`select status, version, metadata
      from ${sql.raw(`"${store.schema}".verification_sessions`)} where session_id = 'vs_a1'`.execute(
      dbOf(store),
    )
    expect(row.rows[0]).toEqual({ status: "processing", version: "2", metadata: { order: "42" } })
  })

  it("stores only the domain's fields of an event: unknown keys are dropped", async () => {
    const result = await store.appendToStream(
      "vs_a3",
      [{ ...submitted("vs_a3"), note: "not part of the event" } as unknown as SessionEvent],
      { expectedVersion: 0, metadata: metadata() },
    )
    expect(result._tag).toBe("Appended")
    const raw = await sql<{ data: unknown }>`select data from ${sql.raw(`"${store.schema}".events`)}
      where stream_id = 'vs_a3'`.execute(dbOf(store))
    expect(raw.rows[0]!.data).toEqual({ _tag: "SessionSubmitted", sessionId: "vs_a3", at: 110 })
  })

  it("stores the metadata with every event of the batch", async () => {
    const events = await store.readStream("vs_a1")
    for (const e of events) {
      expect(e.metadata).toEqual(metadata({ stripeEventId: "evt_a1", observedAt: 110 }))
    }
  })

  it("answers a stale expected version with VersionConflict and writes nothing", async () => {
    const before = await count("events")
    const result = await store.appendToStream("vs_a1", [submitted("vs_a1", 120)], {
      expectedVersion: 1,
      metadata: metadata(),
    })
    expect(result).toEqual({ _tag: "VersionConflict", expected: 1, actual: 2 })
    const onNew = await store.appendToStream("vs_a_new", [submitted("vs_a_new")], {
      expectedVersion: 3,
      metadata: metadata(),
      state: { ...initialState, version: 3 },
    })
    expect(onNew).toEqual({ _tag: "VersionConflict", expected: 3, actual: 0 })
    expect(await count("events")).toBe(before)
    expect((await store.state("vs_a1")).version).toBe(2)
  })

  it("answers a second append of the same Stripe event with Duplicate and writes nothing", async () => {
    const before = await count("events")
    const result = await store.appendToStream("vs_a1", [submitted("vs_a1", 130)], {
      expectedVersion: 2,
      stripeEventId: "evt_a1",
      metadata: metadata(),
    })
    expect(result).toEqual({ _tag: "Duplicate", stripeEventId: "evt_a1" })
    expect(await count("events")).toBe(before)
  })

  it("refuses to create a stream twice: expected version 0 on an existing stream is a conflict", async () => {
    const result = await store.appendToStream("vs_a1", [started("vs_a1")], {
      expectedVersion: 0,
      metadata: metadata(),
    })
    expect(result).toEqual({ _tag: "VersionConflict", expected: 0, actual: 2 })
  })

  it("refuses UPDATE, DELETE and TRUNCATE of the event log with a clear message", async () => {
    const events = `"${store.schema}".events`
    for (const statement of [
      `update ${events} set type = 'x'`,
      `delete from ${events}`,
      `truncate ${events}`,
    ]) {
      await expect(sql.raw(statement).execute(dbOf(store))).rejects.toThrow(/append-only/)
    }
    expect(await count("events")).toBeGreaterThan(0)
  })

  it("never stores client_secret or url: the snapshot's secrets are not in any event", async () => {
    const session = snapshot("vs_a2", "requires_input")
    await store.handle(
      "vs_a2",
      { _tag: "Observe", session, source: "api", observedAt: 200 },
      { actor: metadata().actor },
    )
    const raw = await sql<{ text: string }>`select string_agg(data::text || metadata::text, '') as text
      from ${sql.raw(`"${store.schema}".events`)} where stream_id = 'vs_a2'`.execute(dbOf(store))
    expect(raw.rows[0]!.text).not.toContain("secret")
    expect(raw.rows[0]!.text).not.toContain("verify.stripe.com")
  })
})
