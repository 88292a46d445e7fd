/**
 * The lifecycle of a session as events: what idtrail records. Every event names its session and
 * `at`, the Stripe time (unix seconds) of what it describes. No event holds a secret or a
 * personal value; `VerifiedOutputsCaptured` holds field names only.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { SessionFacts, trackedFields } from "./facts.ts"
import { ErrorCode, RedactionStatus, SessionOptions, SessionStatus } from "./session.ts"
import { SessionErased, VaultAccessed, VerifiedOutputsVaulted } from "./vault.ts"

/** Where an observation came from. Only `api` and `reconciler` reads are authoritative. */
export const Source = Schema.Literals(["webhook", "events_api", "api", "reconciler"])
export type Source = typeof Source.Type

const base = { sessionId: Schema.String, at: Schema.Int }

/**
 * The fact paths (`clientReferenceId`, `metadata.<key>`) whose secret-shaped merchant value was
 * recorded as `"[masked]"`. Absent when nothing was masked, as in events written before masking.
 */
const masked = Schema.optionalKey(Schema.Array(Schema.String))

/**
 * How a step was learned, on the events that record one (all optional: absent in events written
 * before late steps, which read as on time and seen happening).
 * - `late`: the step arrived after a later one was recorded (a webhook retried late, an Events
 *   API snapshot older than the last change). It is history only: the present stays as the newer
 *   knowledge says. Its place is its Stripe time `at` (`stepsInStripeOrder`).
 * - `since`: the step was filled in (a read or a webhook jumped over it): Stripe took it at some
 *   time in `[since, at]`, and `at` is when it was seen.
 * - `confirms`: this real step replaces the filled-in step of the same status seen at `confirms`.
 */
const stepKnowledge = {
  late: Schema.optionalKey(Schema.Boolean),
  since: Schema.optionalKey(Schema.Int),
  confirms: Schema.optionalKey(Schema.Int),
}

/**
 * First knowledge of a session. History may begin mid-life: `midLife` says so. `account` is the
 * Stripe account the session belongs to, as the observation named it; absent (events written
 * before accounts, or an observation naming none) it is `"default"`.
 */
export const SessionStarted = Schema.TaggedStruct("SessionStarted", {
  ...base,
  source: Source,
  stripeEventType: Schema.NullOr(Schema.String),
  midLife: Schema.Boolean,
  facts: SessionFacts,
  masked,
  account: Schema.optionalKey(Schema.String),
  late: stepKnowledge.late,
  confirms: stepKnowledge.confirms,
})

/** requires_input → processing: the user submitted. */
export const SessionSubmitted = Schema.TaggedStruct("SessionSubmitted", { ...base, ...stepKnowledge })

/** processing → verified: every check passed. */
export const SessionVerified = Schema.TaggedStruct("SessionVerified", {
  ...base,
  ...stepKnowledge,
  lastVerificationReport: Schema.NullOr(Schema.String),
})

/** processing → requires_input: a check failed, with Stripe's code and user-facing reason. */
export const VerificationFailed = Schema.TaggedStruct("VerificationFailed", {
  ...base,
  ...stepKnowledge,
  code: Schema.NullOr(ErrorCode),
  reason: Schema.NullOr(Schema.String),
  lastVerificationReport: Schema.NullOr(Schema.String),
})

/** requires_input → canceled. */
export const SessionCanceled = Schema.TaggedStruct("SessionCanceled", { ...base, ...stepKnowledge })

/** One tracked field's change, both sides recorded. */
export const FieldChange = Schema.Struct({
  field: Schema.Literals(trackedFields),
  from: Schema.Unknown,
  to: Schema.Unknown,
})
export type FieldChange = typeof FieldChange.Type

/** Tracked fields changed outside a status transition (Stripe emits no webhook for these). */
export const SessionUpdated = Schema.TaggedStruct("SessionUpdated", {
  ...base,
  changes: Schema.Array(FieldChange),
  masked,
})

/** Redaction began (`processing`), or the session joined a redaction job (`validated`). */
export const RedactionStarted = Schema.TaggedStruct("RedactionStarted", {
  ...base,
  redactionStatus: RedactionStatus,
})

/** Redaction finished: the session's personal data is gone, here as at Stripe. */
export const SessionRedacted = Schema.TaggedStruct("SessionRedacted", base)

/** An authoritative read contradicted local history; it wins, and both sides are kept. */
export const SessionResynced = Schema.TaggedStruct("SessionResynced", {
  ...base,
  source: Source,
  local: SessionFacts,
  remote: SessionFacts,
  masked,
})

/** Stripe returned verified outputs. Only the field names are recorded, never values. */
export const VerifiedOutputsCaptured = Schema.TaggedStruct("VerifiedOutputsCaptured", {
  ...base,
  fields: Schema.Array(Schema.String),
})

/** An observation could not be placed (same-second ambiguity, unknown status): read the API. */
export const RefreshNeeded = Schema.TaggedStruct("RefreshNeeded", {
  ...base,
  reason: Schema.Literals(["ambiguous_same_second", "unknown_status"]),
  observedStatus: SessionStatus,
})

/** An authoritative read settled what a `RefreshNeeded` left open. */
export const RefreshCompleted = Schema.TaggedStruct("RefreshCompleted", { ...base, source: Source })

/** A local intent, recorded before it is sent to Stripe. Stripe's answer is observed later. */
export const CancelRequested = Schema.TaggedStruct("CancelRequested", base)
export const RedactionRequested = Schema.TaggedStruct("RedactionRequested", base)
export const UpdateRequested = Schema.TaggedStruct("UpdateRequested", {
  ...base,
  metadata: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  options: Schema.optionalKey(Schema.NullOr(SessionOptions)),
  type: Schema.optionalKey(Schema.Literals(["document", "id_number"])),
  /** Which provided details the request sets; their values are personal and stay out. */
  providedDetailsFields: Schema.Array(Schema.Literals(["email", "phone"])),
  masked,
})

/** Every event of a session's stream. */
export const SessionEvent = Schema.Union([
  SessionStarted,
  SessionSubmitted,
  SessionVerified,
  VerificationFailed,
  SessionCanceled,
  SessionUpdated,
  RedactionStarted,
  SessionRedacted,
  SessionResynced,
  VerifiedOutputsCaptured,
  RefreshNeeded,
  RefreshCompleted,
  CancelRequested,
  RedactionRequested,
  UpdateRequested,
  SessionErased,
  VaultAccessed,
  VerifiedOutputsVaulted,
])
export type SessionEvent = typeof SessionEvent.Type
export type SessionEventType = SessionEvent["_tag"]

/**
 * The status a session is in after `event`, when the event moves or sets it; `undefined` for
 * events that leave the status alone. Audits and tests read histories as status paths with it.
 */
export const statusEnteredBy = (event: SessionEvent): string | undefined => {
  switch (event._tag) {
    case "SessionStarted":
      return event.facts.status
    case "SessionSubmitted":
      return "processing"
    case "SessionVerified":
      return "verified"
    case "VerificationFailed":
      return "requires_input"
    case "SessionCanceled":
      return "canceled"
    case "SessionResynced":
      return event.remote.status
    default:
      return undefined
  }
}
