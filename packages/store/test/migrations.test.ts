/**
 * The frozen migrations: a fresh migrate produces exactly the committed `sql/schema.sql`; a schema
 * created at any earlier version, holding sessions appended through that version's own SQL,
 * migrates to the same schema with its rows intact; released migration files never change.
 */
import { createHash } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { decide, fold, initialState, type SessionEvent, type SessionState } from "@idtrail/domain"
import { Result } from "effect"
import { sql } from "kysely"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Connection, connect } from "../src/database.ts"
import { migrate, migrationFiles, readMigrations, sqlDirectory } from "../src/migrations.ts"
import { schemaSnapshot } from "../src/schema-snapshot.ts"
import { backends, freshSchema, metadata, observation, snapshot } from "./fixtures.ts"

const committedSnapshot = () => readFileSync(new URL("schema.sql", sqlDirectory), "utf8")
const names = migrationFiles().map(([name]) => name)

/**
 * What each released migration's file held when it was released. Databases recorded these
 * names after running these texts; editing one would leave them with a schema no fresh
 * migrate makes. A change goes into a new migration.
 */
const released: Record<string, string> = {
  "0001_event_store": "4d45ce045a094fcf386a0d292d060cf13f2a1d3caa0697aa9d9940f23f779e49",
  "0002_audit_views": "7ebb9ffdc59b8e4c6f52d5a7a9161fbc5121b43c28f29e9e412d19e2044a236e",
  "0003_session_row_holds_version": "d8ca63a50aea8b5c09a5d290ffb4b4da0e2e56654683f4f471fb4daa9ac77e99",
  "0004_group_commit": "fc98a9ff3b415118bf29fc58f7565768e5815ac937f5dabd8196443be94ac077",
  "0005_lean_single_event_append": "d8570b0d361e938abbaea730aeb0043724b88bf003392dc98f53ea16ee40b2ee",
  "0006_sessions_by_created": "7983ae0cc8f9b2185bf4e9bc4fe9b1ef015510e0d61a5d7f1ea38ecf52c77025",
  "0007_run_state": "2bf87024e49a553a46d54476c658200f62a59409dab20ce7e1bd1851daf81867",
  "0008_time_to_verified_on_stripe_clock": "dc93900e6d8c43adcdc479c8f7f24786de2b93e76e3119d980eee02097382639",
  "0009_batch_skips_held_rows": "f69e75518274e412610bdf24d0dd26c2653d5906e31fa5c72ced8a510bab2bca",
  "0010_confirmed_at": "aadc25a0916d703a8cd5e586026a881f29b0f029feb4e21ad7dfbd3c529985af",
  "0011_reconciler_runs": "f686303f64229df4b6208443219b3bb6013f14b27c2bac2c0d1e790aa18bd262",
  "0012_lean_new_stream_and_batch": "3dff3e2d43e1186cd6f0e0a5dfff2171999129a60cf94332e374f9e22f32a82a",
  "0013_session_keys": "7769df8a814f243046f4423b62a82263819720a3a38a64c4834af75f8108da3c",
  "0014_session_account": "a987994244654367e1066a993fbe497cc4c80aba96478b10e08afdb799433685",
  "0015_reconciler_pool": "1af5e146f212a77bd0966d7f3282e769655d1d6725d579a7132cf92a7cfe86ea",
  "0016_late_steps": "adf854c6dd75dac516867d27d2831b1fa821957e353e79c19373f1059dbb76da",
  "0017_vault": "69bdacf824691d810b11d5324ce8106501cf8ed6625191a003dadb4732912c95",
  "0018_batch_locks_by_key": "669693789e26a6e5d5757a2c237a6c86426baeebe81c5928352fa372b795f30c",
}

/** One append as the SQL of every version takes it: events, metadata and the folded state. */
interface Append {
  readonly id: string
  readonly expected: number
  readonly stripeEventId: string | null
  readonly events: ReadonlyArray<SessionEvent>
  readonly metadata: ReturnType<typeof metadata>
  readonly state: SessionState
}

/** A few sessions' appends, decided by the domain: one event at a time, several at once, mid-life. */
const appends = (): ReadonlyArray<Append> => {
  const out: Array<Append> = []
  const states = new Map<string, SessionState>()
  const observe = (
    id: string,
    status: string,
    at: number,
    source: "webhook" | "reconciler",
    evt?: string,
  ) => {
    const command = observation(snapshot(id, status), at, source, evt)
    const before = states.get(id) ?? initialState
    const decided = decide(command, before)
    if (Result.isFailure(decided)) throw new Error(String(decided.failure))
    const state = fold(decided.success, before)
    states.set(id, state)
    out.push({
      id,
      expected: before.version,
      stripeEventId: evt ?? null,
      events: decided.success,
      metadata: metadata({
        source,
        stripeEventId: evt ?? null,
        stripeEventType: evt === undefined ? null : `identity.verification_session.${status}`,
        observedAt: at,
        causationId: evt ?? null,
      }),
      state,
    })
  }
  observe("vs_up_a", "requires_input", 1_760_000_000, "webhook", "evt_up_a0")
  observe("vs_up_a", "processing", 1_760_000_100, "webhook", "evt_up_a1")
  observe("vs_up_a", "verified", 1_760_000_200, "webhook", "evt_up_a2")
  observe("vs_up_b", "requires_input", 1_760_000_000, "webhook", "evt_up_b0")
  observe("vs_up_b", "verified", 1_760_000_300, "webhook", "evt_up_b1") // submitted + verified at once
  observe("vs_up_c", "verified", 1_763_000_000, "reconciler") // first seen by a sweep, already verified
  return out
}

const appendSql = (schema: string, a: Append) =>
  sql<{
    outcome: string
    version: string
  }>`select outcome, version from ${sql.raw(`"${schema}"`)}.append_to_stream(
    ${a.id}, ${a.expected}, ${a.stripeEventId}, ${JSON.stringify(a.events)}::jsonb,
    ${JSON.stringify(a.metadata)}::jsonb, ${JSON.stringify(a.state)}::jsonb)`

/** Every row the store keeps, in a form that compares across versions (`state` was jsonb, now json). */
const rowsOf = async (db: Connection["db"], schema: string) => {
  const all = async (query: string) => (await sql.raw<Record<string, unknown>>(query).execute(db)).rows
  return {
    events: await all(`select * from "${schema}".events order by position`),
    sessions: await all(
      `select session_id, status, redaction_status, last_error_code, type, livemode, created, metadata,
              version, needs_refresh, last_change_at, updated_at, state::jsonb as state
         from "${schema}".verification_sessions order by session_id`,
    ),
    checkpoints: await all(`select * from "${schema}".projection_checkpoints order by name`),
  }
}

describe.each(backends)("migrations on $name", ({ databaseUrl }) => {
  let connection: Connection
  const schemas: Array<string> = []
  const fresh = () => {
    const schema = freshSchema()
    schemas.push(schema)
    return schema
  }

  beforeAll(async () => {
    connection = await connect({ databaseUrl })
  })
  afterAll(async () => {
    for (const schema of schemas)
      await sql.raw(`drop schema if exists "${schema}" cascade`).execute(connection.db)
    await connection?.close()
  })

  it("a fresh migrate produces exactly the committed schema.sql, and migrating again changes nothing", async () => {
    const schema = fresh()
    await migrate(connection.db, schema)
    expect(await schemaSnapshot(connection.db, schema)).toBe(committedSnapshot())
    await migrate(connection.db, schema)
    expect(await schemaSnapshot(connection.db, schema)).toBe(committedSnapshot())
  })

  it("every migration file is applied under its own name, in order", async () => {
    const schema = fresh()
    await migrate(connection.db, schema)
    const recorded = await sql
      .raw<{ name: string }>(`select name from "${schema}".kysely_migration order by name`)
      .execute(connection.db)
    expect(recorded.rows.map((r) => r.name)).toEqual(names)
    expect(names.slice(0, 6)).toEqual([
      "0001_event_store",
      "0002_audit_views",
      "0003_session_row_holds_version",
      "0004_group_commit",
      "0005_lean_single_event_append",
      "0006_sessions_by_created",
    ])
  })

  it.each(names.slice(0, -1))(
    "a schema at %s holding sessions migrates to the latest: the committed schema.sql, every row intact, appends go on",
    async (version) => {
      const schema = fresh()
      const db = connection.db
      await migrate(db, schema, { to: version })
      for (const a of appends()) {
        expect((await appendSql(schema, a).execute(db)).rows).toEqual([
          { outcome: "appended", version: String(a.expected + a.events.length) },
        ])
      }
      await sql
        .raw(`insert into "${schema}".projection_checkpoints (name, transaction_id, position)
        values ('events_by_type', '7', 3)`)
        .execute(db)
      const before = await rowsOf(db, schema)

      await migrate(db, schema)

      expect(await schemaSnapshot(db, schema)).toBe(committedSnapshot())
      expect(await rowsOf(db, schema)).toEqual(before)
      expect(before.events).toHaveLength(7)
      expect(before.sessions.map((s) => [s.session_id, s.version])).toEqual([
        ["vs_up_a", "3"],
        ["vs_up_b", "3"],
        ["vs_up_c", "1"],
      ])
      // The audit views read the old rows: Stripe's verified events dated a and b; c was first seen verified.
      const times = await sql
        .raw(`select session_id, verified_at_known from "${schema}".session_verification_times
        order by session_id`)
        .execute(db)
      expect(times.rows).toEqual([
        { session_id: "vs_up_a", verified_at_known: true },
        { session_id: "vs_up_b", verified_at_known: true },
        { session_id: "vs_up_c", verified_at_known: false },
      ])
      // The latest SQL appends on from the versions the old one left, and still refuses a stale one.
      const last = new Map(appends().map((a) => [a.id, a]))
      for (const a of last.values()) {
        const version = a.expected + a.events.length
        const event: SessionEvent = { _tag: "RedactionRequested", sessionId: a.id, at: 1_764_000_000 }
        const next = {
          ...a,
          expected: version,
          stripeEventId: null,
          events: [event],
          state: fold([event], a.state),
        }
        expect((await appendSql(schema, next).execute(db)).rows).toEqual([
          { outcome: "appended", version: String(version + 1) },
        ])
        expect((await appendSql(schema, next).execute(db)).rows).toEqual([
          { outcome: "conflict", version: String(version + 1) },
        ])
      }
    },
    30_000,
  )

  it("0007 adopts the run-state tables the reconciler made itself, with their rows", async () => {
    const schema = fresh()
    const db = connection.db
    await migrate(db, schema, { to: "0006_sessions_by_created" })
    // What the reconciler's own migration created before the store owned these tables.
    await sql
      .raw(`
create table if not exists "${schema}".reconciler_leases (
  account text primary key,
  run_id text not null,
  lease_until timestamptz not null
);
create table if not exists "${schema}".reconciler_cursors (
  account text not null,
  kind text not null check (kind in ('events', 'sweep')),
  cursor jsonb not null,
  updated_at timestamptz not null default now(),
  primary key (account, kind)
);
insert into "${schema}".reconciler_leases values ('acct_1', 'run_1', '2026-12-01T00:00:00Z');
insert into "${schema}".reconciler_cursors (account, kind, cursor) values
  ('acct_1', 'events', '{"created": 1764000000, "id": "evt_9"}'), ('acct_1', 'sweep', '{"window": [1, 2]}');`)
      .execute(db)
    const rows = async () => [
      ...(await sql.raw(`select * from "${schema}".reconciler_leases`).execute(db)).rows,
      ...(await sql.raw(`select * from "${schema}".reconciler_cursors order by kind`).execute(db)).rows,
    ]
    const before = await rows()
    expect(before).toHaveLength(3)

    await migrate(db, schema)

    expect(await rows()).toEqual(before)
    expect(await schemaSnapshot(db, schema)).toBe(committedSnapshot())
  })
})

it("released migration files are never edited (a change goes into a new migration)", () => {
  for (const [name, text] of migrationFiles()) {
    if (released[name] === undefined) continue
    expect({ name, sha256: createHash("sha256").update(text).digest("hex") }).toEqual({
      name,
      sha256: released[name],
    })
  }
  expect(Object.keys(released).every((name) => names.includes(name))).toBe(true)
})

describe("reading the migration files", () => {
  /** A directory holding `files` (name → text), removed after `f`. */
  const withFiles = <T>(files: Record<string, string>, f: (directory: URL) => T): T => {
    const path = mkdtempSync(join(tmpdir(), "idtrail-sql-"))
    try {
      for (const [name, text] of Object.entries(files)) writeFileSync(join(path, name), text)
      return f(pathToFileURL(`${path}/`))
    } finally {
      rmSync(path, { recursive: true })
    }
  }

  it("takes every NNNN_name.sql in order under its name, and leaves out schema.sql and other files", () => {
    const read = withFiles(
      { "0002_b.sql": "select 2;", "0001_a.sql": "select 1;", "schema.sql": "--", "notes.md": "x" },
      readMigrations,
    )
    expect(read).toEqual([
      ["0001_a", "select 1;"],
      ["0002_b", "select 2;"],
    ])
  })

  it.each([
    [{ "0001_a.sql": "", "10_b.sql": "" }, /10_b\.sql: a migration file is named NNNN_name\.sql/],
    [{ "0001_a.sql": "", "0002-b.sql": "" }, /0002-b\.sql: a migration file is named/],
    [{ "0001_a.sql": "", "0001_b.sql": "" }, /0001_b\.sql: another migration already has the number 0001/],
  ])("refuses a misnamed or doubly numbered file rather than skip it: %o", (files, message) => {
    expect(() => withFiles(files, readMigrations)).toThrow(message)
  })
})
