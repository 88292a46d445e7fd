/**
 * Everything the HTML report and the served page show, for one window, read through the store's
 * audit queries (so the report's numbers are the queries' numbers) in one place.
 *
 * @since 0.1.0
 */
import {
  type CorruptEvent,
  type DailyFailureCount,
  type DatabaseError,
  EventStore,
  type FailureCount,
  type Funnel,
  type HistogramBucket,
  InvalidArgument,
  type KindCount,
  type RedactionEntry,
  type RunRecord,
  type SessionCursor,
  type SessionFilter,
  type SessionRow,
  type StatusCount,
  type TimeToVerified,
  type TimeWindow,
  type TransitionCount,
} from "@idtrail/store"
import { Effect } from "effect"
import { type TimelineEntry, toTimelineEntry } from "./timeline.ts"

/** A session of the report's table, with its timeline. */
export interface ReportSession {
  readonly row: SessionRow
  readonly timeline: ReadonlyArray<TimelineEntry>
}

/** The report's data. Sessions are those Stripe created in the window; see each field. */
export interface AuditReportData {
  readonly window: TimeWindow
  /** The account and mode the report covers (empty: every account's sessions, both modes). */
  readonly filter: SessionFilter
  readonly generatedAt: Date
  /** Sessions created in the window, by status now. */
  readonly sessionStatuses: ReadonlyArray<StatusCount>
  /** Sessions created in the window, by type. */
  readonly sessionTypes: ReadonlyArray<KindCount>
  /** Events whose Stripe time is in the window, by type. */
  readonly eventCounts: ReadonlyArray<KindCount>
  /** Transitions whose Stripe time is in the window. */
  readonly transitions: ReadonlyArray<TransitionCount>
  readonly funnel: Funnel
  /** Sessions verified in the window (`audit.timeToVerified`). */
  readonly timeToVerified: TimeToVerified
  readonly histogram: ReadonlyArray<HistogramBucket>
  readonly failureReasons: ReadonlyArray<FailureCount>
  readonly failuresByDay: ReadonlyArray<DailyFailureCount>
  /** Every session redacted, pending redaction, or whose redaction was requested, now. */
  readonly redactions: ReadonlyArray<RedactionEntry>
  /** Reconciler runs that started in the window (our clock). */
  readonly runs: ReadonlyArray<RunRecord>
  /** The first `maxSessions` sessions created in the window, oldest first, with their timelines. */
  readonly sessions: ReadonlyArray<ReportSession>
}

/** Options of {@link reportData}. */
export interface ReportOptions {
  /** The most sessions listed with their timelines (default 5,000; the counts cover all). */
  readonly maxSessions?: number | undefined
  /** One account's and/or one mode's sessions (default: all). */
  readonly filter?: SessionFilter | undefined
}

/** Bucket edges of the time-to-verified histogram, in seconds. */
export const histogramEdges: ReadonlyArray<number> = [
  0,
  60,
  300,
  900,
  3_600,
  6 * 3_600,
  86_400,
  3 * 86_400,
  7 * 86_400,
]

const sessionPage = 1000

/** Reads the report's data for a window. */
export const reportData = Effect.fn("audit.reportData")(function* (
  window: TimeWindow,
  options: ReportOptions = {},
): Effect.fn.Return<AuditReportData, InvalidArgument | CorruptEvent | DatabaseError, EventStore> {
  const maxSessions = options.maxSessions ?? 5000
  if (!Number.isSafeInteger(maxSessions) || maxSessions < 0)
    return yield* new InvalidArgument({
      argument: "maxSessions",
      message: `maxSessions must be a non-negative integer, got ${String(maxSessions)}`,
    })
  const filter = options.filter ?? {}
  const store = yield* EventStore
  const audit = store.audit
  const [sessionStatuses, sessionTypes, eventCounts, transitions, funnel, timeToVerified, histogram] =
    yield* Effect.all([
      audit.sessionStatuses(window, filter),
      audit.sessionTypes(window, filter),
      audit.eventCounts(window, filter),
      audit.transitions(window, filter),
      audit.funnel(window, filter),
      audit.timeToVerified(window, filter),
      audit.verificationHistogram(window, histogramEdges, filter),
    ])
  const [failureReasons, failuresByDay, redactions, runs] = yield* Effect.all([
    audit.failureReasons(window, filter),
    audit.failuresByDay(window, filter),
    audit.redactions(filter),
    audit.runs(window, filter),
  ])
  const sessions: Array<ReportSession> = []
  let after: SessionCursor | null = null
  while (sessions.length < maxSessions) {
    const limit = Math.min(sessionPage, maxSessions - sessions.length)
    const page: ReadonlyArray<SessionRow> = yield* audit.sessionsCreated(window, { after, limit }, filter)
    const events = yield* audit.histories(page.map((s) => s.sessionId))
    const bySession = new Map<string, Array<TimelineEntry>>()
    for (const e of events) {
      const list = bySession.get(e.streamId) ?? []
      list.push(toTimelineEntry(e))
      bySession.set(e.streamId, list)
    }
    for (const row of page) sessions.push({ row, timeline: bySession.get(row.sessionId) ?? [] })
    const last = page[page.length - 1]
    if (page.length < limit || last?.created == null) break
    after = { created: last.created, sessionId: last.sessionId }
  }
  return {
    window,
    filter,
    generatedAt: new Date(),
    sessionStatuses,
    sessionTypes,
    eventCounts,
    transitions,
    funnel,
    timeToVerified,
    histogram,
    failureReasons,
    failuresByDay,
    redactions,
    runs,
    sessions,
  }
})
