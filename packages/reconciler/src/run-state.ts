/**
 * What the reconciler keeps in Postgres, beside the store's tables in the same schema:
 *
 * - a lease per account, so only one run is active at a time: a row taken with an upsert that
 *   succeeds only when the row is free or its lease ran out (a crashed run's lease expires), and
 *   renewed after every page. It needs no connection held open, so it works on PGlite too;
 * - cursors per account: where the Events API was read up to (incremental runs), and which page a
 *   sweep had finished (so a crashed sweep resumes there).
 *
 * @since 0.1.0
 */
import { type Kysely, sql } from "kysely"
import { RunInProgress } from "./errors.ts"

/** Where the tables live: the store's database and schema. */
export interface RunStateTarget {
  readonly db: Kysely<unknown>
  readonly schema: string
}

/** How far an incremental run has read the Events API. */
export interface EventsCursor {
  /** The newest event's `created` (unix seconds) that was fully handled. */
  readonly created: number
  /** The ids of the handled events created in that very second (a later run skips them). */
  readonly ids: ReadonlyArray<string>
}

/** Where an unfinished sweep stopped: the last session of its last finished page. */
export interface SweepCursor {
  readonly startingAfter: string
  /** The upper end (unix seconds, inclusive) of the window of `created` not compared yet. */
  readonly windowUpper: number | null
  readonly runId: string
}

const table = (t: RunStateTarget, name: string) => sql.raw(`"${t.schema}".${name}`)

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

/** Takes the account's lease for `leaseSeconds`, or fails with `RunInProgress`. */
export const acquireLease = async (
  t: RunStateTarget,
  account: string,
  runId: string,
  leaseSeconds: number,
): Promise<void> => {
  const taken = await sql<{ run_id: string }>`
    insert into ${table(t, "reconciler_leases")} as l (account, run_id, lease_until)
    values (${account}, ${runId}, now() + make_interval(secs => ${leaseSeconds}))
    on conflict (account) do update set run_id = excluded.run_id, lease_until = excluded.lease_until
      where l.lease_until < now() or l.run_id = excluded.run_id
    returning run_id`.execute(t.db)
  if (taken.rows[0]?.run_id !== runId) {
    const holder = await sql<{ run_id: string; lease_until: Date }>`
      select run_id, lease_until from ${table(t, "reconciler_leases")} where account = ${account}`.execute(
      t.db,
    )
    const row = holder.rows[0]
    throw new RunInProgress({
      account,
      message:
        `another reconciliation of account ${account} is running (run ${row?.run_id ?? "?"}, ` +
        `lease until ${row?.lease_until instanceof Date ? row.lease_until.toISOString() : String(row?.lease_until)}); ` +
        "one run per account at a time",
    })
  }
}

/** Extends the lease; fails with `RunInProgress` if it ran out and another run took it. */
export const renewLease = async (
  t: RunStateTarget,
  account: string,
  runId: string,
  leaseSeconds: number,
): Promise<void> => {
  const renewed = await sql`
    update ${table(t, "reconciler_leases")} set lease_until = now() + make_interval(secs => ${leaseSeconds})
    where account = ${account} and run_id = ${runId}`.execute(t.db)
  if (Number(renewed.numAffectedRows ?? 0) !== 1) {
    throw new RunInProgress({
      account,
      message: `run ${runId} lost the lease of account ${account} to another run; it stops here`,
    })
  }
}

export const releaseLease = async (t: RunStateTarget, account: string, runId: string): Promise<void> => {
  await sql`delete from ${table(t, "reconciler_leases")} where account = ${account} and run_id = ${runId}`.execute(
    t.db,
  )
}

export const loadCursor = async <C>(
  t: RunStateTarget,
  account: string,
  kind: "events" | "sweep",
): Promise<C | null> => {
  const rows = await sql<{ cursor: C }>`
    select cursor from ${table(t, "reconciler_cursors")} where account = ${account} and kind = ${kind}`.execute(
    t.db,
  )
  return rows.rows[0]?.cursor ?? null
}

export const saveCursor = async (
  t: RunStateTarget,
  account: string,
  kind: "events" | "sweep",
  cursor: EventsCursor | SweepCursor,
): Promise<void> => {
  await sql`
    insert into ${table(t, "reconciler_cursors")} (account, kind, cursor) values (${account}, ${kind}, ${JSON.stringify(cursor)}::jsonb)
    on conflict (account, kind) do update set cursor = excluded.cursor, updated_at = now()`.execute(t.db)
}

export const clearCursor = async (
  t: RunStateTarget,
  account: string,
  kind: "events" | "sweep",
): Promise<void> => {
  await sql`delete from ${table(t, "reconciler_cursors")} where account = ${account} and kind = ${kind}`.execute(
    t.db,
  )
}

/**
 * Local sessions an incremental run re-reads: not in a final status, or waiting for a refresh.
 * A page of at most `limit` ids after `afterId`, in id order.
 */
export const openSessionIds = async (
  t: RunStateTarget,
  afterId: string | null,
  limit: number,
): Promise<ReadonlyArray<string>> =>
  (
    await sql<{ session_id: string }>`
      select session_id from ${table(t, "verification_sessions")}
      where (needs_refresh or status is null or status not in ('verified', 'canceled'))
        and (${afterId}::text is null or session_id > ${afterId})
      order by session_id
      limit ${limit}`.execute(t.db)
  ).rows.map((r) => r.session_id)

/** Local sessions created (Stripe's `created`) in `[from, to]` unix seconds; `to` null = no upper end. */
export const localSessionsCreatedBetween = async (
  t: RunStateTarget,
  from: number,
  to: number | null,
): Promise<ReadonlyArray<{ readonly id: string; readonly created: number }>> =>
  (
    await sql<{ session_id: string; created: number }>`
      select session_id, extract(epoch from created)::float8 as created from ${table(t, "verification_sessions")}
      where created >= to_timestamp(${from}) and (${to}::float8 is null or created <= to_timestamp(${to}::float8))
      order by created desc, session_id`.execute(t.db)
  ).rows.map((r) => ({ id: r.session_id, created: Number(r.created) }))
