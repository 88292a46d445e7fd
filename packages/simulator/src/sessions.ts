/**
 * The VerificationSession: its data, its lifecycle and how it renders. The lifecycle follows
 * the fact sheet's transition table (stripe-identity.md §2.2–2.3); every function here is pure,
 * so the rules can be read and tested without a server.
 *
 * @module
 */

/** Session statuses, in the order their numeric codes use. */
export const STATUSES = ["requires_input", "processing", "verified", "canceled"] as const
/** A session status. */
export type Status = (typeof STATUSES)[number]
/** Redaction states; `null` means no redaction applies. */
export type Redaction = null | "processing" | "redacted"
/** Numeric redaction codes stored in the session table. */
export const REDACTIONS: ReadonlyArray<Redaction> = [null, "processing", "redacted"]

/** The identity event types the simulator emits. */
export const EVENT_TYPES = [
  "identity.verification_session.created",
  "identity.verification_session.processing",
  "identity.verification_session.verified",
  "identity.verification_session.requires_input",
  "identity.verification_session.canceled",
  "identity.verification_session.redacted",
] as const
/** An identity event type. */
export type EventType = (typeof EVENT_TYPES)[number]

/** Every `last_error.code` in Stripe's spec, with a user-facing reason the simulator uses. */
export const LAST_ERROR_REASONS: Readonly<Record<string, string>> = {
  abandoned: "The user began the verification but did not submit it.",
  consent_declined: "The user declined to be verified by Stripe.",
  country_not_supported: "Stripe does not verify users from the provided country.",
  device_not_supported: "The user's device does not have a camera or camera permissions were declined.",
  document_expired: "The provided identity document has expired.",
  document_type_not_supported: "The provided identity document is not one of the allowed types.",
  document_unverified_other: "Stripe could not verify the provided identity document.",
  email_unverified_other: "Stripe could not verify the provided email address.",
  email_verification_declined: "The user could not verify the provided email address.",
  id_number_insufficient_document_data:
    "The provided document does not contain enough data to match the ID number.",
  id_number_mismatch: "The information provided could not be matched against global databases.",
  id_number_unverified_other: "Stripe could not verify the provided ID number.",
  phone_unverified_other: "Stripe could not verify the provided phone number.",
  phone_verification_declined: "The user could not verify the provided phone number.",
  selfie_document_missing_photo: "The provided identity document did not contain a picture of a face.",
  selfie_face_mismatch: "The captured face image did not match the document's face.",
  selfie_manipulated: "The captured face image was manipulated.",
  selfie_unverified_other: "Stripe could not verify the provided selfie.",
  under_supported_age: "Stripe does not verify users under the age of majority.",
}

/** `options.document` as the API accepts and returns it. */
export interface DocumentOptions {
  allowed_types?: Array<"driving_license" | "id_card" | "passport">
  require_id_number?: boolean
  require_live_capture?: boolean
  require_matching_selfie?: boolean
}

/** `verified_outputs`, the personal data a passed check yields. */
export interface VerifiedOutputs {
  address: {
    city: string | null
    country: string | null
    line1: string | null
    line2: string | null
    postal_code: string | null
    state: string | null
  } | null
  dob: { day: number | null; month: number | null; year: number | null } | null
  email: string | null
  first_name: string | null
  id_number: string | null
  id_number_type: "br_cpf" | "sg_nric" | "us_ssn" | null
  last_name: string | null
  phone: string | null
  sex: "[redacted]" | "female" | "male" | "unknown" | null
}

/** Everything about a session except the few fields the session table keeps in columns. */
export interface SessionRecord {
  type: "document" | "id_number" | "verification_flow"
  client_reference_id: string | null
  metadata: Record<string, string>
  options: { document?: DocumentOptions }
  provided_details: { email?: string; phone?: string } | null
  related_customer: string | null
  related_customer_account: string | null
  related_person: { account: string; person: string } | null
  verification_flow: string | null
  return_url: string | null
  last_error: { code: string | null; reason: string | null } | null
  /** Index of the latest verification report (its id is minted from this), or null. */
  report: number | null
  report_created: number | null
  verified_outputs: VerifiedOutputs | null
  /** Submission attempts so far; a failed attempt issues a fresh client_secret and url. */
  attempts: number
}

/** A session's full state: the record plus its status and redaction. */
export interface SessionState {
  readonly status: Status
  readonly redaction: Redaction
  readonly record: SessionRecord
}

/** An action on a session, from the API (cancel, redact, update) or the end user (control API). */
export type SessionAction =
  | { readonly kind: "update"; readonly apply: (record: SessionRecord) => void }
  | { readonly kind: "cancel" }
  | { readonly kind: "redact" }
  | { readonly kind: "submit" }
  | {
      readonly kind: "pass"
      readonly outputs: VerifiedOutputs
      readonly report: number
      readonly now: number
    }
  | {
      readonly kind: "fail"
      readonly code: string
      readonly reason: string
      readonly report: number
      readonly now: number
    }
  | { readonly kind: "finish_redaction" }

/** The outcome of an action: the new state and the events it emits, or why it is refused. */
export type Transition =
  | { readonly ok: true; readonly state: SessionState; readonly events: ReadonlyArray<EventType> }
  | { readonly ok: false; readonly reason: string }

/** Which statuses each action is allowed from (fact sheet §2.3). */
export const ALLOWED_FROM: Readonly<Record<SessionAction["kind"], ReadonlyArray<Status>>> = {
  update: ["requires_input"],
  cancel: ["requires_input"],
  redact: ["requires_input", "verified"],
  submit: ["requires_input"],
  pass: ["processing"],
  fail: ["processing"],
  finish_redaction: ["requires_input", "processing", "verified", "canceled"],
}

const copyRecord = (r: SessionRecord): SessionRecord => ({
  ...r,
  metadata: { ...r.metadata },
  options: r.options.document ? { document: { ...r.options.document } } : {},
})

const REDACTED = "[redacted]"

/** Replaces personal values with `[redacted]` and erases metadata, as Stripe's redact does. */
export const redactRecord = (r: SessionRecord): SessionRecord => {
  const out = copyRecord(r)
  out.metadata = {}
  if (r.provided_details) {
    const pd: { email?: string; phone?: string } = {}
    if (r.provided_details.email !== undefined) pd.email = REDACTED
    if (r.provided_details.phone !== undefined) pd.phone = REDACTED
    out.provided_details = pd
  }
  const v = r.verified_outputs
  if (v) {
    const s = (x: string | null): string | null => (x === null ? null : REDACTED)
    out.verified_outputs = {
      address: v.address && {
        city: s(v.address.city),
        country: s(v.address.country),
        line1: s(v.address.line1),
        line2: s(v.address.line2),
        postal_code: s(v.address.postal_code),
        state: s(v.address.state),
      },
      // Integers cannot hold "[redacted]"; Stripe's schema makes each part nullable.
      dob: v.dob && { day: null, month: null, year: null },
      email: s(v.email),
      first_name: s(v.first_name),
      id_number: s(v.id_number),
      id_number_type: v.id_number_type,
      last_name: s(v.last_name),
      phone: s(v.phone),
      sex: v.sex === null ? null : "[redacted]",
    }
  }
  return out
}

/**
 * Applies an action to a session. Pure: the input is not modified.
 *
 * Event choices follow the fact sheet: updates emit nothing (Stripe has no `*.updated` Identity
 * event); redacting a `requires_input` session cancels it and emits `canceled` now and
 * `redacted` when the redaction finishes.
 */
export const transition = (state: SessionState, action: SessionAction): Transition => {
  const allowed = ALLOWED_FROM[action.kind]
  if (action.kind === "finish_redaction") {
    if (state.redaction !== "processing")
      return { ok: false, reason: "there is no redaction in progress on this VerificationSession" }
    return {
      ok: true,
      state: { ...state, redaction: "redacted" },
      events: ["identity.verification_session.redacted"],
    }
  }
  if (state.redaction !== null && (action.kind === "update" || action.kind === "redact"))
    return {
      ok: false,
      reason: "it has been redacted, and redacted objects cannot be updated or used for any purpose",
    }
  if (!allowed.includes(state.status)) return { ok: false, reason: `it has a status of ${state.status}` }
  const record = copyRecord(state.record)
  switch (action.kind) {
    case "update":
      action.apply(record)
      return { ok: true, state: { ...state, record }, events: [] }
    case "cancel":
      return {
        ok: true,
        state: { ...state, status: "canceled", record },
        events: ["identity.verification_session.canceled"],
      }
    case "redact": {
      const redacted = redactRecord(record)
      if (state.status === "requires_input")
        return {
          ok: true,
          state: { status: "canceled", redaction: "processing", record: redacted },
          events: ["identity.verification_session.canceled"],
        }
      return { ok: true, state: { ...state, redaction: "processing", record: redacted }, events: [] }
    }
    case "submit":
      record.attempts += 1
      return {
        ok: true,
        state: { ...state, status: "processing", record },
        events: ["identity.verification_session.processing"],
      }
    case "pass":
      record.verified_outputs = action.outputs
      record.last_error = null
      record.report = action.report
      record.report_created = action.now
      return {
        ok: true,
        state: { ...state, status: "verified", record },
        events: ["identity.verification_session.verified"],
      }
    case "fail":
      record.last_error = { code: action.code, reason: action.reason }
      record.report = action.report
      record.report_created = action.now
      return {
        ok: true,
        state: { ...state, status: "requires_input", record },
        events: ["identity.verification_session.requires_input"],
      }
  }
}
