/**
 * The reconciler's own tables come from versioned migrations: they adopt tables an earlier
 * version created directly, and concurrent runs on a new schema all get them.
 */
import { openStore } from "@idtrail/store"
import { sql } from "kysely"
import { describe, expect, it } from "vitest"
import { loadCursor, saveCursor } from "../src/cursors.ts"
import { ensureTables, type RunStateTarget } from "../src/tables.ts"
import { backends } from "./fixtures.ts"

const withStore = async (databaseUrl: string | undefined, body: (t: RunStateTarget) => Promise<void>) => {
  const schema = `idtrail_rt_${Math.random().toString(36).slice(2, 10)}`
  const store = await openStore({ databaseUrl, schema })
  try {
    await body({ db: store.service.db, schema })
  } finally {
    await sql.raw(`drop schema if exists "${schema}" cascade`).execute(store.service.db)
    await store.close()
  }
}

const applied = async (t: RunStateTarget) =>
  (
    await sql<{ name: string }>`select name from ${sql.raw(`"${t.schema}".reconciler_migration`)}`.execute(
      t.db,
    )
  ).rows.map((r) => r.name)

describe.each(backends)("the reconciler's tables on $name", ({ databaseUrl }) => {
  it("tables made before the migrations existed are adopted with their rows, and a second run changes nothing", async () => {
    await withStore(databaseUrl, async (t) => {
      // What the reconciler created directly before its tables had migrations.
      await sql
        .raw(`
create table "${t.schema}".reconciler_leases (account text primary key, run_id text not null, lease_until timestamptz not null);
create table "${t.schema}".reconciler_cursors (account text not null, kind text not null check (kind in ('events', 'sweep')),
  cursor jsonb not null, updated_at timestamptz not null default now(), primary key (account, kind));`)
        .execute(t.db)
      await saveCursor(t, "acct_1", "events", { created: 1_770_000_000, ids: ["evt_1"] })
      await ensureTables(t)
      await ensureTables(t)
      expect(await applied(t)).toEqual(["0001_leases_and_cursors"])
      expect(await loadCursor(t, "acct_1", "events")).toEqual({ created: 1_770_000_000, ids: ["evt_1"] })
    })
  })
})

describe.runIf(process.env.DATABASE_URL)("the reconciler's tables on a real Postgres", () => {
  it("six runs creating them at once on a new schema all succeed, and the migration is applied once", async () => {
    await withStore(process.env.DATABASE_URL, async (t) => {
      const stores = await Promise.all(
        Array.from({ length: 6 }, () =>
          openStore({ databaseUrl: process.env.DATABASE_URL, schema: t.schema }),
        ),
      )
      try {
        await Promise.all(stores.map((s) => ensureTables({ db: s.service.db, schema: t.schema })))
        expect(await applied(t)).toEqual(["0001_leases_and_cursors"])
        await saveCursor(t, "acct_1", "sweep", { startingAfter: "vs_1", windowUpper: 1, runId: "r" })
      } finally {
        await Promise.all(stores.map((s) => s.close()))
      }
    })
  })
})
