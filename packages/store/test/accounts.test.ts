/**
 * The account in the record (issue 13, item 1): every event's metadata names the session's
 * Stripe account and mode, every session row its account, and the paged session queries read one
 * account (and mode) when asked. Data recorded before accounts is the default account's.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { decodeStripeEvent, factsOf, type Observe, type SessionCommand } from "@idtrail/domain"
import { Result } from "effect"
import { sql } from "kysely"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { connect } from "../src/database.ts"
import { migrate } from "../src/migrations.ts"
import { openStore, type PromiseStore } from "../src/promise.ts"
import {
  actor,
  backends,
  dbOf,
  freshSchema,
  metadata,
  observation,
  openTestStore,
  snapshot,
} from "./fixtures.ts"

const through = (account: string, command: SessionCommand): Observe => ({
  ...(command as Observe),
  account,
})

const rowsOf = async (store: PromiseStore, schema: string) =>
  (
    await sql<{ session_id: string; account: string; livemode: boolean | null }>`
      select session_id, account, livemode from ${sql.table(`${schema}.verification_sessions`)}
      order by session_id`.execute(dbOf(store))
  ).rows

const metadataOf = async (store: PromiseStore, schema: string, sessionId: string) =>
  (
    await sql<{ metadata: Record<string, unknown> }>`
      select metadata from ${sql.table(`${schema}.events`)} where stream_id = ${sessionId}
      order by stream_version`.execute(dbOf(store))
  ).rows.map((r) => r.metadata)

describe.each(backends)("accounts in the store ($name)", ({ databaseUrl }) => {
  let store: Awaited<ReturnType<typeof openTestStore>>
  let schema: string
  beforeAll(async () => {
    schema = freshSchema()
    store = await openTestStore(databaseUrl, { schema })
    // default: one test session, one live; second (a platform account); a connected account.
    await store.handle("vs_d1", observation(snapshot("vs_d1", "requires_input"), 100), { actor })
    await store.handle(
      "vs_d2",
      through("default", observation(snapshot("vs_d2", "requires_input", { livemode: true }), 100)),
      { actor },
    )
    await store.handle(
      "vs_s1",
      through("second", observation(snapshot("vs_s1", "requires_input", { created: 1_760_000_100 }), 100)),
      { actor },
    )
    await store.handle(
      "vs_c1",
      through("acct_1Conn", observation(snapshot("vs_c1", "verified", { created: 1_760_000_200 }), 100)),
      { actor },
    )
  }, 60_000)
  afterAll(async () => {
    await store?.dispose()
  })

  it("every event's metadata carries the account the observation was seen through and the session's livemode", async () => {
    expect(await metadataOf(store, schema, "vs_d1")).toEqual([
      expect.objectContaining({ account: "default", livemode: false }),
    ])
    expect(await metadataOf(store, schema, "vs_d2")).toEqual([
      expect.objectContaining({ account: "default", livemode: true }),
    ])
    expect(await metadataOf(store, schema, "vs_c1")).toEqual([
      expect.objectContaining({ account: "acct_1Conn", livemode: false }),
    ])
  })

  it("a request (no account of its own) is recorded under its session's account", async () => {
    await store.handle("vs_s1", { _tag: "RequestCancel", sessionId: "vs_s1", requestedAt: 150 }, { actor })
    const last = (await metadataOf(store, schema, "vs_s1")).at(-1)
    expect(last).toMatchObject({ source: "local", account: "second", livemode: false })
  })

  it("every session row holds its account, and its state says the same", async () => {
    expect(await rowsOf(store, schema)).toEqual([
      { session_id: "vs_c1", account: "acct_1Conn", livemode: false },
      { session_id: "vs_d1", account: "default", livemode: false },
      { session_id: "vs_d2", account: "default", livemode: true },
      { session_id: "vs_s1", account: "second", livemode: false },
    ])
    expect((await store.state("vs_c1")).account).toBe("acct_1Conn")
  })

  it("an observation through another account is refused with AccountMismatch and nothing is written", async () => {
    const before = await metadataOf(store, schema, "vs_d1")
    await expect(
      store.handle("vs_d1", through("second", observation(snapshot("vs_d1", "processing"), 200, "api")), {
        actor,
      }),
    ).rejects.toMatchObject({ _tag: "AccountMismatch", recorded: "default", observed: "second" })
    expect(await metadataOf(store, schema, "vs_d1")).toEqual(before)
    expect((await store.state("vs_d1")).facts?.status).toBe("requires_input")
  })

  it("unsettled sessions: one account's, one mode's, or every account's", async () => {
    const ids = async (filter: { account?: string; livemode?: boolean }) =>
      (await store.sessions.unsettled({ after: null, limit: 100, ...filter })).map((s) => s.sessionId)
    expect(await ids({})).toEqual(["vs_d1", "vs_d2"].concat(await ids({ account: "second" })))
    expect(await ids({ account: "default" })).toEqual(["vs_d1", "vs_d2"])
    expect(await ids({ account: "default", livemode: true })).toEqual(["vs_d2"])
    expect(await ids({ account: "acct_1Conn" })).toEqual([]) // verified: settled
    expect(await ids({ account: "nobody" })).toEqual([])
  })

  it("sessions created in a window: one account's only when asked", async () => {
    const ids = async (filter: { account?: string; livemode?: boolean }) =>
      (await store.sessions.createdBetween({ from: 0, to: null, limit: 100, ...filter })).map((s) => s.id)
    expect(await ids({})).toEqual(["vs_c1", "vs_s1", "vs_d2", "vs_d1"])
    expect(await ids({ account: "acct_1Conn" })).toEqual(["vs_c1"])
    expect(await ids({ account: "default" })).toEqual(["vs_d2", "vs_d1"])
    expect(await ids({ account: "default", livemode: false })).toEqual(["vs_d1"])
  })

  it("observe records a Connect event (top-level account) under its connected account", async () => {
    const decoded = decodeStripeEvent({
      id: "evt_conn_1",
      object: "event",
      type: "identity.verification_session.created",
      created: 100,
      livemode: false,
      api_version: "2026-07-29.dahlia",
      account: "acct_1Other",
      data: { object: snapshot("vs_c2", "requires_input") },
    })
    if (Result.isFailure(decoded) || "_tag" in decoded.success) throw new Error("bad fixture")
    await store.observe(decoded.success, { actor })
    expect((await store.state("vs_c2")).account).toBe("acct_1Other")
    expect(await metadataOf(store, schema, "vs_c2")).toEqual([
      expect.objectContaining({ account: "acct_1Other", stripeEventId: "evt_conn_1" }),
    ])
  })

  it("a filter that is not an account key or a mode is refused with InvalidArgument", async () => {
    await expect(store.sessions.unsettled({ after: null, limit: 10, account: "" })).rejects.toMatchObject({
      _tag: "InvalidArgument",
      argument: "account",
    })
    await expect(
      store.sessions.createdBetween({ from: 0, to: null, limit: 10, livemode: "yes" as unknown as boolean }),
    ).rejects.toMatchObject({ _tag: "InvalidArgument", argument: "livemode" })
  })
})

describe.each(backends)("data recorded before accounts ($name)", ({ databaseUrl }) => {
  const dataDir = databaseUrl === undefined ? mkdtempSync(join(tmpdir(), "idtrail-accounts-")) : undefined
  afterAll(() => {
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true })
  })

  it("a schema migrated before 0014, with sessions, reads as the default account's after the upgrade", async () => {
    const schema = freshSchema()
    const old = await connect({ databaseUrl, dataDir })
    try {
      await migrate(old.db, schema, { to: "0013_session_keys" })
      // Written as the code before accounts wrote it: no account in the event, state or metadata.
      const facts = factsOf(snapshot("vs_old", "requires_input"))
      const started = {
        _tag: "SessionStarted",
        sessionId: "vs_old",
        at: 100,
        source: "webhook",
        stripeEventType: null,
        midLife: false,
        facts,
      }
      const state = {
        sessionId: "vs_old",
        version: 1,
        facts,
        lastChangeAt: 100,
        needsRefresh: false,
        capturedOutputs: [],
        confirmedAt: null,
      }
      await sql`select * from ${sql.raw(`"${schema}"`)}.append_to_stream('vs_old', 0, null,
        ${JSON.stringify([started])}::jsonb, ${JSON.stringify(metadata())}::jsonb,
        ${JSON.stringify(state)}::jsonb)`.execute(old.db)
    } finally {
      await old.close()
    }
    const store = await openStore({ databaseUrl, dataDir, schema })
    try {
      expect(await rowsOf(store, schema)).toEqual([
        { session_id: "vs_old", account: "default", livemode: false },
      ])
      expect(
        (await store.sessions.unsettled({ after: null, limit: 10, account: "default" })).map(
          (s) => s.sessionId,
        ),
      ).toEqual(["vs_old"])
      expect(await store.sessions.unsettled({ after: null, limit: 10, account: "second" })).toEqual([])
      // Its state has no account key: it is the default account's.
      await expect(
        store.handle("vs_old", through("second", observation(snapshot("vs_old", "processing"), 200)), {
          actor,
        }),
      ).rejects.toMatchObject({ _tag: "AccountMismatch", recorded: "default" })
      const result = await store.handle(
        "vs_old",
        through("default", observation(snapshot("vs_old", "processing"), 200)),
        { actor },
      )
      expect(result._tag).toBe("EventsAppended")
    } finally {
      await sql.raw(`drop schema if exists "${schema}" cascade`).execute(dbOf(store))
      await store.close()
    }
  }, 60_000)
})
