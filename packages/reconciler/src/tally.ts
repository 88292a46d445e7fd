/**
 * What a run counts as it goes: sessions compared, recorded, repaired; events by type; the first
 * repairs and the sessions missing at Stripe, for reading; the account's quarantine as the run
 * changes it; warnings and errors. It becomes the run's `Report`.
 *
 * @since 0.1.0
 */
import type { SessionEvent } from "@idtrail/domain"
import type { HandleResult } from "@idtrail/store"
import { driftOf } from "./drift.ts"
import type { Progress, Quarantined, Repair, Report } from "./report.ts"

const maxListedRepairs = 100
const maxListed = 1000

/** An error's tag and message, whatever was thrown. */
const describe = (error: unknown) => ({
  tag: (error as { _tag?: unknown })?._tag?.toString() ?? "Error",
  message: error instanceof Error ? error.message : String(error),
})

export class Tally {
  examined = 0
  started = 0
  repaired = 0
  pages = 0
  eventsRead = 0
  released = 0
  missingRemotelyCount = 0
  readonly missingRemotely: Array<string> = []
  readonly eventsByType: Record<string, number> = {}
  readonly repairs: Array<Repair> = []
  readonly warnings: Array<string> = []
  readonly errors: Array<{ sessionId: string | null; tag: string; message: string }> = []
  /** Errors that ended a page (or the run), not one session. */
  pageErrors = 0
  /** Events recorded from the Events API's snapshots (the history webhooks missed). */
  historyEvents = 0
  /** Events API snapshots whose event a webhook had recorded already. */
  historyAlreadyRecorded = 0
  /** Sessions read on the re-read schedule though no event named them. */
  scheduled = 0
  /** Repaired sessions by kind of drift (`status`, `redaction`, a field's name). */
  readonly driftByKind: Record<string, number> = {}
  /** Events of a session's history awaiting the read of its present. */
  private readonly history = new Map<string, { events: Array<SessionEvent>; wasNew: boolean }>()
  /** The account's quarantine, as loaded when the run started and changed by it since. */
  readonly quarantine = new Map<string, Quarantined>()

  /**
   * A past snapshot from the Events API, handled before the session's read: its events join the
   * session's repair; its stream was empty before if this appended its first event.
   */
  replayed(sessionId: string, result: HandleResult): void {
    const before = this.history.get(sessionId) ?? { events: [], wasNew: false }
    if (result._tag === "AlreadyRecorded") this.historyAlreadyRecorded++
    if (result._tag !== "EventsAppended" && result._tag !== "WouldAppend") return
    this.historyEvents += result.events.length
    const first =
      result._tag === "EventsAppended" ? result.nextVersion === result.events.length : result.version === 0
    this.history.set(sessionId, {
      events: [...before.events, ...result.events],
      wasNew: before.wasNew || (before.events.length === 0 && first),
    })
  }

  /**
   * A session compared with Stripe: `events` were (or would be) appended by the read of its
   * present; `wasNew` if its stream was empty. Its history's events, if any, come first.
   */
  observed(sessionId: string, readEvents: ReadonlyArray<SessionEvent>, readWasNew: boolean): void {
    this.examined++
    const history = this.history.get(sessionId)
    this.history.delete(sessionId)
    const events = history === undefined ? readEvents : [...history.events, ...readEvents]
    if (events.length === 0) return
    if (history?.wasNew ?? readWasNew) this.started++
    else this.repaired++
    for (const e of events) this.eventsByType[e._tag] = (this.eventsByType[e._tag] ?? 0) + 1
    const drift = driftOf(events)
    for (const d of new Set(drift.map((d) => d.what))) this.driftByKind[d] = (this.driftByKind[d] ?? 0) + 1
    if (this.repairs.length < maxListedRepairs)
      this.repairs.push({
        sessionId,
        events: events.map((e) => e._tag),
        drift,
        ...(history === undefined ? {} : { fromHistory: history.events.length }),
      })
  }

  /** A session (or, with `null`, a page) that could not be compared: the run will not be complete. */
  failed(sessionId: string | null, error: unknown): void {
    if (sessionId !== null) {
      this.examined++
      this.history.delete(sessionId)
    } else this.pageErrors++
    this.errors.push({ sessionId, ...describe(error) })
  }

  /** A failed session set aside (one more attempt if it was already there). */
  quarantined(sessionId: string, runId: string, error: unknown): void {
    const now = new Date().toISOString()
    const { tag, message } = describe(error)
    const before = this.quarantine.get(sessionId)
    this.quarantine.set(sessionId, {
      sessionId,
      errorTag: tag,
      message,
      runId,
      attempts: (before?.attempts ?? 0) + 1,
      firstAt: before?.firstAt ?? now,
      lastAt: now,
    })
  }

  /** A quarantined session that was recorded this time. */
  releasedFromQuarantine(sessionId: string): void {
    if (this.quarantine.delete(sessionId)) this.released++
  }

  missingAtStripe(sessionId: string): void {
    this.missingRemotelyCount++
    if (this.missingRemotely.length < maxListed) this.missingRemotely.push(sessionId)
  }

  progress(phase: Progress["phase"]): Progress {
    return {
      phase,
      pages: this.pages,
      examined: this.examined,
      repaired: this.repaired,
      started: this.started,
      errors: this.errors.length,
    }
  }

  report(
    run: Pick<Report, "runId" | "account" | "mode" | "dryRun" | "startedAt" | "requests" | "stoppedBy">,
  ): Report {
    const quarantined = [...this.quarantine.values()].sort((a, b) => (a.sessionId < b.sessionId ? -1 : 1))
    return {
      ...run,
      finishedAt: new Date().toISOString(),
      complete: this.errors.length === 0 && run.stoppedBy === null,
      examined: this.examined,
      started: this.started,
      repaired: this.repaired,
      unchanged:
        this.examined - this.started - this.repaired - this.errors.filter((e) => e.sessionId !== null).length,
      eventsByType: this.eventsByType,
      repairs: this.repairs,
      missingRemotelyCount: this.missingRemotelyCount,
      missingRemotely: this.missingRemotely,
      eventsRead: this.eventsRead,
      historyEvents: this.historyEvents,
      historyAlreadyRecorded: this.historyAlreadyRecorded,
      scheduled: this.scheduled,
      driftByKind: this.driftByKind,
      quarantinedCount: quarantined.length,
      quarantined: quarantined.slice(0, maxListed),
      released: this.released,
      warnings: this.warnings,
      errors: this.errors,
    }
  }
}
