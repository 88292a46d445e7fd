/**
 * `idtrail reconcile --report FILE`: the audit report (`@idtrail/audit`'s HTML file) of a run's
 * window, written when the run ends. The window is what the run vouches for: from the oldest
 * session in the record (Stripe's `created`), or the run's start if older, to the end of the run,
 * so it holds every session the record had then and the run itself in its runs section.
 *
 * @since 0.1.0
 */
import { accessSync, constants, statSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { writeReport } from "@idtrail/audit"
import { EventStore, type EventStoreService, type TimeWindow } from "@idtrail/store"
import { Effect } from "effect"
import { InvalidConfig } from "../errors.ts"
import type { Report } from "../report.ts"

const second = 1000

/** The run's window: whole seconds (Stripe's resolution), the run's last second included. */
export const runWindow = (store: EventStoreService, report: Report) =>
  Effect.gen(function* () {
    const started = Math.floor(Date.parse(report.startedAt) / second) * second
    const to = new Date((Math.floor(Date.parse(report.finishedAt) / second) + 1) * second)
    const [oldest] = yield* store.audit.sessionsCreated(
      { from: new Date(0), to },
      { after: null, limit: 1 },
      { account: report.account },
    )
    const from = new Date(Math.min(started, oldest?.created?.getTime() ?? started))
    return { from, to } satisfies TimeWindow
  })

/** Checks before the run that `file` can be written (its directory exists and is writable). */
export const checkReportFile = (file: string, cwd: string) =>
  Effect.try({
    try: () => {
      const path = resolve(cwd, file)
      if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`${path} is a directory`)
      accessSync(dirname(path), constants.W_OK)
      return path
    },
    catch: (cause) =>
      new InvalidConfig({
        setting: "--report",
        message: `--report ${JSON.stringify(file)} cannot be written: ${cause instanceof Error ? cause.message : String(cause)}`,
      }),
  })

/** Writes the report of `report`'s window to `file` (relative to `cwd`); resolves with its absolute path. */
export const writeRunReport = (store: EventStoreService, report: Report, file: string, cwd: string) =>
  Effect.gen(function* () {
    const path = resolve(cwd, file)
    const window = yield* runWindow(store, report)
    const data = yield* writeReport(window, path, { filter: { account: report.account } })
    return { path, window, sessions: data.funnel.created }
  }).pipe(Effect.provideService(EventStore, store))
