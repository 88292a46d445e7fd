import { Effect, Stream } from "effect"
import { sql } from "kysely"
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Projection, ProjectionOptions } from "../src/index.ts"
import { actor, backends, dbOf, observation, openTestStore, snapshot } from "./fixtures.ts"

type Store = Awaited<ReturnType<typeof openTestStore>>

/** A read model counting events by type, in a table of its own. */
const eventsByType = (store: Store, name = "events_by_type", failOn?: string): Projection => {
  const table = sql.raw(`"${store.schema}".${name}`)
  return {
    name,
    apply: async (tx, events) => {
      for (const e of events) {
        await sql`insert into ${table} (type, count) values (${e.event._tag}, 1)
          on conflict (type) do update set count = ${table}.count + 1`.execute(tx)
        if (e.event._tag === failOn) throw new Error(`the projection cannot handle ${failOn}`)
      }
    },
    truncate: async (tx) => {
      await sql`truncate ${table}`.execute(tx)
    },
  }
}

const rowsOf = async (store: Store, query: string) =>
  (await sql.raw<Record<string, unknown>>(query).execute(dbOf(store))).rows

/** Sessions moving through their lifecycle, by the decider. */
const lifecycle = async (store: Store, id: string, statuses: ReadonlyArray<string>) => {
  for (const [i, status] of statuses.entries()) {
    const at = 110 + 10 * i
    await store.handle(id, observation(snapshot(id, status), at, "webhook", `evt_${id}_${at}`), { actor })
  }
}

/** Sleeps `ms` milliseconds. */
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Catches up until nothing is held back: on a shared server another session's open transaction
 * may hide committed events for a while, and the result says so. Sums the events applied.
 */
const catchUpFully = async (store: Store, projection: Projection, options?: ProjectionOptions) => {
  let events = 0
  for (;;) {
    const result = await store.catchUp(projection, options)
    events += result.events
    if (result.heldBack === undefined) return { ...result, events }
    await pause(20)
  }
}

describe.each(backends)("projections on $name", ({ databaseUrl }) => {
  let store: Store
  beforeAll(async () => {
    store = await openTestStore(databaseUrl)
    for (const name of ["events_by_type", "failing"]) {
      await sql
        .raw(`create table "${store.schema}".${name} (type text primary key, count bigint not null)`)
        .execute(dbOf(store))
    }
    await lifecycle(store, "vs_p1", ["requires_input", "processing", "verified"])
    await lifecycle(store, "vs_p2", ["requires_input", "processing", "requires_input", "canceled"])
    await lifecycle(store, "vs_p3", ["processing"])
    // A failed check, merchant metadata and a redaction: every projected column takes a value.
    const failed = snapshot("vs_p9", "requires_input", {
      last_error: { code: "document_expired", reason: "The document is expired." },
      metadata: { order: "42" },
    })
    await store.handle("vs_p9", observation(snapshot("vs_p9", "processing"), 100, "api"), { actor })
    await store.handle("vs_p9", observation(failed, 120, "webhook", "evt_p9_failed"), { actor })
    // One event per step, so the last row comes from the one-event append (append_one).
    await store.handle("vs_p9", observation({ ...failed, status: "canceled" }, 130, "api"), { actor })
    await store.handle(
      "vs_p9",
      observation({ ...failed, status: "canceled", redaction: { status: "processing" } }, 140, "api"),
      { actor },
    )
  })
  afterAll(async () => {
    await store?.dispose()
  })
  const counts = () => rowsOf(store, `select type, count from "${store.schema}".events_by_type order by type`)

  /** The counts an independent fold of every stream gives. */
  const expectedCounts = async (ids: ReadonlyArray<string>) => {
    const byType = new Map<string, number>()
    for (const id of ids)
      for (const e of await store.readStream(id))
        byType.set(e.event._tag, (byType.get(e.event._tag) ?? 0) + 1)
    return [...byType]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([type, count]) => ({ type, count: String(count) }))
  }

  it("catchUp applies every event once and saves the checkpoint; a second catchUp applies nothing", async () => {
    const expected = await expectedCounts(["vs_p1", "vs_p2", "vs_p3", "vs_p9"])
    const applied = await catchUpFully(store, eventsByType(store), { batchSize: 3 })
    expect(applied.events).toBe(expected.reduce((n, r) => n + Number(r.count), 0))
    expect(await counts()).toEqual(expected)
    expect(await store.checkpoint("events_by_type")).not.toBeNull()
    expect(await store.checkpoint("events_by_type")).toEqual(applied.checkpoint)
    expect(applied.lagMs).toBe(0)
    expect((await catchUpFully(store, eventsByType(store))).events).toBe(0)
  })

  it("a batch that fails leaves neither its rows nor its checkpoint behind", async () => {
    const failing = eventsByType(store, "failing", "SessionVerified")
    await expect(catchUpFully(store, failing, { batchSize: 100 })).rejects.toMatchObject({
      _tag: "StoreFailure",
    })
    expect(await rowsOf(store, `select * from "${store.schema}".failing`)).toEqual([])
    expect(await store.checkpoint("failing")).toBeNull()
  })

  it("the subscription applies new events as they are appended", async () => {
    const projection = eventsByType(store)
    const subscription = Effect.runPromise(
      Stream.runCollect(
        Stream.take(
          // A held-back report (0 events) may come first on a shared server.
          Stream.filter(
            store.service.subscribe(projection, { pollInterval: "10 millis" }),
            (p) => p.events > 0,
          ),
          1,
        ),
      ),
    )
    await lifecycle(store, "vs_p4", ["requires_input"])
    const [progress] = await subscription
    expect(progress).toMatchObject({ projection: "events_by_type", events: 1 })
    expect(await counts()).toEqual(await expectedCounts(["vs_p1", "vs_p2", "vs_p3", "vs_p4", "vs_p9"]))
  })

  it("replaying the log into a projection N times leaves the same rows (rebuild = truncate + replay)", async () => {
    const once = await counts()
    expect(once).toEqual(await expectedCounts(["vs_p1", "vs_p2", "vs_p3", "vs_p4", "vs_p9"]))
    const total = once.reduce((n: number, r) => n + Number(r.count), 0)
    for (let n = 0; n < 3; n++) {
      const replayed = await store.rebuild(eventsByType(store), { batchSize: 4 })
      expect(replayed + (await catchUpFully(store, eventsByType(store))).events).toBe(total)
      expect(await counts()).toEqual(once)
    }
  })

  it("the rows appends write equal the rows a rebuild writes, column by column, and rebuilding N times leaves the same rows", async () => {
    const sessions = () =>
      rowsOf(
        store,
        `select session_id, status, redaction_status, last_error_code, type, livemode, created, metadata, version,
                needs_refresh, last_change_at, state from "${store.schema}".verification_sessions order by session_id`,
      )
    const live = await sessions()
    expect(live).toHaveLength(5)
    expect(live.find((r) => r.session_id === "vs_p9")).toMatchObject({
      status: "canceled",
      redaction_status: "processing",
      last_error_code: "document_expired",
      metadata: { order: "42" },
    })
    for (let n = 0; n < 3; n++) {
      expect(await store.rebuild("verification_sessions", { batchSize: 2 })).toBe(5)
      expect(await sessions()).toEqual(live)
    }
  })
})

const databaseUrl = process.env.DATABASE_URL

describe.skipIf(!databaseUrl)("readers held back by an open transaction (postgres)", () => {
  let store: Store
  let holder: pg.Client
  beforeAll(async () => {
    store = await openTestStore(databaseUrl)
    await sql
      .raw(`create table "${store.schema}".events_by_type (type text primary key, count bigint not null)`)
      .execute(dbOf(store))
    // The holder works in another database of the cluster: it still holds every reader back.
    const url = new URL(databaseUrl!)
    url.pathname = "/postgres"
    holder = new pg.Client({ connectionString: url.toString() })
    await holder.connect()
  })
  afterAll(async () => {
    await holder?.end()
    await store?.dispose()
  })

  it("readAll, catchUp and the subscription say which transaction holds them back, then read on when it ends", async () => {
    await lifecycle(store, "vs_h1", ["requires_input"])
    const projection = eventsByType(store)
    await catchUpFully(store, projection)
    let before = (await store.readAll({ after: null, limit: 10_000 })).checkpoint
    while ((await store.readAll({ after: before, limit: 10_000 })).heldBack !== undefined) await pause(20)
    before = (await store.readAll({ after: before, limit: 10_000 })).checkpoint
    await holder.query("begin")
    try {
      const pid = (await holder.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]!.pid
      const open = BigInt(
        (await holder.query<{ xid: string }>("select pg_current_xact_id()::text as xid")).rows[0]!.xid,
      )
      await lifecycle(store, "vs_h2", ["requires_input"])
      const page = await store.readAll({ after: before, limit: 10 })
      expect(page.events.map((e) => e.streamId)).not.toContain("vs_h2")
      // On a shared server an even older transaction may be the one holding readers back.
      expect(page.heldBack?.transactionId).toBeLessThanOrEqual(open)
      expect(page.heldBack?.waitingMs).toBeGreaterThanOrEqual(0)
      if (page.heldBack?.transactionId === open) {
        expect(page.heldBack).toMatchObject({ pid, database: "postgres" })
        expect(page.heldBack.since).toBeInstanceOf(Date)
      }
      const caughtUp = await store.catchUp(projection)
      expect(caughtUp.events).toBe(0)
      expect(caughtUp.heldBack?.transactionId).toBeLessThanOrEqual(open)
      expect(caughtUp.lagMs).toBeGreaterThanOrEqual(0)
      const [report] = await Effect.runPromise(
        Stream.runCollect(Stream.take(store.service.subscribe(projection, { pollInterval: "10 millis" }), 1)),
      )
      expect(report).toMatchObject({ projection: "events_by_type", events: 0 })
      expect(report!.heldBack?.transactionId).toBeLessThanOrEqual(open)
      const pages: Array<number> = []
      for await (const p of store.readAllPages({ after: before, pageSize: 10 })) pages.push(p.events.length)
      expect(pages.at(-1)).toBe(0)
    } finally {
      await holder.query("commit")
    }
    const after = await catchUpFully(store, projection)
    expect(after.events).toBe(1)
    expect(after.lagMs).toBe(0)
  })
})
