/**
 * `@idtrail/audit`: the audit views people read. A session's timeline and its state at a time,
 * exports (CSV, JSON Lines) streamed in constant memory, the audit report as one self-contained
 * HTML file, and a read-only page served live from the database. Effects over the store's
 * `EventStore` service, their Promise forms (`auditViews(store)`), and `effect/cli` commands
 * (`auditCommand`).
 *
 * @since 0.1.0
 */
import type { Writable } from "node:stream"
import { EventStore, type PromiseStore, type TimeWindow } from "@idtrail/store"
import { Effect, Exit, Scope } from "effect"
import type { ExportOptions } from "./export.ts"
import type { ReportOptions } from "./report-data.ts"
import { type ServeOptions, serveAudit } from "./serve.ts"
import * as views from "./views.ts"

export { type Bar, barChart, escapeHtml, stackedColumns } from "./charts.ts"
export {
  auditCommand,
  exportCommand,
  historyCommand,
  reportCommand,
  serveCommand,
  stateCommand,
} from "./commands.ts"
export { OutputFailed } from "./errors.ts"
export {
  type Column,
  csvCell,
  type ExportFormat,
  type ExportOptions,
  type ExportRows,
  eventColumns,
  exportWindow,
  sessionColumns,
} from "./export.ts"
export { contentSecurityPolicy, formatDuration, type RenderOptions, renderReportHtml } from "./html.ts"
export {
  type AuditReportData,
  histogramEdges,
  type ReportOptions,
  type ReportSession,
  reportData,
} from "./report-data.ts"
export { type AuditServer, type ServeOptions, serveAudit, windowOfQuery } from "./serve.ts"
export {
  describeChange,
  describeSource,
  renderState,
  renderTimeline,
  type TimelineEntry,
  terminalSafe,
  toTimelineEntry,
} from "./timeline.ts"
export {
  type Clock,
  stateAt,
  timeline,
  timelineText,
  writeExport,
  writeExportFile,
  writeReport,
} from "./views.ts"
export { parseTime, parseWindow } from "./window.ts"

/**
 * The audit views for Promise code, over an open store. Each rejects with the tagged error
 * itself (check `_tag`), as the store's facade does.
 */
export const auditViews = (store: PromiseStore) => {
  const run = <A, E>(effect: Effect.Effect<A, E, EventStore>): Promise<A> =>
    Effect.runPromise(Effect.provideService(effect, EventStore, store.service))
  return {
    timeline: (sessionId: string) => run(views.timeline(sessionId)),
    timelineText: (sessionId: string) => run(views.timelineText(sessionId)),
    stateAt: (sessionId: string, at: Date, clock?: views.Clock) => run(views.stateAt(sessionId, at, clock)),
    writeReport: (window: TimeWindow, file: string, options?: ReportOptions) =>
      run(views.writeReport(window, file, options)),
    writeExport: (window: TimeWindow, options: ExportOptions, out: Writable) =>
      run(views.writeExport(window, options, out)),
    writeExportFile: (window: TimeWindow, options: ExportOptions, file: string) =>
      run(views.writeExportFile(window, options, file)),
    /** Starts the page; `close()` stops it. */
    serve: async (options: ServeOptions) => {
      const scope = Effect.runSync(Scope.make())
      const server = await run(Scope.provide(serveAudit(options), scope)).catch(async (e) => {
        await Effect.runPromise(Scope.close(scope, Exit.void))
        throw e
      })
      return { ...server, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
    },
  }
}
