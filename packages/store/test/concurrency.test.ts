/**
 * What only a real Postgres can show: locks, concurrent transactions, late commits. PGlite is a
 * single session, so these run only when DATABASE_URL is set.
 */
import { initialState, type SessionEvent } from "@idtrail/domain"
import { Effect } from "effect"
import { sql } from "kysely"
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Checkpoint, RecordedEvent } from "../src/index.ts"
import { dbOf, freshSchema, metadata, openTestStore } from "./fixtures.ts"

const databaseUrl = process.env.DATABASE_URL
if (!databaseUrl) {
  // Say so in the run's output, not only in a verbose reporter.
  console.warn("store concurrency tests skipped: DATABASE_URL is not set (they need a real Postgres)")
}

const change = (sessionId: string, writer: number, attempt: number): SessionEvent => ({
  _tag: "SessionUpdated",
  sessionId,
  at: 1_000 + attempt,
  changes: [{ field: "metadata", from: {}, to: { writer: String(writer), attempt: String(attempt) } }],
})

/**
 * Reads the global order from `after`: until `until(count)` holds, or, without `until`, up to the
 * first empty page. Other test files' transactions may briefly hold readers back, so it polls.
 */
const drain = async (
  store: Awaited<ReturnType<typeof openTestStore>>,
  after: Checkpoint | null,
  until?: (seen: number) => boolean,
): Promise<{ events: Array<RecordedEvent>; checkpoint: Checkpoint | null }> => {
  const events: Array<RecordedEvent> = []
  let checkpoint = after
  const deadline = Date.now() + 20_000
  while (until === undefined || !until(events.length)) {
    const page = await store.readAll({ after: checkpoint, limit: 1000 })
    events.push(...page.events)
    checkpoint = page.checkpoint
    if (page.events.length === 0) {
      if (until === undefined || Date.now() > deadline) break
      await new Promise((r) => setTimeout(r, 20))
    }
  }
  return { events, checkpoint }
}

describe.skipIf(!databaseUrl)(
  databaseUrl ? "on a real Postgres" : "on a real Postgres (skipped: DATABASE_URL is not set)",
  () => {
    let store: Awaited<ReturnType<typeof openTestStore>>
    beforeAll(async () => {
      store = await openTestStore(databaseUrl, { poolSize: 20 })
    })
    afterAll(async () => {
      await store?.dispose()
    })

    it("16 writers racing on one stream: exactly one winner per version, versions 1..n without gap, nothing lost", async () => {
      const stream = "vs_race"
      const target = 240
      const wins: Array<{ writer: number; attempt: number; version: number }> = []
      let conflicts = 0
      await Promise.all(
        Array.from({ length: 16 }, async (_, writer) => {
          for (let attempt = 0; wins.length < target; attempt++) {
            const state = await store.state(stream)
            if (state.version >= target) return
            const result = await store.appendToStream(stream, [change(stream, writer, attempt)], {
              expectedVersion: state.version,
              metadata: metadata(),
              state,
            })
            if (result._tag === "Appended") wins.push({ writer, attempt, version: result.nextVersion })
            else if (result._tag === "VersionConflict") conflicts++
            else throw new Error(`unexpected ${result._tag}`)
          }
        }),
      )
      const events = await store.readStream(stream)
      expect(conflicts).toBeGreaterThan(0)
      expect(events.map((e) => e.streamVersion)).toEqual(events.map((_, i) => i + 1))
      expect(wins.map((w) => w.version).sort((a, b) => a - b)).toEqual(events.map((e) => e.streamVersion))
      // Every winner's event is the one stored at its version.
      for (const win of wins) {
        const stored = events[win.version - 1]!.event
        expect(stored._tag === "SessionUpdated" && stored.changes[0]!.to).toEqual({
          writer: String(win.writer),
          attempt: String(win.attempt),
        })
      }
      expect((await store.state(stream)).version).toBe(events.length)
    })

    it("8 writers on distinct streams, 5,000 events: a concurrent reader sees every event exactly once", async () => {
      const before = await drain(store, null)
      const perWriter = 625
      let reading = true
      const read: Array<RecordedEvent> = []
      const reader = (async () => {
        let checkpoint = before.checkpoint
        while (reading) {
          const page = await store.readAll({ after: checkpoint, limit: 500 })
          read.push(...page.events)
          checkpoint = page.checkpoint
          if (page.events.length === 0) await new Promise((r) => setTimeout(r, 5))
        }
        return checkpoint
      })()
      const appended: Array<number> = []
      await Promise.all(
        Array.from({ length: 8 }, async (_, writer) => {
          const stream = `vs_many_${writer}`
          let state = initialState
          for (let i = 0; i < perWriter; ) {
            const size = Math.min(1 + (i % 7), perWriter - i)
            const events = Array.from({ length: size }, (_, j) => change(stream, writer, i + j))
            const result = await store.appendToStream(stream, events, {
              expectedVersion: state.version,
              metadata: metadata(),
              state,
            })
            if (result._tag !== "Appended") throw new Error(result._tag)
            appended.push(...result.positions)
            state = result.state
            i += size
          }
        }),
      )
      reading = false
      const rest = await drain(store, await reader, (n) => read.length + n >= appended.length)
      const positions = [...read, ...rest.events].map((e) => e.position)
      expect(positions.length).toBe(5000)
      expect(new Set(positions).size).toBe(5000)
      expect([...positions].sort((a, b) => a - b)).toEqual([...appended].sort((a, b) => a - b))
    })

    it("a transaction that appended first but commits last is not skipped by a reader that already read past it", async () => {
      const start = await drain(store, null)
      const slow = new pg.Client({ connectionString: databaseUrl })
      await slow.connect()
      try {
        await slow.query("begin")
        const held = await slow.query(
          `select * from "${store.schema}".append_to_stream($1, 0, null, $2::jsonb, $3::jsonb, null)`,
          ["vs_slow", JSON.stringify([change("vs_slow", 0, 0)]), JSON.stringify(metadata())],
        )
        const slowPosition = Number(held.rows[0].positions[0])
        const fast = await store.appendToStream("vs_fast", [change("vs_fast", 1, 0)], {
          expectedVersion: 0,
          metadata: metadata(),
        })
        if (fast._tag !== "Appended") throw new Error(fast._tag)
        expect(fast.positions[0]!).toBeGreaterThan(slowPosition)

        // The fast event is committed, but a reader must not move past the open transaction.
        const page = await store.readAll({ after: start.checkpoint, limit: 100 })
        expect(page.events.map((e) => e.streamId)).not.toContain("vs_fast")

        await slow.query("commit")
        const after = await drain(store, page.checkpoint, (n) => n >= 2)
        const streams = after.events.map((e) => e.streamId)
        expect(streams.filter((s) => s === "vs_slow" || s === "vs_fast")).toEqual(["vs_slow", "vs_fast"])
      } finally {
        await slow.end()
      }
    })

    it("the same Stripe event appended at once from two connections is stored once", async () => {
      const other = await openTestStore(databaseUrl, { schema: store.schema, migrate: false })
      try {
        for (let i = 0; i < 10; i++) {
          const eventId = `evt_race_${i}`
          // Same stream and version, then two different streams: both must end with one copy.
          const sameStream = await Promise.all(
            [store, other].map((s) =>
              s.appendToStream(`vs_dup_${i}`, [change(`vs_dup_${i}`, 0, i)], {
                expectedVersion: 0,
                stripeEventId: eventId,
                metadata: metadata({ stripeEventId: eventId }),
              }),
            ),
          )
          expect(sameStream.filter((r) => r._tag === "Appended")).toHaveLength(1)
          const crossStream = await Promise.all(
            [store, other].map((s, k) =>
              s.appendToStream(`vs_dup_x${i}_${k}`, [change(`vs_dup_x${i}_${k}`, k, i)], {
                expectedVersion: 0,
                stripeEventId: `${eventId}_x`,
                metadata: metadata(),
              }),
            ),
          )
          expect(crossStream.map((r) => r._tag).sort()).toEqual(["Appended", "Duplicate"])
        }
        const counts = await sql
          .raw<{ n: string }>(
            `select count(*) as n from "${store.schema}".events where stripe_event_id like 'evt_race_%' group by stripe_event_id`,
          )
          .execute(dbOf(store))
        expect(counts.rows).toHaveLength(20)
        expect(counts.rows.every((r) => r.n === "1")).toBe(true)
      } finally {
        await other.close()
      }
    })

    it("two migrate runs at once both succeed", async () => {
      const schema = freshSchema()
      const [a, b] = await Promise.all([
        openTestStore(databaseUrl, { schema }),
        openTestStore(databaseUrl, { schema }),
      ])
      // And again, at once, on schemas already up to date.
      await Promise.all([Effect.runPromise(a.service.migrate()), Effect.runPromise(b.service.migrate())])
      expect(
        (await a.appendToStream("vs_m", [change("vs_m", 0, 0)], { expectedVersion: 0, metadata: metadata() }))
          ._tag,
      ).toBe("Appended")
      await b.close()
      await a.dispose()
    })
  },
)
