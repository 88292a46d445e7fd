import { initialState, type SessionEvent } from "@idtrail/domain"
import { sql } from "kysely"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Checkpoint, openStore, type RecordedEvent } from "../src/index.ts"
import { backends, dbOf, metadata, openTestStore } from "./fixtures.ts"

const change = (sessionId: string, n: number): SessionEvent => ({
  _tag: "SessionUpdated",
  sessionId,
  at: 1_000 + n,
  changes: [{ field: "metadata", from: {}, to: { n: String(n) } }],
})

describe.each(backends)("reading on $name", ({ databaseUrl }) => {
  let store: Awaited<ReturnType<typeof openTestStore>>
  const positions: Array<number> = []
  beforeAll(async () => {
    store = await openTestStore(databaseUrl)
    for (const stream of ["vs_r1", "vs_r2", "vs_r3"]) {
      let state = initialState
      for (let batch = 0; batch < 5; batch++) {
        const events = Array.from({ length: 7 }, (_, i) => change(stream, batch * 7 + i))
        const result = await store.appendToStream(stream, events, {
          expectedVersion: state.version,
          metadata: metadata(),
          state,
        })
        if (result._tag !== "Appended") throw new Error(result._tag)
        positions.push(...result.positions)
        state = result.state
      }
    }
  })
  afterAll(async () => {
    await store?.dispose()
  })

  /** Pages through the global order; other sessions' open transactions may hold it back a moment. */
  const readEverything = async (limit: number) => {
    const events: Array<RecordedEvent> = []
    let after: Checkpoint | null = null
    const deadline = Date.now() + 10_000
    while (events.length < positions.length && Date.now() < deadline) {
      const page = await store.readAll({ after, limit })
      events.push(...page.events)
      after = page.checkpoint
    }
    return events
  }

  it("readStream returns one stream in version order, from a version on", async () => {
    const all = await store.readStream("vs_r2")
    expect(all.map((e) => e.streamVersion)).toEqual(Array.from({ length: 35 }, (_, i) => i + 1))
    expect(all.every((e) => e.streamId === "vs_r2" && e.recordedAt instanceof Date)).toBe(true)
    const tail = await store.readStream("vs_r2", { fromVersion: 30 })
    expect(tail.map((e) => e.streamVersion)).toEqual([31, 32, 33, 34, 35])
    expect(await store.readStream("vs_nothing")).toEqual([])
  })

  it.each([1, 4, 35, 1000])(
    "readAll in pages of %i returns every event exactly once, in (transaction id, position) order",
    async (limit) => {
      const events = await readEverything(limit)
      expect(events.map((e) => e.position).sort((a, b) => a - b)).toEqual(
        [...positions].sort((a, b) => a - b),
      )
      const keys = events.map((e) => [e.transactionId, e.position] as const)
      for (let i = 1; i < keys.length; i++) {
        const [t0, p0] = keys[i - 1]!
        const [t1, p1] = keys[i]!
        expect(t1 > t0 || (t1 === t0 && p1 > p0)).toBe(true)
      }
    },
  )

  it("readAll after the last checkpoint returns nothing and keeps the checkpoint", async () => {
    const events = await readEverything(1000)
    const last = events[events.length - 1]!
    const checkpoint = { transactionId: last.transactionId, position: last.position }
    expect(await store.readAll({ after: checkpoint, limit: 10 })).toEqual({ events: [], checkpoint })
  })

  it("readAllPages catches up with the whole log, page by page", async () => {
    const seen: Array<number> = []
    let after: Checkpoint | null = null
    // On a shared server another session's open transaction may hold the last page back: it says
    // so (heldBack), and reading on from its checkpoint later gets the rest.
    for (let heldBack = true; heldBack; ) {
      heldBack = false
      for await (const page of store.readAllPages({ after, pageSize: 10 })) {
        seen.push(...page.events.map((e) => e.position))
        after = page.checkpoint
        heldBack = page.heldBack !== undefined
      }
      if (heldBack) await new Promise((r) => setTimeout(r, 20))
    }
    expect(seen.sort((a, b) => a - b)).toEqual([...positions].sort((a, b) => a - b))
  })

  it("refuses to start when the log holds transaction ids ahead of the server (a restore into a new cluster)", async () => {
    await sql`insert into ${sql.raw(`"${store.schema}".events`)} (stream_id, stream_version, type, data, metadata, transaction_id)
      values ('vs_restored', 1, 'SessionSubmitted', '{"_tag":"SessionSubmitted","sessionId":"vs_restored","at":1}', '{}', '9000000000000000')`.execute(
      dbOf(store),
    )
    // Open a second store on the same database (for PGlite, through its embedded server).
    await expect(
      openStore({ databaseUrl: store.url, schema: store.schema, poolSize: 1 }),
    ).rejects.toMatchObject({
      _tag: "TransactionIdsAhead",
      storedMax: "9000000000000000",
    })
  })
})
