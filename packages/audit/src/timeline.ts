/**
 * A session's story as a person reads it: each recorded event with Stripe's time, our recorded
 * time, where it came from (a webhook, the Events API or a read by a reconciler run, an API read,
 * a local request), who caused it, and what changed, in words.
 *
 * @since 0.1.0
 */
import type { SessionEvent, SessionState } from "@idtrail/domain"
import type { RecordedEvent } from "@idtrail/store"

/** One line of a timeline. */
export interface TimelineEntry {
  readonly sessionId: string
  readonly version: number
  readonly position: number
  readonly type: SessionEvent["_tag"]
  /** Stripe's time of what the event describes. */
  readonly at: Date
  /** When idtrail recorded it. */
  readonly recordedAt: Date
  /** `webhook`, `events API (run …)`, `read (run …)`, `API read`, `local`. */
  readonly source: string
  /** `kind:id`: a service, a user, or a reconciler run. */
  readonly actor: string
  readonly stripeEventId: string | null
  /** What changed, in words. */
  readonly change: string
}

const value = (v: unknown): string => (typeof v === "string" ? v : (JSON.stringify(v) ?? "null"))

/** How a step was learned (late, filled in, confirming a filled-in one), when it says. */
const howLearned = (event: SessionEvent): string => {
  const e = event as { late?: boolean; since?: number; confirms?: number }
  const iso = (s: number) => new Date(s * 1000).toISOString()
  return (
    (e.late === true ? " (late: arrived after later steps; placed by Stripe time)" : "") +
    (e.since === undefined ? "" : ` (filled in: taken between ${iso(e.since)} and ${iso(event.at)})`) +
    (e.confirms === undefined ? "" : ` (confirms the step filled in at ${iso(e.confirms)})`)
  )
}

/** What an event changed, in a few words (no personal data: the log holds none). */
export const describeChange = (event: SessionEvent): string => describeEvent(event) + howLearned(event)

const describeEvent = (event: SessionEvent): string => {
  switch (event._tag) {
    case "SessionStarted":
      if (event.late === true) return `created ${event.facts.status}`
      return `first seen ${event.facts.status}${event.midLife ? " (mid-life: earlier history unknown)" : ""}${
        event.account === undefined ? "" : ` under account ${event.account}`
      }`
    case "SessionSubmitted":
      return "requires_input → processing (submitted)"
    case "SessionVerified":
      return "processing → verified"
    case "VerificationFailed":
      return `processing → requires_input: check failed (${event.code ?? "no code"})`
    case "SessionCanceled":
      return "→ canceled"
    case "SessionUpdated":
      return event.changes.map((c) => `${c.field}: ${value(c.from)} → ${value(c.to)}`).join("; ")
    case "RedactionStarted":
      return `redaction ${event.redactionStatus}`
    case "SessionRedacted":
      return "redacted"
    case "SessionResynced":
      return `resynced from ${event.source}: recorded ${event.local.status}, Stripe says ${event.remote.status}`
    case "VerifiedOutputsCaptured":
      return `verified outputs captured: ${event.fields.join(", ")}`
    case "RefreshNeeded":
      return `refresh needed (${event.reason}, observed ${event.observedStatus})`
    case "RefreshCompleted":
      return `refresh completed by ${event.source}`
    case "CancelRequested":
      return "cancel requested"
    case "RedactionRequested":
      return "redaction requested"
    case "UpdateRequested":
      return `update requested: ${
        ["metadata", "options", "type"]
          .filter((k) => k in event)
          .concat(event.providedDetailsFields)
          .join(", ") || "nothing"
      }`
    case "SessionErased":
      return `erased: ${event.reason}`
    case "VaultAccessed":
      return `vault read (${event.fields.join(", ")}): ${event.reason}`
    case "VerifiedOutputsVaulted":
      return `verified outputs vaulted: ${event.fields.join(", ")} until ${new Date(event.expiresAt * 1000).toISOString()}`
  }
}

/** Where an event came from, as a person says it. */
export const describeSource = (e: RecordedEvent): string => {
  const m = e.metadata
  if (m.source === "reconciler" && m.actor.kind === "reconciler")
    return `${m.stripeEventId === null ? "read" : "events API"} (run ${m.actor.id})`
  if (m.source === "api") return "API read"
  return m.source
}

/** The timeline entry of a recorded event. */
export const toTimelineEntry = (e: RecordedEvent): TimelineEntry => ({
  sessionId: e.streamId,
  version: e.streamVersion,
  position: e.position,
  type: e.event._tag,
  at: new Date(e.event.at * 1000),
  recordedAt: e.recordedAt,
  source: describeSource(e),
  actor: `${e.metadata.actor.kind}:${e.metadata.actor.id}`,
  stripeEventId: e.metadata.stripeEventId,
  change: describeChange(e.event),
})

/**
 * Text for a terminal: control characters (an escape sequence in merchant text could rewrite the
 * screen) are shown as `\u{…}` instead of being sent.
 */
export const terminalSafe = (text: string): string =>
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
  text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u{${c.charCodeAt(0).toString(16)}}`)

/** `2026-10-01 12:00:00Z` */
export const formatTime = (d: Date): string => `${d.toISOString().slice(0, 19).replace("T", " ")}Z`

const pad = (s: string, n: number) => (s.length >= n ? s : s + " ".repeat(n - s.length))

/** A timeline as aligned lines for a terminal. */
export const renderTimeline = (sessionId: string, entries: ReadonlyArray<TimelineEntry>): string => {
  if (entries.length === 0) return `${terminalSafe(sessionId)}: no events recorded`
  const header = ["v", "Stripe time", "recorded", "source", "actor", "type", "what changed"]
  const rows = entries.map((e) =>
    [String(e.version), formatTime(e.at), formatTime(e.recordedAt), e.source, e.actor, e.type, e.change].map(
      terminalSafe,
    ),
  )
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : pad(c, widths[i]!)))
      .join("  ")
      .trimEnd()
  return [
    `${terminalSafe(sessionId)}: ${entries.length} event${entries.length === 1 ? "" : "s"}`,
    line(header),
    ...rows.map(line),
  ].join("\n")
}

/** A session's state (as folded at some time) for a terminal: the facts that matter first. */
export const renderState = (sessionId: string, at: Date, clock: string, state: SessionState): string => {
  const facts = state.facts
  const lines = [
    `${terminalSafe(sessionId)} at ${formatTime(at)} (${clock} clock): ${facts === null ? "not known yet" : facts.status}`,
    `  version ${state.version}`,
  ]
  if (facts !== null) {
    lines.push(
      `  type ${facts.type}, livemode ${facts.livemode}, created ${formatTime(new Date(facts.created * 1000))}`,
    )
    if (facts.lastError !== null) lines.push(`  last error ${terminalSafe(value(facts.lastError))}`)
    if (facts.redactionStatus !== null) lines.push(`  redaction ${facts.redactionStatus}`)
    const metadata = Object.entries(facts.metadata)
    if (metadata.length > 0)
      lines.push(`  metadata ${metadata.map(([k, v]) => terminalSafe(`${k}=${v}`)).join(", ")}`)
  }
  return lines.join("\n")
}
