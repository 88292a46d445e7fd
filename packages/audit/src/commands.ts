/**
 * `idtrail audit …`: the audit views as `effect/cli` commands (`auditCommand`), mounted by the
 * product's CLI (`@idtrail/reconciler`'s `cli/audit.ts`). Every handler needs the `EventStore`
 * service; that CLI provides it (`DATABASE_URL`, or an embedded PGlite in `--data-dir`). Text goes to stdout; the report and exports to files
 * (exports to stdout when no `--output`).
 *
 *   audit history vs_…                        the session's timeline
 *   audit state vs_… --at TIME [--clock recorded|stripe] [--json]
 *   audit export --from T --to T [--rows event|session] [--format csv|jsonl] [--output FILE]
 *                [--account A] [--livemode true|false]
 *   audit report --from T --to T --html FILE [--max-sessions N] [--account A] [--livemode true|false]
 *   audit serve [--port P] [--host H]          read-only page, 127.0.0.1 by default (?account=&livemode=)
 *
 * `--account` and `--livemode` keep one Stripe account's and/or one mode's sessions (a platform
 * account's name, `default` for everything recorded before accounts, or a connected `acct_…`).
 *
 * @since 0.1.0
 */
import { type EventStore, InvalidArgument } from "@idtrail/store"
import { Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { serveAudit } from "./serve.ts"
import { stateAt, timeline, timelineText, writeExport, writeExportFile, writeReport } from "./views.ts"
import { parseTime, parseWindow } from "./window.ts"

const session = Argument.String("session").pipe(Argument.withDescription("the VerificationSession id (vs_…)"))
const from = Flag.String("from").pipe(
  Flag.withDescription("start of the window, Stripe time: 2026-10-01 or an ISO time"),
)
const to = Flag.String("to").pipe(Flag.withDescription("end of the window, excluded"))
const account = Flag.String("account").pipe(
  Flag.withDescription(
    "one Stripe account's sessions: a platform account's name (default) or a connected account acct_… (default: every account)",
  ),
  Flag.optional,
)
const livemode = Flag.Literals("livemode", ["true", "false"]).pipe(
  Flag.withDescription("one mode's sessions: true (live) or false (test) (default: both)"),
  Flag.optional,
)

/** The `--account` and `--livemode` flags as the store's filter. */
const filterOf = (account: Option.Option<string>, livemode: Option.Option<"true" | "false">) => ({
  account: Option.getOrUndefined(account),
  livemode: Option.isSome(livemode) ? livemode.value === "true" : undefined,
})

const json = Flag.Boolean("json").pipe(
  Flag.withDescription("print JSON instead of text"),
  Flag.withDefault(false),
)

const orFail = <A>(value: A | InvalidArgument): Effect.Effect<A, InvalidArgument> =>
  value instanceof InvalidArgument ? Effect.fail(value) : Effect.succeed(value)

/** `audit history vs_…`: the session's timeline. */
export const historyCommand = Command.make("history", { session, json }, ({ session, json }) =>
  json
    ? Effect.flatMap(timeline(session), (entries) => Console.log(JSON.stringify(entries, null, 2)))
    : Effect.flatMap(timelineText(session), Console.log),
).pipe(
  Command.withDescription("A session's timeline: Stripe time, recorded time, source, actor, what changed"),
)

/** `audit state vs_… --at TIME`. */
export const stateCommand = Command.make(
  "state",
  {
    session,
    at: Flag.String("at").pipe(Flag.withDescription("the time: 2026-10-01 or an ISO time")),
    clock: Flag.Literals("clock", ["recorded", "stripe"]).pipe(
      Flag.withDescription("recorded: what our record said then; stripe: what was true at Stripe then"),
      Flag.withDefault("recorded"),
    ),
    json,
  },
  ({ session, at, clock, json }) =>
    Effect.gen(function* () {
      const time = yield* orFail(parseTime(at, "at"))
      const { state, text } = yield* stateAt(session, time, clock)
      yield* Console.log(json ? JSON.stringify(state, null, 2) : text)
    }),
).pipe(Command.withDescription("A session's state at a time"))

/** `audit export --from --to --rows --format [--output]`. */
export const exportCommand = Command.make(
  "export",
  {
    from,
    to,
    rows: Flag.Literals("rows", ["event", "session"]).pipe(
      Flag.withDescription("one row per event (Stripe time in the window) or per session (created in it)"),
      Flag.withDefault("event"),
    ),
    format: Flag.Literals("format", ["csv", "jsonl"]).pipe(
      Flag.withDescription(
        "CSV (# lines describe the columns, then a header row) or JSON Lines (a columns line first)",
      ),
      Flag.withDefault("csv"),
    ),
    output: Flag.String("output").pipe(Flag.withDescription("a file (default: stdout)"), Flag.optional),
    account,
    livemode,
  },
  ({ from, to, rows, format, output, account, livemode }) =>
    Effect.gen(function* () {
      const window = yield* orFail(parseWindow(from, to))
      const filter = filterOf(account, livemode)
      if (output._tag === "Some") {
        const bytes = yield* writeExportFile(window, { rows, format, filter }, output.value)
        yield* Console.error(`wrote ${bytes.toLocaleString("en")} bytes to ${output.value}`)
      } else yield* writeExport(window, { rows, format, filter }, process.stdout, "stdout")
    }),
).pipe(
  Command.withDescription("Export a window as CSV or JSON Lines, streamed, columns described at the top"),
)

/** `audit report --from --to --html FILE`. */
export const reportCommand = Command.make(
  "report",
  {
    from,
    to,
    html: Flag.String("html").pipe(Flag.withDescription("the HTML file to write")),
    maxSessions: Flag.Int("max-sessions").pipe(
      Flag.withDescription("sessions listed with their timelines (the counts cover all)"),
      Flag.withDefault(5000),
    ),
    account,
    livemode,
  },
  ({ from, to, html, maxSessions, account, livemode }) =>
    Effect.gen(function* () {
      const window = yield* orFail(parseWindow(from, to))
      const data = yield* writeReport(window, html, { maxSessions, filter: filterOf(account, livemode) })
      yield* Console.log(
        `wrote the audit report to ${html}: ${data.funnel.created.toLocaleString("en")} sessions created in the window, ${data.sessions.length.toLocaleString("en")} listed`,
      )
    }),
).pipe(Command.withDescription("Write the audit report: one self-contained HTML file"))

/** `audit serve --port P`: until interrupted. */
export const serveCommand = Command.make(
  "serve",
  {
    port: Flag.Int("port").pipe(Flag.withDefault(8080)),
    host: Flag.String("host").pipe(
      Flag.withDescription("the address to bind (default 127.0.0.1: this machine only)"),
      Flag.withDefault("127.0.0.1"),
    ),
    maxSessions: Flag.Int("max-sessions").pipe(Flag.withDefault(5000)),
  },
  ({ port, host, maxSessions }) =>
    Effect.scoped(
      Effect.gen(function* () {
        const server = yield* serveAudit({ port, host, maxSessions })
        yield* Console.log(
          `audit page (read-only) at ${server.url}, bound to ${server.host}${server.host === "127.0.0.1" ? " only: reachable from this machine alone" : ": put it behind your own authentication"}`,
        )
        return yield* Effect.never
      }),
    ),
).pipe(Command.withDescription("Serve the audit views read-only, live from the database"))

/** `audit`, with its subcommands, for the root `idtrail` CLI. Its handlers need `EventStore`. */
export const auditCommand = Command.make("audit").pipe(
  Command.withDescription(
    "Audit views: timelines, state at a time, exports, the HTML report, a read-only page",
  ),
  Command.withSubcommands([historyCommand, stateCommand, exportCommand, reportCommand, serveCommand]),
)

/** The service the commands need, for callers that check. */
export type AuditCommandRequirements = EventStore
