/**
 * The reconciler's own tables, in the store's schema beside the store's tables:
 * `reconciler_leases` (one active run per account) and `reconciler_cursors` (where runs got to).
 * They are versioned migrations of their own (kysely's Migrator, with its own history table), so
 * the store's migrations never learn about the reconciler and a later change to these tables has
 * a place to go.
 *
 * @since 0.1.0
 */
import { type Kysely, sql } from "kysely"
import { type Migration, Migrator } from "kysely/migration"

/** Where the tables live: the store's database and schema. */
export interface RunStateTarget {
  readonly db: Kysely<unknown>
  readonly schema: string
}

/** A table of the target's schema, quoted. */
export const table = (t: RunStateTarget, name: string) => sql.raw(`"${t.schema}".${name}`)

// `if not exists`: the tables may predate these migrations (they were created directly before).
const migrations = (schema: string): Record<string, Migration> => ({
  "0001_leases_and_cursors": {
    up: async (db) => {
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
);`)
        .execute(db)
    },
  },
})

/**
 * Brings the reconciler's tables up to date. Idempotent; concurrent runs queue on the
 * Migrator's lock and find nothing left to do (tested with six at once on Postgres).
 */
export const ensureTables = async (t: RunStateTarget): Promise<void> => {
  const migrator = new Migrator({
    db: t.db,
    provider: { getMigrations: async () => migrations(t.schema) },
    migrationTableSchema: t.schema,
    migrationTableName: "reconciler_migration",
    migrationLockTableName: "reconciler_migration_lock",
  })
  const result = await migrator.migrateToLatest()
  if (result.error !== undefined) throw result.error
}
