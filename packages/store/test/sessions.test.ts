/**
 * The projection's paged queries (`store.sessions`), checked against what the test itself
 * delivered: which sessions are unsettled, and which were created in a window, page by page.
 */
import { Effect } from "effect"
import { sql } from "kysely"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { contextOf } from "../src/context.ts"
import type { CreatedSession } from "../src/index.ts"
import { sessions } from "../src/sessions.ts"
import { actor, backends, dbOf, observation, openTestStore, snapshot } from "./fixtures.ts"

const base = 1_770_000_000

interface Planned {
  readonly id: string
  readonly created: number
  readonly status: string
  /**
   * A webhook with a status the domain does not know: the session waits for a refresh (only an
   * authoritative read clears it), even once it reaches a final status.
   */
  readonly unknownStatusSeen: boolean
}

// Created times repeat (several sessions in one second), so pages must break ties by id.
const plans: ReadonlyArray<Planned> = Array.from({ length: 45 }, (_, i) => ({
  id: `vs_page_${String((i * 17) % 45).padStart(2, "0")}`,
  created: base + Math.floor(i / 3) * 60,
  status: ["requires_input", "processing", "verified", "canceled", "verified"][i % 5]!,
  unknownStatusSeen: i % 7 === 2,
}))

const settled = (p: Planned) => (p.status === "verified" || p.status === "canceled") && !p.unknownStatusSeen

/** Every page of `fetch`, following each page's last item, until a short page. */
const allPages = async <T>(limit: number, fetch: (after: T | null) => Promise<ReadonlyArray<T>>) => {
  const pages: Array<ReadonlyArray<T>> = []
  for (let after: T | null = null; ; ) {
    const page = await fetch(after)
    pages.push(page)
    if (page.length < limit) return pages
    after = page.at(-1)!
  }
}

describe.each(backends)("session queries on $name", ({ databaseUrl }) => {
  let store: Awaited<ReturnType<typeof openTestStore>>

  beforeAll(async () => {
    store = await openTestStore(databaseUrl)
    for (const p of plans) {
      const start = snapshot(p.id, "requires_input", { created: p.created })
      await store.handle(p.id, observation(start, p.created), { actor })
      const path =
        p.status === "requires_input"
          ? []
          : p.status === "canceled"
            ? ["canceled"]
            : p.status === "processing"
              ? ["processing"]
              : ["processing", "verified"]
      let at = p.created
      const deliver = (status: string) => {
        at += 30
        return store.handle(p.id, observation(snapshot(p.id, status, { created: p.created }), at), { actor })
      }
      // The unknown status comes before the final one: a final session ignores webhooks.
      if (p.unknownStatusSeen) await deliver("awaiting_something_new")
      for (const status of path) await deliver(status)
    }
  }, 60_000)
  afterAll(async () => {
    await store?.dispose()
  })

  it("the delivered sessions are what the test planned: statuses, and a refresh awaited after an unknown status", async () => {
    for (const p of plans) {
      const state = await store.state(p.id)
      expect(state.facts?.status).toBe(p.status)
      expect(state.needsRefresh).toBe(p.unknownStatusSeen)
    }
  })

  it("unsettled: every session not final or awaiting a refresh, once, in id order, across pages of 4", async () => {
    const pages = await allPages<string>(4, async (after) =>
      (await store.sessions.unsettled({ after, limit: 4 })).map((row) => row.sessionId),
    )
    const expected = plans
      .filter((p) => !settled(p))
      .map((p) => p.id)
      .sort()
    expect(pages.flat()).toEqual(expected)
    expect(pages.slice(0, -1).every((page) => page.length === 4)).toBe(true)
    // A settled session is never listed; one awaiting a refresh is, whatever its status.
    expect(expected.length).toBeGreaterThan(0)
    expect(plans.some((p) => p.unknownStatusSeen && p.status === "verified")).toBe(true)
  })

  it("unsettled rows carry Stripe's created, the newest authoritative read handled, and a refresh awaited", async () => {
    const rows = await store.sessions.unsettled({ after: null, limit: 10_000 })
    for (const row of rows) {
      const p = plans.find((plan) => plan.id === row.sessionId)!
      expect(row).toEqual({
        sessionId: p.id,
        created: p.created,
        confirmedAt: null,
        needsRefresh: p.unknownStatusSeen,
      })
    }
    const open = rows.find((row) => !row.needsRefresh)!
    const state = await store.state(open.sessionId)
    const read = snapshot(open.sessionId, state.facts!.status, { created: open.created! })
    await store.handle(open.sessionId, observation(read, base + 50_000, "reconciler"), { actor })
    const [again] = await store.sessions
      .unsettled({ after: null, limit: 10_000 })
      .then((all) => all.filter((row) => row.sessionId === open.sessionId))
    expect(again).toEqual({ ...open, confirmedAt: base + 50_000 })
  })

  it("createdBetween: the sessions of a window, newest first (ties by id, descending), across pages of 4", async () => {
    const windows: ReadonlyArray<readonly [number, number | null]> = [
      [base + 120, base + 600],
      [base, null],
      [base + 60, base + 60],
      [base + 10_000, null],
    ]
    for (const [from, to] of windows) {
      const pages = await allPages<CreatedSession>(4, (after) =>
        store.sessions.createdBetween({ from, to, after, limit: 4 }),
      )
      const expected = plans
        .filter((p) => p.created >= from && (to === null || p.created <= to))
        .sort((a, b) => b.created - a.created || (a.id < b.id ? 1 : -1))
        .map((p) => ({ id: p.id, created: p.created }))
      expect(pages.flat()).toEqual(expected)
    }
  })

  it("createdBetween: a session to start after that lies above the window bounds nothing more", async () => {
    const within = await store.sessions.createdBetween({
      from: base + 120,
      to: base + 600,
      after: null,
      limit: 100,
    })
    const above = await store.sessions.createdBetween({
      from: base + 120,
      to: base + 600,
      after: { id: "vs_zzzz", created: base + 10_000 },
      limit: 100,
    })
    expect(within.length).toBeGreaterThan(0)
    expect(above).toEqual(within)
  })

  it.each([
    ["a limit of 0", () => store.sessions.unsettled({ after: null, limit: 0 }), "limit"],
    ["a limit above 10,000", () => store.sessions.unsettled({ after: null, limit: 10_001 }), "limit"],
    ["a fractional limit", () => store.sessions.createdBetween({ from: 0, to: null, limit: 2.5 }), "limit"],
    [
      "a from that is not a number",
      () => store.sessions.createdBetween({ from: Number.NaN, to: null, limit: 5 }),
      "from",
    ],
    [
      "a window that ends before it starts",
      () => store.sessions.createdBetween({ from: 10, to: 5, limit: 5 }),
      "to",
    ],
    [
      "an after without its created time",
      () =>
        store.sessions.createdBetween({
          from: 0,
          to: null,
          after: { id: "vs_1" } as CreatedSession,
          limit: 5,
        }),
      "after",
    ],
  ])("%s is refused with InvalidArgument naming the argument", async (_, call, argument) => {
    await expect(call()).rejects.toMatchObject({ _tag: "InvalidArgument", argument })
  })
})

describe.each(backends)(
  "createdBetween on $name: a window's page reads only that window",
  ({ databaseUrl }) => {
    let store: Awaited<ReturnType<typeof openTestStore>>
    beforeAll(async () => {
      store = await openTestStore(databaseUrl)
    })
    afterAll(async () => {
      await store?.dispose()
    })

    // A sweep compares windows newest first, so every session newer than the window is already
    // recorded. A page that walked the index down from the newest session read all of them: in a
    // 1,000,000-session sweep each page took ~150 ms by its middle, and the sweep slowed steadily.
    it.each([
      ["the first page of a window", null],
      ["a page after another", { id: "vs_win_2", created: 1_000 }],
    ] as const)("%s reads the index pages of the window only, not the newer sessions'", async (_, after) => {
      const index = (name: string) => `"${store.schema}".${name}`
      const rollback = new Error("rolled back on purpose")
      let read = -1
      let found: ReadonlyArray<CreatedSession> = []
      // One transaction, so its own statistics count what the query read; rolled back at the end.
      const done = dbOf(store)
        .transaction()
        .execute(async (trx) => {
          await sql`insert into ${sql.raw(index("verification_sessions"))} (session_id, version, state, created)
          select 'vs_newer_' || g, 1, '{}'::json, to_timestamp(2000000000 + g)
            from generate_series(1, 20000) g
          union all
          select 'vs_win_' || g, 1, '{}'::json, to_timestamp(1000) from generate_series(1, 3) g`.execute(trx)
          const pagesRead = async () =>
            Number(
              (
                await sql<{ n: string }>`select sum(pg_stat_get_xact_blocks_fetched(i.indexrelid)) as n
                from pg_index i where i.indrelid = ${index("verification_sessions")}::regclass`.execute(trx)
              ).rows[0]!.n,
            )
          const before = await pagesRead()
          found = await Effect.runPromise(
            sessions({ ...contextOf(store), db: trx }).createdBetween({
              from: 900,
              to: 1_100,
              after,
              limit: 100,
              account: "default",
            }),
          )
          read = (await pagesRead()) - before
          throw rollback
        })
      await expect(done).rejects.toBe(rollback)
      expect(found.map((s) => s.id)).toEqual(
        after === null ? ["vs_win_3", "vs_win_2", "vs_win_1"] : ["vs_win_1"],
      )
      // 20,000 newer entries fill about 150 leaf pages; the window is on one or two.
      expect(read).toBeLessThan(10)
    })
  },
)
