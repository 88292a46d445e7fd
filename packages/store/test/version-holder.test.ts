/**
 * The session's `verification_sessions` row holds its stream's version (migration
 * 0003_session_row_holds_version): what happens when that row is missing or lags, that a rebuild
 * keeps the versions, and that a schema migrated from the `streams` table keeps every stream where
 * it was.
 */
import { fold, type SessionEvent } from "@idtrail/domain"
import { sql } from "kysely"
import { Migrator } from "kysely/migration"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { migrate, migrationsFor } from "../src/migrations.ts"
import { actor, backends, dbOf, metadata, observation, openTestStore, snapshot } from "./fixtures.ts"

type Store = Awaited<ReturnType<typeof openTestStore>>

const change = (sessionId: string, k: number): SessionEvent => ({
  _tag: "SessionUpdated",
  sessionId,
  at: 1_000 + k,
  changes: [{ field: "metadata", from: {}, to: { step: String(k) } }],
})

const rowsOf = async (store: Store, query: string) =>
  (await sql.raw<Record<string, unknown>>(query).execute(dbOf(store))).rows

describe.each(backends)("the session row as version holder on $name", ({ databaseUrl }) => {
  let store: Store
  beforeAll(async () => {
    store = await openTestStore(databaseUrl)
  })
  afterAll(async () => {
    await store?.dispose()
  })

  const lifecycle = async (id: string) => {
    for (const [i, status] of ["requires_input", "processing", "verified"].entries()) {
      const at = 100 + 10 * i
      await store.handle(id, observation(snapshot(id, status), at, "webhook", `evt_${id}_${at}`), { actor })
    }
  }
  const deleteRow = (id: string) =>
    sql
      .raw(`delete from "${store.schema}".verification_sessions where session_id = '${id}'`)
      .execute(dbOf(store))

  it("the streams table is gone: the session row carries the version", async () => {
    await lifecycle("vs_v1")
    expect(
      await rowsOf(
        store,
        `select to_regclass('"${store.schema}".streams') as streams,
                (select version from "${store.schema}".verification_sessions where session_id = 'vs_v1') as version`,
      ),
    ).toEqual([{ streams: null, version: "3" }])
  })

  it("a stream whose row was deleted: expected 0 and a wrong version conflict with the log's version; the right one puts the row back", async () => {
    await lifecycle("vs_v2")
    await deleteRow("vs_v2")
    const events = (await store.readStream("vs_v2")).map((e) => e.event)
    expect(events).toHaveLength(3)
    expect(
      await store.appendToStream("vs_v2", [change("vs_v2", 0)], { expectedVersion: 0, metadata: metadata() }),
    ).toEqual({ _tag: "VersionConflict", expected: 0, actual: 3 })
    expect(
      await store.appendToStream("vs_v2", [change("vs_v2", 1)], {
        expectedVersion: 2,
        metadata: metadata(),
        state: fold(events.slice(0, 2)),
      }),
    ).toEqual({ _tag: "VersionConflict", expected: 2, actual: 3 })
    expect(await store.readStream("vs_v2")).toHaveLength(3)
    // The state is folded from the log while the row is missing.
    expect((await store.state("vs_v2")).version).toBe(3)
    const appended = await store.appendToStream("vs_v2", [change("vs_v2", 2)], {
      expectedVersion: 3,
      metadata: metadata(),
    })
    expect(appended).toMatchObject({ _tag: "Appended", nextVersion: 4 })
    expect(
      await rowsOf(
        store,
        `select version, status, (state->>'version')::int as state_version
           from "${store.schema}".verification_sessions where session_id = 'vs_v2'`,
      ),
    ).toEqual([{ version: "4", status: "verified", state_version: 4 }])
    expect((await store.readStream("vs_v2")).map((e) => e.streamVersion)).toEqual([1, 2, 3, 4])
  })

  it("an append without a folded state moves the row's version; readers fold past the lagging state", async () => {
    await lifecycle("vs_v3")
    const before = await store.state("vs_v3")
    await sql
      .raw(
        `select * from "${store.schema}".append_to_stream('vs_v3', 3, null, '${JSON.stringify([change("vs_v3", 0)])}'::jsonb, '${JSON.stringify(metadata())}'::jsonb, null)`,
      )
      .execute(dbOf(store))
    expect(
      await rowsOf(
        store,
        `select version, (state->>'version')::int as state_version
           from "${store.schema}".verification_sessions where session_id = 'vs_v3'`,
      ),
    ).toEqual([{ version: "4", state_version: 3 }])
    const state = await store.state("vs_v3")
    expect(state.version).toBe(4)
    expect(state.facts?.metadata).toEqual({ step: "0" })
    expect(state.facts?.status).toBe(before.facts?.status)
    expect(
      await store.appendToStream("vs_v3", [change("vs_v3", 1)], { expectedVersion: 3, metadata: metadata() }),
    ).toEqual({ _tag: "VersionConflict", expected: 3, actual: 4 })
    expect(
      await store.appendToStream("vs_v3", [change("vs_v3", 1)], { expectedVersion: 4, metadata: metadata() }),
    ).toMatchObject({ _tag: "Appended", nextVersion: 5 })
  })

  it("a rebuild of the session projection rewrites rows in place, keeps every version, and repairs a damaged row", async () => {
    await lifecycle("vs_v4")
    await sql
      .raw(
        `update "${store.schema}".verification_sessions set status = 'garbage', state = '{}'
          where session_id = 'vs_v4'`,
      )
      .execute(dbOf(store))
    await deleteRow("vs_v2")
    await store.rebuild("verification_sessions")
    const rows = await rowsOf(
      store,
      `select v.session_id, v.version, (v.state->>'version')::bigint as state_version,
              (select max(e.stream_version) from "${store.schema}".events e where e.stream_id = v.session_id) as log_version
         from "${store.schema}".verification_sessions v order by v.session_id`,
    )
    expect(rows.map((r) => r.session_id)).toEqual(["vs_v1", "vs_v2", "vs_v3", "vs_v4"])
    for (const r of rows) {
      expect(r.version).toBe(r.log_version)
      expect(r.state_version).toBe(r.log_version)
    }
    expect((await store.state("vs_v4")).facts?.status).toBe("verified")
    expect(
      await rowsOf(
        store,
        `select status from "${store.schema}".verification_sessions where session_id = 'vs_v4'`,
      ),
    ).toEqual([{ status: "verified" }])
    // Appends go on from the versions the rebuild kept.
    const state = await store.state("vs_v4")
    expect(
      await store.appendToStream("vs_v4", [change("vs_v4", 0)], {
        expectedVersion: state.version,
        metadata: metadata(),
        state,
      }),
    ).toMatchObject({ _tag: "Appended", nextVersion: state.version + 1 })
  })

  it("migrating a schema that kept versions in streams moves them to the session rows, and drops streams", async () => {
    const old = `${store.schema}_old`
    const db = dbOf(store)
    await sql.raw(`create schema "${old}"`).execute(db)
    try {
      await db.connection().execute(async (conn) => {
        const migrator = new Migrator({
          db: conn,
          provider: { getMigrations: async () => migrationsFor(old) },
          migrationTableSchema: old,
        })
        const result = await migrator.migrateTo("0002_audit_views")
        if (result.error !== undefined) throw result.error
      })
      const call = (id: string, expected: number, events: ReadonlyArray<SessionEvent>, withState: boolean) =>
        sql<{
          outcome: string
          version: string
        }>`select outcome, version from ${sql.raw(`"${old}"`)}.append_to_stream(
            ${id}, ${expected}, null, ${JSON.stringify(events)}::jsonb, ${JSON.stringify(metadata())}::jsonb,
            ${withState ? JSON.stringify(fold(events)) : null}::jsonb)`.execute(db)
      // vs_a: a row at its version; vs_b: appended without a state (no row); vs_c: its row deleted.
      await call("vs_a", 0, [change("vs_a", 0), change("vs_a", 1)], true)
      await call("vs_b", 0, [change("vs_b", 0)], false)
      await call("vs_c", 0, [change("vs_c", 0), change("vs_c", 1), change("vs_c", 2)], true)
      await sql.raw(`delete from "${old}".verification_sessions where session_id = 'vs_c'`).execute(db)

      await migrate(db, old)
      await migrate(db, old) // idempotent

      const rows = (
        await sql
          .raw<Record<string, unknown>>(
            `select to_regclass('"${old}".streams') as streams, session_id, version
             from "${old}".verification_sessions order by session_id`,
          )
          .execute(db)
      ).rows
      expect(rows).toEqual([
        { streams: null, session_id: "vs_a", version: "2" },
        { streams: null, session_id: "vs_b", version: "1" },
        { streams: null, session_id: "vs_c", version: "3" },
      ])
      expect((await call("vs_a", 1, [change("vs_a", 2)], false)).rows).toEqual([
        { outcome: "conflict", version: "2" },
      ])
      expect((await call("vs_c", 3, [change("vs_c", 3)], false)).rows).toEqual([
        { outcome: "appended", version: "4" },
      ])
      expect((await call("vs_d", 0, [change("vs_d", 0)], true)).rows).toEqual([
        { outcome: "appended", version: "1" },
      ])
    } finally {
      await sql.raw(`drop schema if exists "${old}" cascade`).execute(db)
    }
  })
})
