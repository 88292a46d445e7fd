/**
 * What a scheduled job (the reconciler) keeps between runs, per account, in the store's own
 * tables (migration `0007_run_state`): a lease so that one run per account is active, cursors
 * saying where runs got to, and a quarantine of sessions that failed, retried by later runs.
 * The job reaches these tables only through this service.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { sql } from "kysely"
import type { StoreContext } from "./context.ts"
import { type DatabaseError, RunInProgress } from "./errors.ts"
import { query } from "./sql-errors.ts"

/** Which cursor: how far an incremental run read Stripe's events, or where an unfinished sweep stopped. */
export type CursorKind = "events" | "sweep"

/** A session that failed in a run, kept until a later run records it. */
export interface QuarantineEntry {
  readonly account: string
  readonly sessionId: string
  readonly runId: string
  /** The `_tag` of the error the session failed with. */
  readonly errorTag: string
  readonly message: string
}

/** A quarantined session as stored: how often it failed, first and last. */
export interface QuarantinedSession {
  readonly sessionId: string
  readonly runId: string
  readonly errorTag: string
  readonly message: string
  readonly attempts: number
  readonly firstAt: Date
  readonly lastAt: Date
}

/** The run state's operations, bound to one store. */
export interface RunState {
  /** Takes the account's lease for `leaseSeconds` (free, expired, or already this run's), or fails with `RunInProgress`. */
  readonly acquireLease: (
    account: string,
    runId: string,
    leaseSeconds: number,
  ) => Effect.Effect<void, RunInProgress | DatabaseError>
  /** Extends this run's lease; fails with `RunInProgress` if it ran out and another run took it. */
  readonly renewLease: (
    account: string,
    runId: string,
    leaseSeconds: number,
  ) => Effect.Effect<void, RunInProgress | DatabaseError>
  /** Gives the lease up, if this run still holds it. */
  readonly releaseLease: (account: string, runId: string) => Effect.Effect<void, DatabaseError>
  /** The saved cursor (JSON, as saved), or `null`. */
  readonly loadCursor: (account: string, kind: CursorKind) => Effect.Effect<unknown | null, DatabaseError>
  /** Saves a cursor (any JSON value), replacing the previous one. */
  readonly saveCursor: (
    account: string,
    kind: CursorKind,
    cursor: unknown,
  ) => Effect.Effect<void, DatabaseError>
  readonly clearCursor: (account: string, kind: CursorKind) => Effect.Effect<void, DatabaseError>
  /** Quarantines a session, or counts one more attempt of one already there. */
  readonly quarantine: (entry: QuarantineEntry) => Effect.Effect<void, DatabaseError>
  /** Takes a session out of quarantine (it was recorded). */
  readonly release: (account: string, sessionId: string) => Effect.Effect<void, DatabaseError>
  /** The account's quarantined sessions, by session id. */
  readonly quarantined: (account: string) => Effect.Effect<ReadonlyArray<QuarantinedSession>, DatabaseError>
}

// An error message is free text: drop what a text column refuses (NUL, lone surrogates) and bound it.
const storable = (message: string): string =>
  (message.replaceAll("\u0000", "") as unknown as { toWellFormed(): string }).toWellFormed().slice(0, 2000)

const leaseHolder = (ctx: StoreContext, account: string) =>
  Effect.map(
    query("runState.leaseHolder", () =>
      sql<{ run_id: string; lease_until: Date }>`
        select run_id, lease_until from ${ctx.ref("reconciler_leases")} where account = ${account}`.execute(
        ctx.db,
      ),
    ),
    (result) => result.rows[0],
  )

export const runState = (ctx: StoreContext): RunState => ({
  acquireLease: Effect.fn("runState.acquireLease")(function* (account, runId, leaseSeconds) {
    // Taken only when the row is free, its lease ran out (a crashed run), or it is this run's.
    const taken = yield* query("runState.acquireLease", () =>
      sql<{ run_id: string }>`
        insert into ${ctx.ref("reconciler_leases")} as l (account, run_id, lease_until)
        values (${account}, ${runId}, now() + make_interval(secs => ${leaseSeconds}))
        on conflict (account) do update set run_id = excluded.run_id, lease_until = excluded.lease_until
          where l.lease_until < now() or l.run_id = excluded.run_id
        returning run_id`.execute(ctx.db),
    )
    if (taken.rows[0]?.run_id === runId) return
    const holder = yield* leaseHolder(ctx, account)
    return yield* new RunInProgress({
      account,
      message:
        `another reconciliation of account ${account} is running (run ${holder?.run_id ?? "?"}, ` +
        `lease until ${holder?.lease_until instanceof Date ? holder.lease_until.toISOString() : String(holder?.lease_until)}); ` +
        "one run per account at a time",
    })
  }),
  renewLease: Effect.fn("runState.renewLease")(function* (account, runId, leaseSeconds) {
    const renewed = yield* query("runState.renewLease", () =>
      sql`
        update ${ctx.ref("reconciler_leases")} set lease_until = now() + make_interval(secs => ${leaseSeconds})
        where account = ${account} and run_id = ${runId}`.execute(ctx.db),
    )
    if (Number(renewed.numAffectedRows ?? 0) === 1) return
    return yield* new RunInProgress({
      account,
      message: `run ${runId} lost the lease of account ${account} to another run; it stops here`,
    })
  }),
  releaseLease: (account, runId) =>
    Effect.asVoid(
      query("runState.releaseLease", () =>
        sql`delete from ${ctx.ref("reconciler_leases")} where account = ${account} and run_id = ${runId}`.execute(
          ctx.db,
        ),
      ),
    ),
  loadCursor: (account, kind) =>
    Effect.map(
      query("runState.loadCursor", () =>
        sql<{ cursor: unknown }>`
          select cursor from ${ctx.ref("reconciler_cursors")} where account = ${account} and kind = ${kind}`.execute(
          ctx.db,
        ),
      ),
      (result) => result.rows[0]?.cursor ?? null,
    ),
  saveCursor: (account, kind, cursor) =>
    Effect.asVoid(
      query("runState.saveCursor", () =>
        sql`
          insert into ${ctx.ref("reconciler_cursors")} (account, kind, cursor)
          values (${account}, ${kind}, ${JSON.stringify(cursor)}::jsonb)
          on conflict (account, kind) do update set cursor = excluded.cursor, updated_at = now()`.execute(
          ctx.db,
        ),
      ),
    ),
  clearCursor: (account, kind) =>
    Effect.asVoid(
      query("runState.clearCursor", () =>
        sql`delete from ${ctx.ref("reconciler_cursors")} where account = ${account} and kind = ${kind}`.execute(
          ctx.db,
        ),
      ),
    ),
  quarantine: ({ account, sessionId, runId, errorTag, message }) =>
    Effect.asVoid(
      query("runState.quarantine", () =>
        sql`
          insert into ${ctx.ref("reconciler_quarantine")} as q (account, session_id, run_id, error_tag, message)
          values (${account}, ${sessionId}, ${runId}, ${errorTag}, ${storable(message)})
          on conflict (account, session_id) do update
            set run_id = excluded.run_id, error_tag = excluded.error_tag, message = excluded.message,
                attempts = q.attempts + 1, last_at = now()`.execute(ctx.db),
      ),
    ),
  release: (account, sessionId) =>
    Effect.asVoid(
      query("runState.release", () =>
        sql`delete from ${ctx.ref("reconciler_quarantine")} where account = ${account} and session_id = ${sessionId}`.execute(
          ctx.db,
        ),
      ),
    ),
  quarantined: (account) =>
    Effect.map(
      query("runState.quarantined", () =>
        sql<{
          session_id: string
          run_id: string
          error_tag: string
          message: string
          attempts: number
          first_at: Date
          last_at: Date
        }>`
          select session_id, run_id, error_tag, message, attempts, first_at, last_at
            from ${ctx.ref("reconciler_quarantine")} where account = ${account} order by session_id`.execute(
          ctx.db,
        ),
      ),
      (result) =>
        result.rows.map((r) => ({
          sessionId: r.session_id,
          runId: r.run_id,
          errorTag: r.error_tag,
          message: r.message,
          attempts: Number(r.attempts),
          firstAt: r.first_at,
          lastAt: r.last_at,
        })),
    ),
})
