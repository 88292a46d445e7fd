/**
 * The queries behind the audit views people read (`@idtrail/audit`: the HTML report, the served
 * page, the exports), and the record of each reconciler run they show. Windows are half-open,
 * `[from, to)`, on Stripe's clock: an event's `at`, a session's `created`, a verification's
 * `verified_at`; only the runs are windowed by our clock (when they started).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { sql } from "kysely"
import type { StatusCount, TimeWindow } from "./audit.ts"
import type { StoreContext } from "./context.ts"
import { type CorruptEvent, type DatabaseError, InvalidArgument } from "./errors.ts"
import { queryRows, type RecordedEvent, selectEvents, toRecorded } from "./read.ts"
import { checkFilter, filterSql, inFilteredSessions, maxPage, type SessionFilter } from "./sessions.ts"
import { query } from "./sql-errors.ts"

/** A session as the projection holds it now, for tables and exports. */
export interface SessionRow {
  readonly sessionId: string
  /** The Stripe account the session belongs to (`"default"` for sessions recorded before accounts). */
  readonly account: string
  readonly status: string | null
  readonly type: string | null
  readonly livemode: boolean | null
  /** Stripe's `created`. */
  readonly created: Date | null
  readonly lastErrorCode: string | null
  readonly redactionStatus: string | null
  /** The stream's version: how many events the session has. */
  readonly events: number
  /** Stripe time of the last change. */
  readonly lastChangeAt: Date | null
  /** The merchant's metadata (free text: escape it wherever it is shown). */
  readonly metadata: Readonly<Record<string, string>>
}

/** Where a page of {@link SessionRow}s ended: the next page starts after it. */
export interface SessionCursor {
  readonly created: Date
  readonly sessionId: string
}

/** The sessions created in a window that reached each step of the lifecycle. */
export interface Funnel {
  readonly created: number
  /** Reached `processing` (or `verified`, which passes through it). */
  readonly submitted: number
  readonly verified: number
  /** Had at least one failed check (`VerificationFailed`). */
  readonly failed: number
  readonly canceled: number
}

/** One bar of a histogram: sessions whose value fell in `[from, to)` (`to: null` = no upper end). */
export interface HistogramBucket {
  readonly from: number
  readonly to: number | null
  readonly sessions: number
}

/** Failed checks of one code on one day (UTC). */
export interface DailyFailureCount {
  /** `YYYY-MM-DD`, UTC. */
  readonly day: string
  readonly code: string | null
  readonly count: number
}

/** How many of something there are of one kind (an event type, a session type). */
export interface KindCount {
  readonly kind: string | null
  readonly count: number
}

/**
 * A run's counts, as the reconciler's `Report` names them: sessions compared (`examined`),
 * missing here and recorded (`started`), drifted and repaired (`repaired`), `unchanged`, missing
 * at Stripe, and quarantined after the run.
 */
type RunCounts = Readonly<
  Record<
    "examined" | "started" | "repaired" | "unchanged" | "missingRemotelyCount" | "quarantinedCount",
    number
  >
>

/** A reconciler run's figures as its report gives them (the reconciler's `Report` is one). */
export interface RunReport extends RunCounts {
  readonly runId: string
  readonly account: string
  readonly mode: "incremental" | "sweep"
  readonly dryRun: boolean
  /** ISO strings (as the report has them) or Dates. */
  readonly startedAt: string | Date
  readonly finishedAt: string | Date
  readonly complete: boolean
  /** `null` when the run went to its end; else what stopped it (`interrupted`, an error's tag). */
  readonly stoppedBy: string | null
  /** Only their number is kept. */
  readonly errors: ReadonlyArray<unknown>
  readonly eventsByType: Readonly<Record<string, number>>
}

/** A reconciler run as recorded when it ended. */
export interface RunRecord extends Omit<RunReport, "startedAt" | "finishedAt" | "errors"> {
  readonly startedAt: Date
  readonly finishedAt: Date
  readonly errorCount: number
}

/** A query over a window, of one account's and/or mode's sessions when asked (`SessionFilter`). */
type WindowQuery<A> = (
  window: TimeWindow,
  filter?: SessionFilter,
) => Effect.Effect<A, InvalidArgument | DatabaseError>

/** The queries of the audit views, bound to one store (part of `store.audit`). */
export interface AuditReportQueries {
  /** Events whose Stripe time falls in the window, by type. */
  readonly eventCounts: WindowQuery<ReadonlyArray<KindCount>>
  /** Sessions created in the window, by their status now. */
  readonly sessionStatuses: WindowQuery<ReadonlyArray<StatusCount>>
  /** Sessions created in the window, by type (`document`, `id_number`). */
  readonly sessionTypes: WindowQuery<ReadonlyArray<KindCount>>
  /** Of the sessions created in the window, how many reached each step. */
  readonly funnel: WindowQuery<Funnel>
  /**
   * Seconds from creation to verified of the sessions verified in the window whose transition
   * time is known (as `timeToVerified` counts them), in buckets bounded by `edges` (ascending
   * seconds, the first one 0): `[edges[i], edges[i + 1])`, the last bucket open-ended.
   */
  readonly verificationHistogram: (
    window: TimeWindow,
    edges: ReadonlyArray<number>,
    filter?: SessionFilter,
  ) => Effect.Effect<ReadonlyArray<HistogramBucket>, InvalidArgument | DatabaseError>
  /** Failed checks in the window by day (UTC) and code. */
  readonly failuresByDay: WindowQuery<ReadonlyArray<DailyFailureCount>>
  /** The reconciler runs that started in the window (our clock), oldest first. */
  readonly runs: WindowQuery<ReadonlyArray<RunRecord>>
  /** One page of the sessions created in the window, oldest first (ties by id), after `after`. */
  readonly sessionsCreated: (
    window: TimeWindow,
    page: { readonly after: SessionCursor | null; readonly limit: number },
    filter?: SessionFilter,
  ) => Effect.Effect<ReadonlyArray<SessionRow>, InvalidArgument | DatabaseError>
  /** The events of these sessions (at most {@link maxPage}), by session id then version. */
  readonly histories: (
    sessionIds: ReadonlyArray<string>,
  ) => Effect.Effect<ReadonlyArray<RecordedEvent>, InvalidArgument | CorruptEvent | DatabaseError>
}

/** Records a reconciler run's report (part of `store.runState`). */
export interface RunRecorder {
  /** Keeps a finished run's figures for the audit views; a run id already recorded is refused. */
  readonly recordRun: (run: RunReport) => Effect.Effect<void, InvalidArgument | DatabaseError>
}

const invalid = (argument: string, message: string) => new InvalidArgument({ argument, message })

const validDate = (d: unknown): d is Date => d instanceof Date && !Number.isNaN(d.getTime())

const checked = <A, E>(
  window: TimeWindow,
  run: (w: TimeWindow) => Effect.Effect<A, E>,
  filter: SessionFilter = {},
): Effect.Effect<A, E | InvalidArgument> => {
  if (!(validDate(window?.from) && validDate(window?.to) && window.from.getTime() <= window.to.getTime()))
    return Effect.fail(invalid("window", "a window needs valid dates with from <= to"))
  const bad = checkFilter(filter)
  return bad === undefined ? run(window) : Effect.fail(bad)
}

const counts = (rows: ReadonlyArray<{ kind: string | null; count: string }>): ReadonlyArray<KindCount> =>
  rows.map((r) => ({ kind: r.kind, count: Number(r.count) }))

const isCount = (n: unknown): boolean => Number.isSafeInteger(n) && (n as number) >= 0

const asDate = (d: string | Date): Date => (d instanceof Date ? d : new Date(d))

const checkRun = (run: RunReport): string | undefined => {
  if (typeof run?.runId !== "string" || run.runId.length === 0) return "runId must be a non-empty string"
  if (typeof run.account !== "string" || run.account.length === 0) return "account must be a non-empty string"
  if (run.mode !== "incremental" && run.mode !== "sweep") return "mode must be incremental or sweep"
  if (!validDate(asDate(run.startedAt)) || !validDate(asDate(run.finishedAt)))
    return "startedAt and finishedAt must be valid times"
  if (!Array.isArray(run.errors)) return "errors must be an array"
  const figures = [
    "examined",
    "started",
    "repaired",
    "unchanged",
    "missingRemotelyCount",
    "quarantinedCount",
  ] as const
  const bad = figures.find((k) => !isCount(run[k]))
  if (bad !== undefined) return `${bad} must be a non-negative integer, got ${String(run[bad])}`
  if (!Object.values(run.eventsByType ?? {}).every(isCount)) return "eventsByType must count events"
  return undefined
}

export const auditReport = (ctx: StoreContext): AuditReportQueries => ({
  eventCounts: (window, filter = {}) =>
    checked(
      window,
      (w) =>
        query("audit.eventCounts", () =>
          sql<{ kind: string; count: string }>`
          select type as kind, count(*) as count from ${ctx.ref("events")}
           where to_timestamp((data->>'at')::bigint) >= ${w.from} and to_timestamp((data->>'at')::bigint) < ${w.to}
             ${inFilteredSessions(ctx, "stream_id", filter)}
           group by type order by type`.execute(ctx.db),
        ).pipe(Effect.map((r) => counts(r.rows))),
      filter,
    ),
  sessionStatuses: (window, filter = {}) =>
    checked(
      window,
      (w) =>
        query("audit.sessionStatuses", () =>
          sql<{ kind: string; count: string }>`
          select coalesce(status, 'unknown') as kind, count(*) as count from ${ctx.ref("verification_sessions")} v
           where created >= ${w.from} and created < ${w.to} ${filterSql(filter)} group by 1 order by 1`.execute(
            ctx.db,
          ),
        ).pipe(Effect.map((r) => r.rows.map((row) => ({ status: row.kind, sessions: Number(row.count) })))),
      filter,
    ),
  sessionTypes: (window, filter = {}) =>
    checked(
      window,
      (w) =>
        query("audit.sessionTypes", () =>
          sql<{ kind: string | null; count: string }>`
          select type as kind, count(*) as count from ${ctx.ref("verification_sessions")} v
           where created >= ${w.from} and created < ${w.to} ${filterSql(filter)}
           group by type order by type nulls last`.execute(ctx.db),
        ).pipe(Effect.map((r) => counts(r.rows))),
      filter,
    ),
  funnel: (window, filter = {}) =>
    checked(
      window,
      (w) =>
        query("audit.funnel", () =>
          // The statuses each session ever reached, from the transitions view (the one definition).
          sql<{ created: string; submitted: string; verified: string; failed: string; canceled: string }>`
          with s as (
            select session_id from ${ctx.ref("verification_sessions")} v
             where created >= ${w.from} and created < ${w.to} ${filterSql(filter)}
          ), reached as (
            select t.session_id, array_agg(distinct t.to_status) as statuses
              from ${ctx.ref("session_transitions")} t where t.session_id in (select session_id from s)
             group by t.session_id
          )
          select count(*) as created,
                 count(*) filter (where r.statuses && array['processing', 'verified']) as submitted,
                 count(*) filter (where 'verified' = any(r.statuses)) as verified,
                 count(*) filter (where exists (select 1 from ${ctx.ref("session_failures")} f
                                                 where f.session_id = s.session_id)) as failed,
                 count(*) filter (where 'canceled' = any(r.statuses)) as canceled
            from s left join reached r on r.session_id = s.session_id`.execute(ctx.db),
        ).pipe(
          Effect.map((r) => {
            const row = r.rows[0]!
            return {
              created: Number(row.created),
              submitted: Number(row.submitted),
              verified: Number(row.verified),
              failed: Number(row.failed),
              canceled: Number(row.canceled),
            }
          }),
        ),
      filter,
    ),
  verificationHistogram: (window, edges, filter = {}) => {
    const ascending =
      edges.length >= 1 && edges[0] === 0 && edges.every((e, i) => i === 0 || e > edges[i - 1]!)
    if (!ascending || !edges.every(Number.isFinite))
      return Effect.fail(invalid("edges", "edges must be ascending finite seconds starting at 0"))
    return checked(
      window,
      (w) =>
        query("audit.verificationHistogram", () =>
          sql<{ bucket: number; count: string }>`
          select greatest(width_bucket(seconds, ${[...edges]}::float8[]), 1) as bucket, count(*) as count
            from ${ctx.ref("session_verification_times")}
           where verified_at >= ${w.from} and verified_at < ${w.to} and seconds is not null
             ${inFilteredSessions(ctx, "session_id", filter)}
           group by 1`.execute(ctx.db),
        ).pipe(
          Effect.map((r) => {
            // width_bucket gives i for edges[i-1] <= s < edges[i]; below the first edge (a clock
            // that ran backwards) is counted in the first bucket.
            const byBucket = new Map(r.rows.map((row) => [Number(row.bucket), Number(row.count)]))
            return edges.map((from, i) => ({
              from,
              to: edges[i + 1] ?? null,
              sessions: byBucket.get(i + 1) ?? 0,
            }))
          }),
        ),
      filter,
    )
  },
  failuresByDay: (window, filter = {}) =>
    checked(
      window,
      (w) =>
        query("audit.failuresByDay", () =>
          sql<{ day: string; code: string | null; count: string }>`
          select to_char(at at time zone 'UTC', 'YYYY-MM-DD') as day, code, count(*) as count
            from ${ctx.ref("session_failures")} where at >= ${w.from} and at < ${w.to}
              ${inFilteredSessions(ctx, "session_id", filter)}
           group by 1, 2 order by 1, 2 nulls last`.execute(ctx.db),
        ).pipe(
          Effect.map((r) =>
            r.rows.map((row) => ({ day: row.day, code: row.code, count: Number(row.count) })),
          ),
        ),
      filter,
    ),
  // Runs have an account but no mode: the filter's account only.
  runs: (window, filter = {}) =>
    checked(
      window,
      (w) =>
        query("audit.runs", () =>
          sql<{
            run_id: string
            account: string
            mode: RunRecord["mode"]
            dry_run: boolean
            started_at: Date
            finished_at: Date
            complete: boolean
            stopped_by: string | null
            examined: number
            started: number
            repaired: number
            unchanged: number
            missing_remotely: number
            quarantined: number
            errors: number
            events_by_type: Record<string, number>
          }>`
          select run_id, account, mode, dry_run, started_at, finished_at, complete, stopped_by, examined,
                 started, repaired, unchanged, missing_remotely, quarantined, errors, events_by_type
            from ${ctx.ref("reconciler_runs")} where started_at >= ${w.from} and started_at < ${w.to}
              ${filter.account === undefined ? sql`` : sql`and account = ${filter.account}`}
           order by started_at, run_id`.execute(ctx.db),
        ).pipe(
          Effect.map((r) =>
            r.rows.map((row) => ({
              runId: row.run_id,
              account: row.account,
              mode: row.mode,
              dryRun: row.dry_run,
              startedAt: row.started_at,
              finishedAt: row.finished_at,
              complete: row.complete,
              stoppedBy: row.stopped_by,
              examined: row.examined,
              started: row.started,
              repaired: row.repaired,
              unchanged: row.unchanged,
              missingRemotelyCount: row.missing_remotely,
              quarantinedCount: row.quarantined,
              errorCount: row.errors,
              eventsByType: row.events_by_type,
            })),
          ),
        ),
      filter,
    ),
  sessionsCreated: (window, { after, limit }, filter = {}) => {
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > maxPage)
      return Effect.fail(
        invalid("limit", `limit must be an integer from 1 to ${maxPage}, got ${String(limit)}`),
      )
    if (after !== null && (!validDate(after?.created) || typeof after.sessionId !== "string"))
      return Effect.fail(invalid("after", "after must be the last session of the previous page or null"))
    return checked(
      window,
      (w) =>
        query("audit.sessionsCreated", () =>
          sql<{
            session_id: string
            account: string
            status: string | null
            type: string | null
            livemode: boolean | null
            created: Date | null
            last_error_code: string | null
            redaction_status: string | null
            version: string
            last_change_at: Date | null
            metadata: Record<string, string>
          }>`
          select session_id, account, status, type, livemode, created, last_error_code, redaction_status, version,
                 last_change_at, metadata
            from ${ctx.ref("verification_sessions")} v
           where created >= ${w.from} and created < ${w.to} ${filterSql(filter)}
             and (created, session_id) > (coalesce(${after?.created ?? null}::timestamptz, '-infinity'),
                                          coalesce(${after?.sessionId ?? null}::text, ''))
           order by created, session_id limit ${limit}`.execute(ctx.db),
        ).pipe(
          Effect.map((r) =>
            r.rows.map((row) => ({
              sessionId: row.session_id,
              account: row.account,
              status: row.status,
              type: row.type,
              livemode: row.livemode,
              created: row.created,
              lastErrorCode: row.last_error_code,
              redactionStatus: row.redaction_status,
              events: Number(row.version),
              lastChangeAt: row.last_change_at,
              metadata: row.metadata,
            })),
          ),
        ),
      filter,
    )
  },
  histories: (sessionIds) => {
    if (
      !Array.isArray(sessionIds) ||
      sessionIds.length > maxPage ||
      !sessionIds.every((id) => typeof id === "string")
    )
      return Effect.fail(invalid("sessionIds", `sessionIds must be at most ${maxPage} session ids`))
    return Effect.flatMap(
      query("audit.histories", () =>
        queryRows(
          ctx.connection.pool,
          `${selectEvents} from ${ctx.tables.events} where stream_id = any($1::text[]) order by stream_id, stream_version`,
          [sessionIds],
        ),
      ),
      (rows) => Effect.fromResult(toRecorded(rows, ctx.eventVersions)),
    )
  },
})

export const runRecorder = (ctx: StoreContext): RunRecorder => ({
  recordRun: Effect.fn("runState.recordRun")(function* (run: RunReport) {
    const problem = checkRun(run)
    if (problem !== undefined) return yield* invalid("run", problem)
    yield* query("runState.recordRun", () =>
      sql`
        insert into ${ctx.ref("reconciler_runs")} (run_id, account, mode, dry_run, started_at, finished_at, complete,
          stopped_by, examined, started, repaired, unchanged, missing_remotely, quarantined, errors, events_by_type)
        values (${run.runId}, ${run.account}, ${run.mode}, ${run.dryRun}, ${asDate(run.startedAt)},
          ${asDate(run.finishedAt)}, ${run.complete}, ${run.stoppedBy}, ${run.examined}, ${run.started}, ${run.repaired},
          ${run.unchanged}, ${run.missingRemotelyCount}, ${run.quarantinedCount}, ${run.errors.length}, ${JSON.stringify(run.eventsByType ?? {})}::jsonb)`.execute(
        ctx.db,
      ),
    )
  }),
})
