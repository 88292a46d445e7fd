/**
 * Exports for a compliance team: one row per event or per session of a window, as CSV or JSON
 * Lines, streamed a page at a time (constant memory, whatever the window holds).
 *
 * Each file describes its own columns:
 * - CSV: `#` comment lines first, one per column (`# name: description`), then the header row and
 *   the rows (RFC 4180 quoting). Spreadsheet tools read the comments with "skip lines starting
 *   with #" (pandas `comment="#"`, DuckDB `comment = '#'`). A text cell that a spreadsheet would
 *   run as a formula (starting with `=`, `+`, `-`, `@`, tab or CR) is prefixed with `'`.
 * - JSONL: a first line `{"columns": [{ "name", "description" }], "rows": "event" | "session",
 *   "window": { "from", "to" }}`, then one JSON object per row with those keys.
 *
 * Events are the log's in the global order whose Stripe time is in the window; sessions are
 * those Stripe created in the window, oldest first.
 *
 * @since 0.1.0
 */

import { defaultAccount } from "@idtrail/domain"
import {
  type CorruptEvent,
  type DatabaseError,
  EventStore,
  type InvalidArgument,
  type RecordedEvent,
  type SessionCursor,
  type SessionFilter,
  type SessionRow,
  type TimeWindow,
} from "@idtrail/store"
import { Effect, Option, Stream } from "effect"
import { type TimelineEntry, toTimelineEntry } from "./timeline.ts"

/** What one row stands for. */
export type ExportRows = "event" | "session"
/** The file format. */
export type ExportFormat = "csv" | "jsonl"

/** A column: its name, what it holds, and its value in a row. */
export interface Column<R> {
  readonly name: string
  readonly description: string
  readonly value: (row: R) => string | number | boolean | null
}

const iso = (d: Date | null) => (d === null ? null : d.toISOString())

/** An exported event and its timeline entry (computed once per row). */
export interface ExportedEvent {
  readonly e: RecordedEvent
  readonly t: TimelineEntry
}

const exported = (e: RecordedEvent): ExportedEvent => ({ e, t: toTimelineEntry(e) })

/** An event's account: its metadata's, `"default"` for events recorded before accounts. */
export const eventAccount = (e: RecordedEvent): string => e.metadata.account ?? defaultAccount

/** The columns of an event export. */
export const eventColumns: ReadonlyArray<Column<ExportedEvent>> = [
  { name: "position", description: "the event's position in the log", value: ({ e }) => e.position },
  { name: "session_id", description: "the VerificationSession (vs_…)", value: ({ e }) => e.streamId },
  {
    name: "version",
    description: "the event's number in its session's stream, from 1",
    value: ({ e }) => e.streamVersion,
  },
  {
    name: "type",
    description: "the domain event (SessionVerified, VerificationFailed, …)",
    value: ({ e }) => e.event._tag,
  },
  {
    name: "at",
    description: "Stripe's time of what the event describes (ISO 8601, UTC)",
    value: ({ e }) => iso(new Date(e.event.at * 1000)),
  },
  {
    name: "recorded_at",
    description: "when idtrail recorded it (ISO 8601, UTC)",
    value: ({ e }) => iso(e.recordedAt),
  },
  {
    name: "source",
    description: "webhook, events API (run id), read (run id), API read, or local",
    value: ({ t }) => t.source,
  },
  {
    name: "actor",
    description: "who caused it: service:name, user:id or reconciler:run id",
    value: ({ e }) => `${e.metadata.actor.kind}:${e.metadata.actor.id}`,
  },
  {
    name: "stripe_event_id",
    description: "the Stripe event (evt_…) it came from, if any",
    value: ({ e }) => e.metadata.stripeEventId,
  },
  {
    name: "stripe_event_type",
    description: "that Stripe event's type",
    value: ({ e }) => e.metadata.stripeEventType,
  },
  { name: "causation_id", description: "what caused this append", value: ({ e }) => e.metadata.causationId },
  {
    name: "correlation_id",
    description: "the id shared by one request or run",
    value: ({ e }) => e.metadata.correlationId,
  },
  { name: "change", description: "what changed, in words", value: ({ t }) => t.change },
  {
    name: "data",
    description: "the event as recorded (JSON; never personal data)",
    value: ({ e }) => JSON.stringify(e.event),
  },
  // Added with accounts: last, so the earlier columns keep their places.
  {
    name: "account",
    description: "the Stripe account: a platform account's name (default) or a connected account (acct_…)",
    value: ({ e }) => eventAccount(e),
  },
  {
    name: "livemode",
    description: "true for live mode; empty for events recorded before accounts",
    value: ({ e }) => e.metadata.livemode ?? null,
  },
]

/** The columns of a session export. */
export const sessionColumns: ReadonlyArray<Column<SessionRow>> = [
  { name: "session_id", description: "the VerificationSession (vs_…)", value: (s) => s.sessionId },
  { name: "created", description: "Stripe's created time (ISO 8601, UTC)", value: (s) => iso(s.created) },
  { name: "status", description: "its status now", value: (s) => s.status },
  { name: "type", description: "document or id_number", value: (s) => s.type },
  { name: "livemode", description: "true for live mode", value: (s) => s.livemode },
  {
    name: "last_error_code",
    description: "the code of its last failed check, if any",
    value: (s) => s.lastErrorCode,
  },
  {
    name: "redaction_status",
    description: "Stripe's redaction status, if redacted or being redacted",
    value: (s) => s.redactionStatus,
  },
  { name: "events", description: "how many events its history holds", value: (s) => s.events },
  {
    name: "last_change_at",
    description: "Stripe's time of its last change (ISO 8601, UTC)",
    value: (s) => iso(s.lastChangeAt),
  },
  {
    name: "metadata",
    description: "the merchant's metadata (JSON)",
    value: (s) => JSON.stringify(s.metadata),
  },
  {
    name: "account",
    description: "the Stripe account: a platform account's name (default) or a connected account (acct_…)",
    value: (s) => s.account,
  },
]

const formulaStart = /^[=+\-@\t\r]/

/** One CSV cell: quoted when it holds a comma, quote or line break; a formula-like text defused. */
export const csvCell = (v: string | number | boolean | null): string => {
  if (v === null) return ""
  if (typeof v !== "string") return String(v)
  const text = formulaStart.test(v) ? `'${v}` : v
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}

/** The lines that open a file: the column descriptions and, for CSV, the header row. */
export const preamble = <R>(
  columns: ReadonlyArray<Column<R>>,
  format: ExportFormat,
  rows: ExportRows,
  window: TimeWindow,
): string =>
  format === "csv"
    ? `${[
        `# idtrail ${rows} export, Stripe time from ${window.from.toISOString()} to ${window.to.toISOString()} (exclusive)`,
        ...columns.map((c) => `# ${c.name}: ${c.description}`),
      ]
        .map((l) => l.replace(/[\r\n]/g, " "))
        .join("\n")}\n${columns.map((c) => c.name).join(",")}\n`
    : `${JSON.stringify({
        columns: columns.map(({ name, description }) => ({ name, description })),
        rows,
        window: { from: window.from.toISOString(), to: window.to.toISOString() },
      })}\n`

/** The text of some rows, each ending with a newline. */
export const encodeRows = <R>(
  columns: ReadonlyArray<Column<R>>,
  format: ExportFormat,
  rows: ReadonlyArray<R>,
): string => {
  let out = ""
  for (const row of rows) {
    out +=
      format === "csv"
        ? `${columns.map((c) => csvCell(c.value(row))).join(",")}\n`
        : `${JSON.stringify(Object.fromEntries(columns.map((c) => [c.name, c.value(row)])))}\n`
  }
  return out
}

const inWindow = (window: TimeWindow, filter: SessionFilter) => {
  const from = window.from.getTime()
  const to = window.to.getTime()
  const { account, livemode } = filter
  return (e: RecordedEvent) =>
    e.event.at * 1000 >= from &&
    e.event.at * 1000 < to &&
    (account === undefined || eventAccount(e) === account) &&
    (livemode === undefined || e.metadata.livemode === livemode)
}

/** What to export. */
export interface ExportOptions {
  readonly rows: ExportRows
  readonly format: ExportFormat
  /** Rows read from the store at a time (default 1,000). */
  readonly pageSize?: number | undefined
  /**
   * One account's and/or one mode's rows. Events by their metadata (an event recorded before
   * accounts is the default account's and has no mode: a mode filter leaves it out).
   */
  readonly filter?: SessionFilter | undefined
}

/**
 * The export of a window as a stream of text chunks (the preamble, then one chunk per page of
 * the store): write them in order to a file or a socket.
 */
export const exportWindow = (
  window: TimeWindow,
  { rows, format, pageSize = 1000, filter = {} }: ExportOptions,
): Stream.Stream<string, InvalidArgument | CorruptEvent | DatabaseError, EventStore> =>
  Stream.unwrap(
    Effect.map(EventStore, (store): Stream.Stream<string, InvalidArgument | CorruptEvent | DatabaseError> => {
      if (rows === "event") {
        const keep = inWindow(window, filter)
        return Stream.concat(
          Stream.make(preamble(eventColumns, format, rows, window)),
          store.readAllPages({ after: null, pageSize: pageSize }).pipe(
            Stream.map((page) => encodeRows(eventColumns, format, page.events.filter(keep).map(exported))),
            Stream.filter((text) => text.length > 0),
          ),
        )
      }
      const pages = Stream.paginate(null as SessionCursor | null, (after) =>
        Effect.map(store.audit.sessionsCreated(window, { after, limit: pageSize }, filter), (page) => {
          const last = page[page.length - 1]
          const next =
            page.length === pageSize && last?.created != null
              ? { created: last.created, sessionId: last.sessionId }
              : undefined
          return [[page], Option.fromUndefinedOr(next)] as const
        }),
      )
      return Stream.concat(
        Stream.make(preamble(sessionColumns, format, rows, window)),
        pages.pipe(
          Stream.map((page) => encodeRows(sessionColumns, format, page)),
          Stream.filter((text) => text.length > 0),
        ),
      )
    }),
  )
