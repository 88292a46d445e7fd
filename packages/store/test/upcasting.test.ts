/**
 * Events written in an older shape are read as the current shape by every reader. The store is
 * opened with the shapes of an earlier idtrail for three event types (`eventVersions`), and the
 * old events are written as raw rows, the way that version wrote them (no `_version` key).
 */
import { factsOf, fold, type SessionEvent } from "@idtrail/domain"
import { sql } from "kysely"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Checkpoint, type EventVersions, openStore, type RecordedEvent } from "../src/index.ts"
import { backends, dbOf, metadata, openTestStore, snapshot } from "./fixtures.ts"

type Json = Readonly<Record<string, unknown>>

/** An earlier idtrail: SessionStarted without `stripeEventType`/`midLife`, VerificationFailed with
 * `error` and `report`, SessionVerified with `report`, then `verificationReport` (two steps). */
const earlierShapes: EventVersions = {
  SessionStarted: {
    current: 2,
    upcasters: {
      1: (v1) => ({
        ...v1,
        stripeEventType: null,
        midLife: (v1.facts as Json).status !== "requires_input",
      }),
    },
  },
  VerificationFailed: {
    current: 2,
    upcasters: {
      1: ({ error, report, ...rest }) => ({
        ...rest,
        code: (error as Json | null)?.code ?? null,
        reason: (error as Json | null)?.reason ?? null,
        lastVerificationReport: report,
      }),
    },
  },
  SessionVerified: {
    current: 3,
    upcasters: {
      1: ({ report, ...rest }) => ({ ...rest, verificationReport: report }),
      2: ({ verificationReport, ...rest }) => ({ ...rest, lastVerificationReport: verificationReport }),
    },
  },
}

const id = "vs_old_shapes"
const facts = factsOf(snapshot(id, "requires_input"))
/** The stream as the earlier version stored it. */
const stored: ReadonlyArray<Json> = [
  { _tag: "SessionStarted", sessionId: id, at: 100, source: "api", facts },
  { _tag: "SessionSubmitted", sessionId: id, at: 110 },
  {
    _tag: "VerificationFailed",
    sessionId: id,
    at: 120,
    error: { code: "document_expired", reason: null },
    report: "vr_1",
  },
  { _tag: "SessionSubmitted", sessionId: id, at: 130 },
  { _tag: "SessionVerified", sessionId: id, at: 140, report: "vr_2" },
]
/** The same stream in the current shapes. */
const current: ReadonlyArray<SessionEvent> = [
  {
    _tag: "SessionStarted",
    sessionId: id,
    at: 100,
    source: "api",
    stripeEventType: null,
    midLife: false,
    facts,
  },
  { _tag: "SessionSubmitted", sessionId: id, at: 110 },
  {
    _tag: "VerificationFailed",
    sessionId: id,
    at: 120,
    code: "document_expired",
    reason: null,
    lastVerificationReport: "vr_1",
  },
  { _tag: "SessionSubmitted", sessionId: id, at: 130 },
  { _tag: "SessionVerified", sessionId: id, at: 140, lastVerificationReport: "vr_2" },
]

describe.each(backends)("events in older shapes on $name", ({ databaseUrl }) => {
  let store: Awaited<ReturnType<typeof openTestStore>>
  const insertRaw = async (stream: string, events: ReadonlyArray<Json>) => {
    for (const [i, data] of events.entries()) {
      await sql`insert into ${sql.raw(`"${store.schema}".events`)} (stream_id, stream_version, type, data, metadata)
        values (${stream}, ${i + 1}, ${data._tag as string}, ${JSON.stringify(data)}::jsonb,
                ${JSON.stringify(metadata({ source: "api" }))}::jsonb)`.execute(dbOf(store))
    }
  }
  /** Every event of the global order; other sessions' open transactions may hold it back a moment. */
  const readEverything = async () => {
    const events: Array<RecordedEvent> = []
    let after: Checkpoint | null = null
    for (;;) {
      const page = await store.readAll({ after, limit: 2 })
      events.push(...page.events)
      after = page.checkpoint
      if (page.events.length < 2 && page.heldBack === undefined) return events
      if (page.heldBack !== undefined) await new Promise((r) => setTimeout(r, 20))
    }
  }
  const eventsOf = (events: ReadonlyArray<RecordedEvent>, stream: string) =>
    events.filter((e) => e.streamId === stream).map((e) => e.event)

  beforeAll(async () => {
    store = await openTestStore(databaseUrl, { eventVersions: earlierShapes })
    await insertRaw(id, stored)
  })
  afterAll(async () => {
    await store?.dispose()
  })

  it("readStream and the audit history read the old shapes as the current ones", async () => {
    expect((await store.readStream(id)).map((e) => e.event)).toEqual(current)
    expect((await store.audit.history(id)).map((h) => h.event)).toEqual(current)
    expect((await store.audit.history(id)).map((h) => h.type)).toEqual(current.map((e) => e._tag))
  })

  it("readAll and readAllPages read the old shapes as the current ones", async () => {
    expect(eventsOf(await readEverything(), id)).toEqual(current)
    const paged: Array<RecordedEvent> = []
    for (;;) {
      paged.length = 0
      let heldBack = false
      for await (const page of store.readAllPages({ after: null, pageSize: 2 })) {
        paged.push(...page.events)
        heldBack ||= page.heldBack !== undefined
      }
      if (!heldBack) break
      await new Promise((r) => setTimeout(r, 20))
    }
    expect(eventsOf(paged, id)).toEqual(current)
  })

  it("the state, folded from the old shapes or rebuilt into the session projection, is the current shapes' fold", async () => {
    const expected = fold(current)
    expect(await store.state(id)).toEqual(expected)
    expect(await store.rebuild("verification_sessions")).toBeGreaterThanOrEqual(1)
    expect(await store.state(id)).toEqual(expected)
    const row = await sql<{ status: string; version: string }>`select status, version::text
      from ${sql.raw(`"${store.schema}".verification_sessions`)} where session_id = ${id}`.execute(
      dbOf(store),
    )
    expect(row.rows).toEqual([{ status: "verified", version: "5" }])
  })

  it("an asynchronous projection receives the current shapes", async () => {
    const seen: Array<SessionEvent> = []
    const projection = {
      name: "collect_old_shapes",
      apply: async (_tx: unknown, events: ReadonlyArray<RecordedEvent>) => {
        seen.push(...events.map((e) => e.event))
      },
      truncate: async () => {},
    }
    for (;;) if ((await store.catchUp(projection)).heldBack === undefined) break
    expect(seen.filter((e) => e.sessionId === id)).toEqual(current)
  })

  it("writers store a type past version 1 with its version, and it reads back unchanged", async () => {
    const failed: SessionEvent = {
      _tag: "VerificationFailed",
      sessionId: "vs_new_shape",
      at: 5,
      code: "selfie_unverified_other",
      reason: null,
      lastVerificationReport: null,
    }
    const submitted: SessionEvent = { _tag: "SessionSubmitted", sessionId: "vs_new_shape", at: 4 }
    const appended = await store.appendToStream("vs_new_shape", [submitted, failed], {
      expectedVersion: 0,
      metadata: metadata(),
    })
    expect(appended._tag).toBe("Appended")
    const rows = await sql<{ data: Json }>`select data from ${sql.raw(`"${store.schema}".events`)}
      where stream_id = 'vs_new_shape' order by stream_version`.execute(dbOf(store))
    expect(rows.rows.map((r) => r.data._version)).toEqual([undefined, 2])
    expect((await store.readStream("vs_new_shape")).map((e) => e.event)).toEqual([submitted, failed])
  })

  it("an event written by a newer version is a CorruptEvent that names its version, not a misread", async () => {
    await insertRaw("vs_future_shape", [
      {
        _tag: "SessionVerified",
        _version: 4,
        sessionId: "vs_future_shape",
        at: 1,
        lastVerificationReport: null,
      },
    ])
    await expect(store.readStream("vs_future_shape")).rejects.toMatchObject({
      _tag: "CorruptEvent",
      message: expect.stringMatching(
        /SessionVerified version 4, written by a newer idtrail; this one reads up to version 3/,
      ),
    })
  })

  it("a store with idtrail's own versions (none past 1) refuses a versioned event and reads unversioned ones", async () => {
    // Another store on the same schema (for PGlite, through its embedded server), with the default registry.
    const plain = await openStore({ databaseUrl: store.url, schema: store.schema, poolSize: 1 })
    try {
      await expect(plain.readStream("vs_future_shape")).rejects.toMatchObject({
        _tag: "CorruptEvent",
        message: expect.stringMatching(
          /version 4, written by a newer idtrail; this one reads up to version 1/,
        ),
      })
      // Without the earlier shapes' upcasters, the old events do not decode: what the registry is for.
      await expect(plain.readStream(id)).rejects.toMatchObject({ _tag: "CorruptEvent" })
      await insertRaw("vs_unversioned", [{ _tag: "SessionSubmitted", sessionId: "vs_unversioned", at: 1 }])
      expect((await plain.readStream("vs_unversioned")).map((e) => e.event)).toEqual([
        { _tag: "SessionSubmitted", sessionId: "vs_unversioned", at: 1 },
      ])
    } finally {
      await plain.close()
    }
  })

  it("a registry with a missing step is refused when the store opens", async () => {
    await expect(
      openTestStore(databaseUrl, {
        eventVersions: { SessionVerified: { current: 3, upcasters: { 1: (v) => ({ ...v }) } } },
      }),
    ).rejects.toMatchObject({
      _tag: "InvalidArgument",
      argument: "eventVersions",
      message: "eventVersions.SessionVerified has no upcaster from version 2 to 3",
    })
  })
})
