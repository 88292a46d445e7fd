import { fold, type SessionEvent, type SessionState } from "@idtrail/domain"
import { sql } from "kysely"
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { AppendResult } from "../src/index.ts"
import { backends, dbOf, metadata, openTestStore } from "./fixtures.ts"

const submitted = (sessionId: string, at: number): SessionEvent => ({
  _tag: "SessionSubmitted",
  sessionId,
  at,
})
const canceled = (sessionId: string, at: number): SessionEvent => ({ _tag: "SessionCanceled", sessionId, at })

describe.each(backends)("group commit on $name: appends made at once share commits", ({ databaseUrl }) => {
  let store: Awaited<ReturnType<typeof openTestStore>>
  beforeAll(async () => {
    store = await openTestStore(databaseUrl)
  })
  afterAll(async () => {
    await store?.dispose()
  })
  const table = (name: string) => sql.raw(`"${store.schema}".${name}`)
  /** How many transactions wrote the streams' events. */
  const transactionsOf = async (streams: ReadonlyArray<string>) =>
    Number(
      (
        await sql<{ n: string }>`select count(distinct transaction_id) as n from ${table("events")}
          where stream_id = any(${streams})`.execute(dbOf(store))
      ).rows[0]!.n,
    )
  const append = (
    stream: string,
    events: ReadonlyArray<SessionEvent>,
    expectedVersion: number,
    stripeEventId?: string,
  ) =>
    store.appendToStream(stream, events, {
      expectedVersion,
      stripeEventId,
      metadata: metadata({ stripeEventId: stripeEventId ?? null }),
    })

  it("concurrent appends each get their own outcome (appended, duplicate, conflict), in fewer transactions than appends", async () => {
    await append("vs_gc_dup", [submitted("vs_gc_dup", 1)], 0, "evt_gc_dup")
    await append("vs_gc_old", [submitted("vs_gc_old", 1)], 0)
    const fresh = Array.from({ length: 20 }, (_, i) => `vs_gc_${i}`)
    const results = await Promise.all([
      ...fresh.map((s, i) => append(s, [submitted(s, 1)], 0, `evt_gc_${i}`)),
      append("vs_gc_dup", [canceled("vs_gc_dup", 2)], 1, "evt_gc_dup"),
      append("vs_gc_old", [canceled("vs_gc_old", 2)], 0),
    ])
    expect(results.slice(0, 20).map((r) => r._tag)).toEqual(Array(20).fill("Appended"))
    expect(results[20]).toEqual({ _tag: "Duplicate", stripeEventId: "evt_gc_dup" })
    expect(results[21]).toEqual({ _tag: "VersionConflict", expected: 0, actual: 1 })
    // Every append's positions are its own events' positions.
    const positions = results.slice(0, 20).flatMap((r) => (r._tag === "Appended" ? r.positions : []))
    const stored = await sql<{
      stream_id: string
      position: string
    }>`select stream_id, position from ${table("events")}
      where stream_id = any(${fresh}) order by position`.execute(dbOf(store))
    expect(stored.rows.map((r) => Number(r.position)).sort((a, b) => a - b)).toEqual(
      [...positions].sort((a, b) => a - b),
    )
    for (const [i, r] of results.slice(0, 20).entries()) {
      const own = stored.rows.find(
        (row) => Number(row.position) === (r as Extract<AppendResult, { _tag: "Appended" }>).positions[0],
      )
      expect(own?.stream_id).toBe(fresh[i])
    }
    expect(await transactionsOf(fresh)).toBeLessThan(20)
    // The losers wrote nothing.
    expect((await store.readStream("vs_gc_dup")).map((e) => e.event._tag)).toEqual(["SessionSubmitted"])
    expect((await store.readStream("vs_gc_old")).map((e) => e.event._tag)).toEqual(["SessionSubmitted"])
  })

  it("appends to one stream issued back to back, without waiting, keep their order in one commit", async () => {
    const start = [submitted("vs_gc_seq", 1)]
    const first = append("vs_gc_seq", start, 0)
    const second = store.appendToStream("vs_gc_seq", [canceled("vs_gc_seq", 2)], {
      expectedVersion: 1,
      state: fold(start),
      metadata: metadata(),
    })
    expect((await first)._tag).toBe("Appended")
    expect(await second).toMatchObject({ _tag: "Appended", nextVersion: 2 })
    expect((await store.readStream("vs_gc_seq")).map((e) => [e.streamVersion, e.event._tag])).toEqual([
      [1, "SessionSubmitted"],
      [2, "SessionCanceled"],
    ])
    expect((await store.state("vs_gc_seq")).version).toBe(2)
  })

  it("an append the database refuses fails alone: the others of its group are stored", async () => {
    // A trigger plays a database that refuses one stream's events (a constraint the store does not know).
    await sql
      .raw(`create function "${store.schema}".refuse_poison() returns trigger language plpgsql as $$
        begin
          if new.stream_id = 'vs_gc_poison' then raise exception 'poison refused' using errcode = '23514'; end if;
          return new;
        end $$;
        create trigger refuse_poison before insert on "${store.schema}".events
          for each row execute function "${store.schema}".refuse_poison();`)
      .execute(dbOf(store))
    try {
      const streams = ["vs_gc_a", "vs_gc_poison", "vs_gc_b", "vs_gc_c"]
      const settled = await Promise.allSettled(streams.map((s) => append(s, [submitted(s, 1)], 0)))
      expect(settled.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled", "fulfilled"])
      expect((settled[1] as PromiseRejectedResult).reason).toMatchObject({
        _tag: "StoreFailure",
        message: expect.stringMatching(/poison refused/),
      })
      for (const s of ["vs_gc_a", "vs_gc_b", "vs_gc_c"]) expect(await store.readStream(s)).toHaveLength(1)
      expect(await store.readStream("vs_gc_poison")).toEqual([])
      expect((await store.state("vs_gc_poison")).version).toBe(0)
    } finally {
      await sql.raw(`drop trigger refuse_poison on "${store.schema}".events`).execute(dbOf(store))
    }
  })

  it("a batch locks its session rows by key: it reads none of the other sessions' rows, even on a connection whose plans were made while the table was small", async () => {
    // PL/pgSQL keeps each statement's plan for the connection's life. A lock statement planned as a
    // sequential scan on a small table would read every session row in every later batch (issue 9:
    // group commit at 8 clients fell to 0.2-0.4x the same work written by hand).
    // One transaction (one connection, so one plan cache), rolled back at the end.
    let readRows = -1
    const rollback = new Error("rolled back on purpose")
    const done = dbOf(store)
      .transaction()
      .execute(async (trx) => {
        let call = 0
        const batch = () => {
          const streams = Array.from({ length: 8 }, (_, i) => `vs_gc_plan_${call}_${i}`)
          call++
          const events = streams.map((s) => JSON.stringify(submitted(s, 1)))
          const column = <A>(value: A) => streams.map(() => value)
          return sql`select outcome from ${table("append_batch")}(
            ${streams}::text[], ${column(0)}::bigint[], ${column(null)}::text[],
            ${column("SessionSubmitted")}::text[], ${events}::jsonb[], ${column("{}")}::jsonb[],
            ${column("{}")}::json[], ${column(null)}::text[], ${column(null)}::text[], ${column(null)}::text[],
            ${column(null)}::text[], ${column(false)}::boolean[], ${column(null)}::bigint[],
            ${column("{}")}::jsonb[], ${column(false)}::boolean[], ${column(null)}::bigint[],
            ${column(null)}::bigint[], ${column(null)}::bigint[])`.execute(trx)
        }
        // Past the five custom plans, the plan cache settles on one plan while the table is small.
        for (let i = 0; i < 8; i++) {
          const answer = await batch()
          expect(answer.rows.map((r) => (r as { outcome: string }).outcome)).toEqual(
            Array(8).fill("appended"),
          )
        }
        // Then the table grows, with no analyze: the cached plans stay.
        await sql`insert into ${table("verification_sessions")} (session_id, version, state)
          select 'vs_gc_grown_' || g, 1, '{}'::json from generate_series(1, 5000) g`.execute(trx)
        const seqRead = async () =>
          Number(
            (
              await sql<{ n: string }>`select coalesce(seq_tup_read, 0) as n from pg_stat_xact_user_tables
                where relid = ${`"${store.schema}".verification_sessions`}::regclass`.execute(trx)
            ).rows[0]?.n ?? 0,
          )
        const before = await seqRead()
        await batch()
        readRows = (await seqRead()) - before
        throw rollback
      })
    await expect(done).rejects.toBe(rollback)
    expect(readRows).toBe(0)
  })
})

const databaseUrl = process.env.DATABASE_URL

describe.skipIf(!databaseUrl)(
  "group commit on postgres: one held session row delays only its own session",
  () => {
    let store: Awaited<ReturnType<typeof openTestStore>>
    let holder: pg.Client
    beforeAll(async () => {
      store = await openTestStore(databaseUrl, { poolSize: 20 })
      holder = new pg.Client({ connectionString: databaseUrl })
      await holder.connect()
    })
    afterAll(async () => {
      await holder?.end()
      await store?.dispose()
    })
    const start = (stream: string) =>
      store.appendToStream(stream, [submitted(stream, 1)], { expectedVersion: 0, metadata: metadata() })
    // With the state given, an append goes to the group commit in the turn it is made (without it,
    // the store reads the state first, and two reads may come back in either order).
    const cancel = (stream: string, expectedVersion: number, state?: SessionState) =>
      store.appendToStream(stream, [canceled(stream, 2 + expectedVersion)], {
        expectedVersion,
        metadata: metadata(),
        ...(state === undefined ? {} : { state }),
      })
    /** Holds the session rows of `streams` in another connection's open transaction. */
    const hold = async (streams: ReadonlyArray<string>) => {
      await holder.query("begin")
      await holder.query(
        `select 1 from "${store.schema}".verification_sessions where session_id = any($1) for update`,
        [streams],
      )
    }
    /** Tracks when a promise settles, in the order promises settle. */
    const settledOrder: Array<string> = []
    const track = <A>(name: string, promise: Promise<A>): Promise<A> =>
      promise.finally(() => settledOrder.push(name))
    const within = <A>(promise: Promise<A>, ms: number): Promise<A | "still waiting"> =>
      Promise.race([promise, new Promise<"still waiting">((r) => setTimeout(() => r("still waiting"), ms))])

    it("appends for other sessions complete while two appends wait on a held row, whether sent with them or after", async () => {
      const others = Array.from({ length: 30 }, (_, i) => `vs_held_other_${i}`)
      await start("vs_held")
      const atOne = await store.state("vs_held")
      await hold(["vs_held"])
      settledOrder.length = 0
      try {
        // Two appends for the held session, one after the other, then 30 for others: some in the
        // same turn as a held append (one batch), the rest after.
        const held1 = track("held", cancel("vs_held", 1, atOne))
        const held2 = track("held", cancel("vs_held", 1, atOne))
        const sameTurn = others.slice(0, 10).map((s) => track("other", start(s)))
        await new Promise((r) => setTimeout(r, 20))
        const later = others.slice(10).map((s) => track("other", start(s)))
        const all = await within(Promise.all([...sameTurn, ...later]), 15_000)
        expect(all).not.toBe("still waiting")
        expect(settledOrder).toEqual(Array(30).fill("other"))
        await holder.query("commit")
        // The held session's appends go on in the order they were made: the first wins, the second conflicts.
        expect((await held1)._tag).toBe("Appended")
        expect(await held2).toEqual({ _tag: "VersionConflict", expected: 1, actual: 2 })
        for (const s of others) expect(await store.readStream(s)).toHaveLength(1)
      } finally {
        await holder.query("rollback").catch(() => {})
      }
    })

    it("two held sessions with an append each, sent alone, do not take every slot from the others", async () => {
      const heldStreams = ["vs_held_a", "vs_held_b"]
      for (const s of heldStreams) await start(s)
      await hold(heldStreams)
      settledOrder.length = 0
      try {
        // Each held append goes alone (two calls: every slot of maxInFlight = 2).
        const a = track("held", cancel("vs_held_a", 1))
        await new Promise((r) => setTimeout(r, 5))
        const b = track("held", cancel("vs_held_b", 1))
        await new Promise((r) => setTimeout(r, 5))
        const others = Array.from({ length: 30 }, (_, i) => track("other", start(`vs_held_slots_${i}`)))
        expect(await within(Promise.all(others), 15_000)).not.toBe("still waiting")
        expect(settledOrder).toEqual(Array(30).fill("other"))
        await holder.query("commit")
        expect((await a)._tag).toBe("Appended")
        expect((await b)._tag).toBe("Appended")
      } finally {
        await holder.query("rollback").catch(() => {})
      }
    })
  },
)

describe.skipIf(!databaseUrl)("group commit on postgres: stalled calls and the pool", () => {
  it("calls released while stalled stay below the pool's size: with five held sessions and a pool of 4, no append fails for want of a connection", async () => {
    const store = await openTestStore(databaseUrl, { poolSize: 4, connectTimeoutMs: 1000 })
    const holder = new pg.Client({ connectionString: databaseUrl })
    await holder.connect()
    try {
      const held = Array.from({ length: 5 }, (_, i) => `vs_pool_held_${i}`)
      for (const s of held)
        await store.appendToStream(s, [submitted(s, 1)], { expectedVersion: 0, metadata: metadata() })
      await holder.query("begin")
      await holder.query(
        `select 1 from "${store.schema}".verification_sessions where session_id = any($1) for update`,
        [held],
      )
      const appends: Array<Promise<unknown>> = []
      // One lone append per held session, then others: more stalled calls than the pool has room for.
      for (const s of held) {
        appends.push(store.appendToStream(s, [canceled(s, 2)], { expectedVersion: 1, metadata: metadata() }))
        await new Promise((r) => setTimeout(r, 5))
      }
      for (let i = 0; i < 10; i++) {
        const s = `vs_pool_other_${i}`
        appends.push(store.appendToStream(s, [submitted(s, 1)], { expectedVersion: 0, metadata: metadata() }))
      }
      const all = Promise.allSettled(appends)
      // Longer than a connection may be waited for (connectTimeoutMs).
      await new Promise((r) => setTimeout(r, 2500))
      await holder.query("commit")
      const settled = await all
      expect(
        settled.filter((r) => r.status === "rejected").map((r) => (r as PromiseRejectedResult).reason),
      ).toEqual([])
      expect(settled.map((r) => (r as PromiseFulfilledResult<{ _tag: string }>).value._tag)).toEqual(
        Array(15).fill("Appended"),
      )
    } finally {
      await holder.query("rollback").catch(() => {})
      await holder.end()
      await store.dispose()
    }
  })
})
