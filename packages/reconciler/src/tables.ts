/**
 * The reconciler's own tables, in the store's schema beside the store's tables:
 * `reconciler_leases` (one active run per account) and `reconciler_cursors` (where runs got to).
 *
 * @since 0.1.0
 */
import { type Kysely, sql } from "kysely"

/** Where the tables live: the store's database and schema. */
export interface RunStateTarget {
  readonly db: Kysely<unknown>
  readonly schema: string
}

/** A table of the target's schema, quoted. */
export const table = (t: RunStateTarget, name: string) => sql.raw(`"${t.schema}".${name}`)
/** Creates the reconciler's tables if needed; concurrent callers queue on a lock (`if not exists` alone races). */
export const ensureTables = async (t: RunStateTarget): Promise<void> => {
  await t.db.transaction().execute(async (tx) => {
    await sql`select pg_advisory_xact_lock(hashtext(${`idtrail.reconciler.tables.${t.schema}`}))`.execute(tx)
    await sql
      .raw(`
create table if not exists "${t.schema}".reconciler_leases (
  account text primary key,
  run_id text not null,
  lease_until timestamptz not null
);
create table if not exists "${t.schema}".reconciler_cursors (
  account text not null,
  kind text not null check (kind in ('events', 'sweep')),
  cursor jsonb not null,
  updated_at timestamptz not null default now(),
  primary key (account, kind)
);`)
      .execute(tx)
  })
}
