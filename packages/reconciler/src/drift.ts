/**
 * What drifted in one repaired session, read off the events the repair recorded: the statuses and
 * fields that differed (before → after), and the kinds of drift a report counts.
 *
 * @since 0.2.0
 */
import { type SessionEvent, statusEnteredBy, transitions } from "@idtrail/domain"

/** One difference between the local record and Stripe: what it was, and what it is now. */
export interface Difference {
  /** `status`, `redaction`, or a tracked field's name (`metadata`, `lastError`, …). */
  readonly what: string
  readonly from: unknown
  readonly to: unknown
}

/** The status a transition into `status` leaves: the lifecycle has one for every status a repair enters. */
const predecessorOf = (status: string): string | null =>
  transitions.find((t) => t.to === status && t.from !== null)?.from ?? null

/** Keeps the first `from` and the last `to` of each `what`, in order of first appearance. */
const merge = (differences: ReadonlyArray<Difference>): Array<Difference> => {
  const byWhat = new Map<string, Difference>()
  for (const d of differences) {
    const seen = byWhat.get(d.what)
    byWhat.set(d.what, seen === undefined ? d : { ...seen, to: d.to })
  }
  return [...byWhat.values()].filter((d) => JSON.stringify(d.from) !== JSON.stringify(d.to))
}

const differencesIn = (event: SessionEvent): ReadonlyArray<Difference> => {
  // A late step is history only: the present never differed, so it is no drift.
  if ("late" in event && event.late === true) return []
  switch (event._tag) {
    case "SessionResynced":
      return [
        { what: "status", from: event.local.status, to: event.remote.status },
        ...(Object.keys(event.remote) as Array<keyof typeof event.remote>)
          .filter((k) => k !== "status" && JSON.stringify(event.local[k]) !== JSON.stringify(event.remote[k]))
          .map((k) => ({ what: k, from: event.local[k], to: event.remote[k] })),
      ]
    case "SessionUpdated":
      return event.changes.map((c) => ({ what: c.field, from: c.from, to: c.to }))
    case "RedactionStarted":
      return [{ what: "redaction", from: null, to: event.redactionStatus }]
    case "SessionRedacted":
      return [{ what: "redaction", from: "processing", to: "redacted" }]
    default: {
      const entered = event._tag === "SessionStarted" ? undefined : statusEnteredBy(event)
      return entered === undefined ? [] : [{ what: "status", from: predecessorOf(entered), to: entered }]
    }
  }
}

/**
 * The differences a repair's events record, one per status, redaction or field (first before,
 * last after). A session started by the repair (missing locally) has none: all of it was missing.
 */
export const driftOf = (events: ReadonlyArray<SessionEvent>): Array<Difference> =>
  events[0]?._tag === "SessionStarted" ? [] : merge(events.flatMap(differencesIn))
