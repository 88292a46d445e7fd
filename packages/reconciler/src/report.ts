/**
 * What a run did, for a person (`renderReport`) and for machines (the same object as JSON).
 *
 * @since 0.1.0
 */
import type { Difference } from "./drift.ts"

/** One session whose local record changed (or, in a dry run, would change). */
export interface Repair {
  readonly sessionId: string
  /** The domain events appended (or that would be), in order. */
  readonly events: ReadonlyArray<string>
  /** What differed, before → after (none for a session missing locally). */
  readonly drift: ReadonlyArray<Difference>
  /** How many of `events` came from the Events API's history (absent: none). */
  readonly fromHistory?: number
}

/** A session set aside after failing: later runs retry it, and the first to succeed releases it. */
export interface Quarantined {
  readonly sessionId: string
  /** The `_tag` of the last error, and its message. */
  readonly errorTag: string
  readonly message: string
  /** How many runs failed on it. */
  readonly attempts: number
  /** The run that failed on it last. */
  readonly runId: string
  readonly firstAt: string
  readonly lastAt: string
}

export interface Report {
  readonly runId: string
  readonly account: string
  readonly mode: "incremental" | "sweep"
  readonly dryRun: boolean
  readonly startedAt: string
  readonly finishedAt: string
  /** True only when nothing failed: a run with any error never counts as complete. */
  readonly complete: boolean
  /**
   * `null` when the run went to its end; otherwise what stopped it early: `interrupted` (a
   * signal), or the tag of the error that ended it. The counts are then those of the run so far.
   */
  readonly stoppedBy: string | null
  /** Sessions read from Stripe and compared with the local record. */
  readonly examined: number
  /** Sessions the local record did not know yet, now recorded (or that would be). */
  readonly started: number
  /** Known sessions whose local record drifted and was repaired (or would be). */
  readonly repaired: number
  readonly unchanged: number
  /** Events appended (or that would be), by type. */
  readonly eventsByType: Readonly<Record<string, number>>
  /** The first 100 repairs, for reading; the counts above are complete. */
  readonly repairs: ReadonlyArray<Repair>
  /** Sweep only: how many local sessions Stripe's list does not have (reported, never changed). */
  readonly missingRemotelyCount: number
  /** The first 1,000 of them. */
  readonly missingRemotely: ReadonlyArray<string>
  /** Incremental only: Identity events read from the Events API. */
  readonly eventsRead: number
  /** Incremental only: events recorded from the Events API's snapshots (history webhooks missed). */
  readonly historyEvents: number
  /** Incremental only: Events API snapshots a webhook had recorded already. */
  readonly historyAlreadyRecorded: number
  /** Incremental only: open sessions no event named, read on the re-read schedule. */
  readonly scheduled: number
  /** Repaired sessions by kind of drift: `status`, `redaction`, or a tracked field's name. */
  readonly driftByKind: Readonly<Record<string, number>>
  /** Requests sent to Stripe, retries included. */
  readonly requests: number
  /** Sessions of the account in quarantine after the run (failed, to be retried by later runs). */
  readonly quarantinedCount: number
  /** The first 1,000 of them, by session id. */
  readonly quarantined: ReadonlyArray<Quarantined>
  /** Sessions this run took out of quarantine (they were recorded this time). */
  readonly released: number
  readonly warnings: ReadonlyArray<string>
  readonly errors: ReadonlyArray<{
    readonly sessionId: string | null
    /** The error's `_tag`. */
    readonly tag: string
    readonly message: string
  }>
}

/** Progress of a running job, reported after every page. */
export interface Progress {
  readonly phase: "events" | "sessions" | "sweep"
  readonly pages: number
  readonly examined: number
  readonly repaired: number
  readonly started: number
  readonly errors: number
}

const plural = (n: number, one: string, many = `${one}s`) =>
  `${n.toLocaleString("en")} ${n === 1 ? one : many}`

const outcome = (r: Report) =>
  r.stoppedBy === "interrupted"
    ? "INTERRUPTED (the counts are those of the run so far)"
    : r.stoppedBy !== null
      ? `STOPPED by ${r.stoppedBy} (the counts are those of the run so far)`
      : r.complete
        ? "complete"
        : "INCOMPLETE"

/** A value of a drift, short. */
const show = (value: unknown): string => {
  const text = JSON.stringify(value) ?? "undefined"
  return text.length > 60 ? `${text.slice(0, 57)}…` : text
}

/** The report as a few lines a person reads at a glance. */
export const renderReport = (r: Report): string => {
  const verb = r.dryRun ? "would be" : "were"
  const lines = [
    `${r.mode} reconciliation ${r.runId} of account ${r.account}${r.dryRun ? " (dry run: nothing written)" : ""}: ${outcome(r)}`,
    `  ${plural(r.examined, "session")} compared with Stripe in ${plural(r.requests, "request")}` +
      (r.mode === "incremental" ? `, after ${plural(r.eventsRead, "event")} read` : ""),
    `  ${plural(r.started, "session")} missing locally ${verb} recorded; ${plural(r.repaired, "session")} ${verb} repaired; ${r.unchanged.toLocaleString("en")} unchanged`,
  ]
  const byType = Object.entries(r.eventsByType).sort(([a], [b]) => (a < b ? -1 : 1))
  if (byType.length > 0) lines.push(`  events: ${byType.map(([t, n]) => `${t} ${n}`).join(", ")}`)
  if (r.mode === "incremental")
    lines.push(
      `  history from the Events API: ${plural(r.historyEvents, "event")} recorded, ${plural(r.historyAlreadyRecorded, "snapshot")} already recorded by webhooks; ${plural(r.scheduled, "open session")} re-read on schedule`,
    )
  const drifts = Object.entries(r.driftByKind).sort(([a], [b]) => (a < b ? -1 : 1))
  if (drifts.length > 0) lines.push(`  drift: ${drifts.map(([k, n]) => `${k} ${n}`).join(", ")}`)
  for (const repair of r.repairs.slice(0, 10)) {
    lines.push(`    ${repair.sessionId}: ${repair.events.join(" → ")}`)
    for (const d of repair.drift) lines.push(`      ${d.what}: ${show(d.from)} → ${show(d.to)}`)
  }
  if (r.repairs.length > 10) lines.push(`    … ${r.repairs.length - 10} more in the JSON report`)
  if (r.mode === "sweep" && r.stoppedBy !== null) {
    // The comparison stopped with the run: what it found so far, not a verdict.
    lines.push(
      `  ${plural(r.missingRemotelyCount, "local session")} found missing at Stripe before the run stopped`,
    )
  } else if (r.mode === "sweep") {
    lines.push(
      r.missingRemotelyCount === 0
        ? "  no local session is missing at Stripe"
        : `  ${plural(r.missingRemotelyCount, "local session")} missing at Stripe (left as they are): ${r.missingRemotely.slice(0, 10).join(", ")}${r.missingRemotely.length > 10 ? ", …" : ""}`,
    )
  }
  if (r.released > 0) lines.push(`  ${plural(r.released, "session")} released from quarantine`)
  if (r.quarantinedCount > 0) {
    lines.push(`  ${plural(r.quarantinedCount, "session")} in quarantine (retried by the next runs):`)
    for (const q of r.quarantined.slice(0, 10))
      lines.push(`    ${q.sessionId}: ${q.errorTag}, ${plural(q.attempts, "attempt")}: ${q.message}`)
    if (r.quarantinedCount > 10) lines.push(`    … ${r.quarantinedCount - 10} more in the JSON report`)
  }
  for (const w of r.warnings) lines.push(`  warning: ${w}`)
  for (const e of r.errors.slice(0, 20))
    lines.push(`  error${e.sessionId === null ? "" : ` (${e.sessionId})`}: ${e.message}`)
  if (r.errors.length > 20) lines.push(`  … ${r.errors.length - 20} more errors in the JSON report`)
  return lines.join("\n")
}
