import { sql } from "kysely"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { contextOf } from "../src/context.ts"
import type { Queryable } from "../src/group-commit.ts"
import { makeStateReads } from "../src/state-reads.ts"
import { actor, backends, dbOf, observation, openTestStore, snapshot } from "./fixtures.ts"

describe.each(backends)(
  "group reads on $name: session rows read at once share round trips",
  ({ databaseUrl }) => {
    let store: Awaited<ReturnType<typeof openTestStore>>
    const ids = Array.from({ length: 40 }, (_, i) => `vs_read_${String(i).padStart(2, "0")}`)
    beforeAll(async () => {
      store = await openTestStore(databaseUrl)
      // Every fourth session goes on to be processing: rows at versions 1 and 2.
      for (const [i, id] of ids.entries()) {
        await store.handle(id, observation(snapshot(id, "requires_input"), 1_760_000_000), { actor })
        if (i % 4 === 0)
          await store.handle(id, observation(snapshot(id, "processing"), 1_760_000_100), { actor })
      }
    })
    afterAll(async () => {
      await store?.dispose()
    })

    /** The store's own connection, counting the statements sent through it. */
    const counted = () => {
      const pool = contextOf(store).connection.pool
      const sent: Array<number> = []
      const queryable: Queryable = {
        query: (config) => {
          sent.push((config.values[0] as ReadonlyArray<string>).length)
          return pool.query(config as never) as never
        },
      }
      return { reads: makeStateReads(queryable, store.schema), sent }
    }

    it("answers each read with its own session's row, in fewer statements than reads", async () => {
      const { reads, sent } = counted()
      const asked = [...ids, "vs_read_never_seen", ids[3]!, ids[3]!]
      const together = await Promise.all(asked.map((id) => reads.read(id)))
      // Two go at once (the slots), the others wait and go together.
      expect(sent.length).toBeLessThanOrEqual(4)
      expect(sent.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(asked.length)
      for (const [i, id] of asked.entries()) {
        const alone = await counted().reads.read(id)
        expect(together[i], id).toEqual(alone)
      }
      expect(together.map((row) => row.stream_version)).toEqual(
        asked.map((id) => (id === "vs_read_never_seen" ? null : ids.indexOf(id) % 4 === 0 ? "2" : "1")),
      )
      expect(together[0]!.state?.facts?.status).toBe("processing")
      expect(together[1]!.state?.facts?.status).toBe("requires_input")
    })

    it("a stream whose row was deleted reads the log's last version; the store refolds it", async () => {
      const id = ids[8]!
      await sql`delete from ${sql.raw(`"${store.schema}".verification_sessions`)} where session_id = ${id}`.execute(
        dbOf(store),
      )
      const [row] = await Promise.all([counted().reads.read(id), counted().reads.read(ids[9]!)])
      expect(row).toEqual({ stream_id: id, stream_version: "2", state: null, confirmed_at: null })
      const state = await store.state(id)
      expect(state.version).toBe(2)
      expect(state.facts?.status).toBe("processing")
    })

    it("the store's state reads made at once agree with reads made one at a time", async () => {
      const together = await Promise.all(ids.map((id) => store.state(id)))
      for (const [i, id] of ids.entries()) expect(together[i], id).toEqual(await store.state(id))
    })
  },
)
