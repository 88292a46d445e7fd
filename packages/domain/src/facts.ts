/**
 * The facts idtrail keeps about a session: everything Stripe tells us that is neither a secret
 * (`client_secret`, `url`) nor personal data (`verified_outputs`, `provided_details`, expanded
 * report contents). Events and projections hold facts, never raw snapshots.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { looksLikeSecret, maskedValue, maskMetadata } from "./secrets.ts"
import {
  LastError,
  RedactionStatus,
  RelatedPerson,
  SessionOptions,
  SessionStatus,
  SessionType,
  type VerificationSession,
  type VerifiedOutputs,
} from "./session.ts"

export const SessionFacts = Schema.Struct({
  status: SessionStatus,
  type: SessionType,
  livemode: Schema.Boolean,
  created: Schema.Int,
  clientReferenceId: Schema.NullOr(Schema.String),
  metadata: Schema.Record(Schema.String, Schema.String),
  options: Schema.NullOr(SessionOptions),
  lastError: Schema.NullOr(LastError),
  lastVerificationReport: Schema.NullOr(Schema.String),
  redactionStatus: Schema.NullOr(RedactionStatus),
  relatedCustomer: Schema.NullOr(Schema.String),
  relatedCustomerAccount: Schema.NullOr(Schema.String),
  relatedPerson: Schema.NullOr(RelatedPerson),
  verificationFlow: Schema.NullOr(Schema.String),
})
export type SessionFacts = typeof SessionFacts.Type

/** A snapshot's facts, and the paths whose secret-shaped merchant value was masked in them. */
export interface MaskedFacts {
  readonly facts: SessionFacts
  /** `clientReferenceId` and `metadata.<key>` paths, in that order; empty when nothing was masked. */
  readonly masked: ReadonlyArray<string>
}

/**
 * Extracts the facts from a snapshot; secrets and personal data are left behind. Merchant values
 * (metadata, `client_reference_id`) that look like a secret are replaced by `"[masked]"` rather
 * than refused: they are not ours to refuse, and must not enter the log either.
 */
export const maskedFactsOf = (session: VerificationSession): MaskedFacts => {
  const masked: Array<string> = []
  const reference = session.client_reference_id
  const clientReferenceId = reference !== null && looksLikeSecret(reference) ? maskedValue : reference
  if (clientReferenceId !== reference) masked.push("clientReferenceId")
  const facts: SessionFacts = {
    status: session.status,
    type: session.type,
    livemode: session.livemode,
    created: session.created,
    clientReferenceId,
    metadata: maskMetadata(session.metadata, masked),
    options: session.options,
    lastError: session.last_error,
    lastVerificationReport:
      session.last_verification_report === null
        ? null
        : typeof session.last_verification_report === "string"
          ? session.last_verification_report
          : session.last_verification_report.id,
    redactionStatus: session.redaction?.status ?? null,
    relatedCustomer: session.related_customer,
    relatedCustomerAccount: session.related_customer_account ?? null,
    relatedPerson: session.related_person ?? null,
    verificationFlow: session.verification_flow ?? null,
  }
  return { facts, masked }
}

/** The facts of a snapshot, as {@link maskedFactsOf} extracts them. */
export const factsOf = (session: VerificationSession): SessionFacts => maskedFactsOf(session).facts

/** Fields whose change (outside a status transition) is recorded as `SessionUpdated`. */
export const trackedFields = [
  "type",
  "clientReferenceId",
  "metadata",
  "options",
  "lastError",
  "lastVerificationReport",
  "relatedCustomer",
  "relatedCustomerAccount",
  "relatedPerson",
  "verificationFlow",
] as const
export type TrackedField = (typeof trackedFields)[number]

/** Deep equality of JSON values, insensitive to key order. */
export const jsonEqual = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  const ka = Object.keys(a)
  const kb = Object.keys(b)
  if (ka.length !== kb.length) return false
  for (const k of ka) {
    if (!Object.hasOwn(b, k)) return false
    if (!jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false
  }
  return true
}

/**
 * Redaction only moves forward: none → validated → processing → redacted. An unknown status
 * ranks just above "none", so it is recorded once but never overrides a known step.
 */
export const redactionRank = (status: string | null): number => {
  switch (status) {
    case null:
      return 0
    case "validated":
      return 2
    case "processing":
      return 3
    case "redacted":
      return 4
    default:
      return 1
  }
}

/** From "processing" on, the session's personal data is gone at Stripe and must go here too. */
export const isRedacted = (status: string | null): boolean => redactionRank(status) >= 3

/**
 * Names of the verified outputs a snapshot carries with a real value. Placeholders left by a
 * redaction (`[redacted]`) do not count.
 */
export const capturedOutputFields = (outputs: VerifiedOutputs | null | undefined): ReadonlyArray<string> => {
  if (outputs === null || outputs === undefined) return []
  const fields: Array<string> = []
  for (const [key, value] of Object.entries(outputs)) {
    if (value === null || value === undefined || value === "[redacted]") continue
    if (typeof value === "object" && Object.values(value).every((v) => v === null || v === "[redacted]"))
      continue
    fields.push(key)
  }
  return fields.sort()
}
