/**
 * The audit views as Effects over the `EventStore` service: a session's timeline and its state
 * at a time (as text or data), the HTML report written to a file, an export written to a file
 * or a stream. The CLI commands (`commands.ts`) and the Promise forms (`index.ts`) call these.
 *
 * @since 0.1.0
 */
import { open, rename, writeFile } from "node:fs/promises"
import type { Writable } from "node:stream"
import type { SessionState } from "@idtrail/domain"
import { EventStore, type TimeWindow } from "@idtrail/store"
import { Effect, Stream } from "effect"
import { type OutputFailed, outputFailed } from "./errors.ts"
import { type ExportOptions, exportWindow } from "./export.ts"
import { renderReportHtml } from "./html.ts"
import { type AuditReportData, type ReportOptions, reportData } from "./report-data.ts"
import { renderState, renderTimeline, type TimelineEntry, toTimelineEntry } from "./timeline.ts"

/** A session's timeline, oldest event first. */
export const timeline = Effect.fn("audit.timeline")(function* (sessionId: string) {
  const store = yield* EventStore
  const events = yield* store.readStream(sessionId)
  return events.map(toTimelineEntry) as ReadonlyArray<TimelineEntry>
})

/** A session's timeline as aligned text for a terminal. */
export const timelineText = (sessionId: string) =>
  Effect.map(timeline(sessionId), (entries) => renderTimeline(sessionId, entries))

/** Which clock `stateAt` reads: what our record said then, or what was true at Stripe then. */
export type Clock = "recorded" | "stripe"

/** A session's state at a time (see the store's `audit.stateAt`), as data and as text. */
export const stateAt = Effect.fn("audit.stateAt")(function* (
  sessionId: string,
  at: Date,
  clock: Clock = "recorded",
) {
  const store = yield* EventStore
  const state: SessionState = yield* store.audit.stateAt(sessionId, at, { clock })
  return { state, text: renderState(sessionId, at, clock, state) }
})

/** Reads the report's data for `window` and writes it as one HTML file (atomically: a temporary file renamed). */
export const writeReport = Effect.fn("audit.writeReport")(function* (
  window: TimeWindow,
  file: string,
  options: ReportOptions = {},
) {
  const data: AuditReportData = yield* reportData(window, options)
  const temporary = `${file}.${process.pid}.tmp`
  yield* Effect.tryPromise({
    try: async () => {
      await writeFile(temporary, renderReportHtml(data), "utf8")
      await rename(temporary, file)
    },
    catch: (cause) => outputFailed(file, cause),
  })
  return data
})

/** Writes one chunk, waiting for the stream to drain when its buffer is full (constant memory). */
const writeChunk = (out: Writable, target: string, chunk: string) =>
  Effect.callback<void, OutputFailed>((resume) => {
    if (out.destroyed || out.writableEnded)
      return resume(Effect.fail(outputFailed(target, "the output is closed")))
    const onError = (e: Error) => resume(Effect.fail(outputFailed(target, e)))
    if (out.write(chunk)) return resume(Effect.void)
    out.once("error", onError)
    out.once("drain", () => {
      out.off("error", onError)
      resume(Effect.void)
    })
  })

/** Streams an export of `window` into `out` (a file, stdout, a socket); resolves with the bytes written. */
export const writeExport = Effect.fn("audit.writeExport")(function* (
  window: TimeWindow,
  options: ExportOptions,
  out: Writable,
  target = "the output",
) {
  let bytes = 0
  yield* Stream.runForEach(exportWindow(window, options), (chunk) => {
    bytes += Buffer.byteLength(chunk)
    return writeChunk(out, target, chunk)
  })
  return bytes
})

/** {@link writeExport} into a file, created or replaced. */
export const writeExportFile = (window: TimeWindow, options: ExportOptions, file: string) =>
  Effect.acquireUseRelease(
    Effect.tryPromise({
      try: async () => {
        const out = (await open(file, "w")).createWriteStream()
        out.on("error", () => {}) // an error destroys the stream; the next write reports it
        return out
      },
      catch: (cause) => outputFailed(file, cause),
    }),
    (out) =>
      writeExport(window, options, out, file).pipe(
        // The file is complete only once it is flushed and closed.
        Effect.tap(() =>
          Effect.callback<void, OutputFailed>((resume) => {
            out.once("error", (e) => resume(Effect.fail(outputFailed(file, e))))
            out.end(() => resume(Effect.void))
          }),
        ),
      ),
    (out) => Effect.sync(() => out.destroyed || out.writableEnded || out.destroy()),
  )
