/**
 * What a run counts as it goes: sessions compared, recorded, repaired; events by type; the first
 * repairs and the sessions missing at Stripe, for reading; warnings and errors. It becomes the
 * run's `Report`.
 *
 * @since 0.1.0
 */
import type { SessionEvent } from "@idtrail/domain"
import type { Progress, Repair, Report } from "./report.ts"

const maxListedRepairs = 100
const maxListedMissing = 1000

export class Tally {
  examined = 0
  started = 0
  repaired = 0
  pages = 0
  eventsRead = 0
  missingRemotelyCount = 0
  readonly missingRemotely: Array<string> = []
  readonly eventsByType: Record<string, number> = {}
  readonly repairs: Array<Repair> = []
  readonly warnings: Array<string> = []
  readonly errors: Array<{ sessionId: string | null; message: string }> = []

  /** A session compared with Stripe: `events` were (or would be) appended; `wasNew` if its stream was empty. */
  observed(sessionId: string, events: ReadonlyArray<SessionEvent>, wasNew: boolean): void {
    this.examined++
    if (events.length === 0) return
    if (wasNew) this.started++
    else this.repaired++
    for (const e of events) this.eventsByType[e._tag] = (this.eventsByType[e._tag] ?? 0) + 1
    if (this.repairs.length < maxListedRepairs)
      this.repairs.push({ sessionId, events: events.map((e) => e._tag) })
  }

  /** A session (or, with `null`, a page) that could not be compared: the run will not be complete. */
  failed(sessionId: string | null, error: unknown): void {
    if (sessionId !== null) this.examined++
    this.errors.push({ sessionId, message: error instanceof Error ? error.message : String(error) })
  }

  missingAtStripe(sessionId: string): void {
    this.missingRemotelyCount++
    if (this.missingRemotely.length < maxListedMissing) this.missingRemotely.push(sessionId)
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

  report(run: Pick<Report, "runId" | "account" | "mode" | "dryRun" | "startedAt" | "requests">): Report {
    return {
      ...run,
      finishedAt: new Date().toISOString(),
      complete: this.errors.length === 0,
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
      warnings: this.warnings,
      errors: this.errors,
    }
  }
}
