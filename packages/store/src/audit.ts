/**
 * The questions auditors ask, as functions over the store's SQL views (`sql/schema.sql`;
 * analysts can query the same views directly). Windows are half-open, `[from, to)`,
 * on Stripe's clock (the `at` of each event).
 *
 * @since 0.1.0
 */
import { fold, type SessionState, stepAt } from "@idtrail/domain"
import { Effect } from "effect"
import { sql } from "kysely"
import type { StoreContext } from "./context.ts"
import { type CorruptEvent, type DatabaseError, InvalidArgument, type InvalidStreamId } from "./errors.ts"
import type { Actor, EventSource } from "./metadata.ts"
import { type RecordedEvent, readStream } from "./read.ts"
import { checkFilter, filterSql, inFilteredSessions, type SessionFilter } from "./sessions.ts"
import { query } from "./sql-errors.ts"

/** A half-open time window `[from, to)`. */
export interface TimeWindow {
  readonly from: Date
  readonly to: Date
}

/** One entry of a session's history: the event and who or what caused it. */
export interface HistoryEntry {
  readonly version: number
  readonly position: number
  readonly type: string
  /** Stripe time of what the event describes. */
  readonly at: Date
  readonly recordedAt: Date
  readonly source: EventSource
  readonly stripeEventId: string | null
  readonly stripeEventType: string | null
  readonly causationId: string | null
  readonly correlationId: string | null
  readonly actor: Actor
  readonly event: RecordedEvent["event"]
}

/** How many transitions went from one status into another. */
export interface TransitionCount {
  readonly fromStatus: string | null
  readonly toStatus: string
  readonly count: number
}

/** How many sessions are in a status now. */
export interface StatusCount {
  readonly status: string
  readonly sessions: number
}

/** How often a failure code was reported. */
export interface FailureCount {
  readonly code: string | null
  readonly count: number
}

/**
 * Seconds from Stripe's `created` to the transition into verified, on Stripe's clock, over the
 * sessions verified in a window whose transition time is known (Stripe's `verified` event dated it).
 */
export interface TimeToVerified {
  /** Sessions measured. */
  readonly sessions: number
  /**
   * Sessions seen verified in the window whose transition time is unknown (first seen already
   * verified, e.g. by a sweep, or seen verified by a read): left out of the percentiles.
   */
  readonly transitionTimeUnknown: number
  readonly p50: number | null
  readonly p90: number | null
  readonly p99: number | null
}

/** A session redacted at Stripe, being redacted, or whose redaction was requested here. */
export interface RedactionEntry {
  readonly sessionId: string
  readonly status: string | null
  readonly redactionStatus: string | null
  readonly redaction: "redacted" | "pending" | "requested"
  readonly requestedAt: Date | null
}

const checkWindow = (window: TimeWindow): Effect.Effect<TimeWindow, InvalidArgument> =>
  window.from instanceof Date &&
  window.to instanceof Date &&
  !Number.isNaN(window.from.getTime()) &&
  !Number.isNaN(window.to.getTime()) &&
  window.from.getTime() <= window.to.getTime()
    ? Effect.succeed(window)
    : Effect.fail(
        new InvalidArgument({ argument: "window", message: "a window needs valid dates with from <= to" }),
      )

/** The filter checked, then `run`: a bad filter is an `InvalidArgument`, nothing is read. */
export const filtered = <A, E>(
  filter: SessionFilter,
  run: () => Effect.Effect<A, E>,
): Effect.Effect<A, E | InvalidArgument> => {
  const bad = checkFilter(filter)
  return bad === undefined ? run() : Effect.fail(bad)
}

/**
 * Every audit query, bound to one store. Those over many sessions take an optional filter, one
 * account's and/or one mode's sessions (`SessionFilter`); absent, every account's.
 */
export const audit = (ctx: StoreContext) => ({
  /** A session's history in version order, with source, Stripe event, causation and actor. */
  history: (
    sessionId: string,
  ): Effect.Effect<
    ReadonlyArray<HistoryEntry>,
    InvalidStreamId | InvalidArgument | CorruptEvent | DatabaseError
  > =>
    Effect.map(readStream(ctx)(sessionId), (events) =>
      events.map((e) => ({
        version: e.streamVersion,
        position: e.position,
        type: e.event._tag,
        at: new Date(e.event.at * 1000),
        recordedAt: e.recordedAt,
        source: e.metadata.source,
        stripeEventId: e.metadata.stripeEventId,
        stripeEventType: e.metadata.stripeEventType,
        causationId: e.metadata.causationId,
        correlationId: e.metadata.correlationId,
        actor: e.metadata.actor,
        event: e.event,
      })),
    ),

  /**
   * A session's state at a time. `clock: "recorded"` (default) answers "what did our record say
   * then?" (events recorded up to `at`); `"stripe"` answers "what was true at Stripe then, as far
   * as we know now?" (the events describing moments up to `at`).
   */
  stateAt: (
    sessionId: string,
    at: Date,
    options: { readonly clock?: "recorded" | "stripe" } = {},
  ): Effect.Effect<SessionState, InvalidStreamId | InvalidArgument | CorruptEvent | DatabaseError> =>
    Effect.gen(function* () {
      if (!(at instanceof Date) || Number.isNaN(at.getTime())) {
        return yield* new InvalidArgument({ argument: "at", message: "at must be a valid Date" })
      }
      const events = yield* readStream(ctx)(sessionId)
      const seconds = Math.floor(at.getTime() / 1000)
      const upTo: Array<RecordedEvent["event"]> = []
      for (const e of events) {
        if (options.clock === "stripe" ? e.event.at > seconds : e.recordedAt.getTime() > at.getTime()) break
        upTo.push(e.event)
      }
      const state = fold(upTo)
      if (options.clock !== "stripe" || state.facts === null) return state
      // A late step (recorded after later ones) changes no present when folded: the status at a
      // Stripe time is the last step in Stripe's order at or before it.
      const step = stepAt(
        events.map((e) => e.event),
        seconds,
      )
      if (step === undefined || step.status === state.facts.status) return state
      const lastError =
        step.event._tag === "VerificationFailed"
          ? { code: step.event.code, reason: step.event.reason }
          : step.event._tag === "SessionStarted"
            ? step.event.facts.lastError
            : state.facts.lastError
      return { ...state, facts: { ...state.facts, status: step.status, lastError } }
    }),

  /** Transitions whose Stripe time falls in the window, counted by (from, to) status. */
  transitions: (
    window: TimeWindow,
    filter: SessionFilter = {},
  ): Effect.Effect<ReadonlyArray<TransitionCount>, InvalidArgument | DatabaseError> =>
    Effect.flatMap(checkWindow(window), (w) =>
      filtered(filter, () =>
        query("audit.transitions", () =>
          sql<{ from_status: string | null; to_status: string; count: string }>`
          select from_status, to_status, count(*) as count from ${ctx.ref("session_transitions")}
          where at >= ${w.from} and at < ${w.to} and from_status is distinct from to_status
            ${inFilteredSessions(ctx, "session_id", filter)}
          group by from_status, to_status order by to_status, from_status nulls first`.execute(ctx.db),
        ).pipe(
          Effect.map((r) =>
            r.rows.map((row) => ({
              fromStatus: row.from_status,
              toStatus: row.to_status,
              count: Number(row.count),
            })),
          ),
        ),
      ),
    ),

  /** How many sessions are in each status now. */
  countsByStatus: (
    filter: SessionFilter = {},
  ): Effect.Effect<ReadonlyArray<StatusCount>, InvalidArgument | DatabaseError> =>
    filtered(filter, () =>
      query("audit.countsByStatus", () =>
        // The view's definition, with the filter (the view itself counts every account).
        sql<{
          status: string
          sessions: string
        }>`select status, count(*) as sessions from ${ctx.ref("verification_sessions")} v
            where true ${filterSql(filter)} group by status order by status`.execute(ctx.db),
      ).pipe(
        Effect.map((r) => r.rows.map((row) => ({ status: row.status, sessions: Number(row.sessions) }))),
      ),
    ),

  /** Failed checks in the window, counted by Stripe's error code, most frequent first. */
  failureReasons: (
    window: TimeWindow,
    filter: SessionFilter = {},
  ): Effect.Effect<ReadonlyArray<FailureCount>, InvalidArgument | DatabaseError> =>
    Effect.flatMap(checkWindow(window), (w) =>
      filtered(filter, () =>
        query("audit.failureReasons", () =>
          sql<{ code: string | null; count: string }>`select code, count(*) as count
          from ${ctx.ref("session_failures")} where at >= ${w.from} and at < ${w.to}
            ${inFilteredSessions(ctx, "session_id", filter)}
          group by code order by count(*) desc, code nulls last`.execute(ctx.db),
        ).pipe(Effect.map((r) => r.rows.map((row) => ({ code: row.code, count: Number(row.count) })))),
      ),
    ),

  /**
   * Percentiles (interpolated, like `percentile_cont`) of seconds from creation to verified, for
   * sessions verified in the window, over those whose transition time is known (the view's
   * `seconds`; the others are counted apart).
   */
  timeToVerified: (
    window: TimeWindow,
    filter: SessionFilter = {},
  ): Effect.Effect<TimeToVerified, InvalidArgument | DatabaseError> =>
    Effect.flatMap(checkWindow(window), (w) =>
      filtered(filter, () =>
        query("audit.timeToVerified", () =>
          sql<{
            sessions: string
            unknown: string
            p50: number | null
            p90: number | null
            p99: number | null
          }>`
          select count(seconds) as sessions, count(*) - count(seconds) as unknown,
                 percentile_cont(0.5) within group (order by seconds) as p50,
                 percentile_cont(0.9) within group (order by seconds) as p90,
                 percentile_cont(0.99) within group (order by seconds) as p99
            from ${ctx.ref("session_verification_times")}
           where verified_at >= ${w.from} and verified_at < ${w.to}
             ${inFilteredSessions(ctx, "session_id", filter)}`.execute(ctx.db),
        ).pipe(
          Effect.map((r) => {
            const row = r.rows[0]!
            return {
              sessions: Number(row.sessions),
              transitionTimeUnknown: Number(row.unknown),
              p50: row.p50,
              p90: row.p90,
              p99: row.p99,
            }
          }),
        ),
      ),
    ),

  /** Sessions redacted, pending redaction at Stripe, or whose redaction was requested here. */
  redactions: (
    filter: SessionFilter = {},
  ): Effect.Effect<ReadonlyArray<RedactionEntry>, InvalidArgument | DatabaseError> =>
    filtered(filter, () =>
      query("audit.redactions", () =>
        sql<{
          session_id: string
          status: string | null
          redaction_status: string | null
          redaction: RedactionEntry["redaction"]
          requested_at: Date | null
        }>`select session_id, status, redaction_status, redaction, requested_at
        from ${ctx.ref("session_redactions")} where true ${inFilteredSessions(ctx, "session_id", filter)}
        order by session_id`.execute(ctx.db),
      ).pipe(
        Effect.map((r) =>
          r.rows.map((row) => ({
            sessionId: row.session_id,
            status: row.status,
            redactionStatus: row.redaction_status,
            redaction: row.redaction,
            requestedAt: row.requested_at,
          })),
        ),
      ),
    ),
})

/** The audit queries of one store. */
export type Audit = ReturnType<typeof audit>
