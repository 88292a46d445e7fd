/**
 * The VerificationSession exactly as Stripe's API (version 2026-07-29.dahlia) puts it on the
 * wire, as an Effect Schema. Field names stay in Stripe's snake_case so that a payload decodes
 * and encodes back to itself.
 *
 * Every Identity enum is open at Stripe (`x-stripeEnum.kind: "open"`): an unknown value decodes
 * and is kept, never rejected. Unknown extra fields are ignored, never an error.
 *
 * @since 0.1.0
 */
import { Schema, SchemaTransformation } from "effect"

/** An enum Stripe may extend: the known values are documented, any other string is kept. */
const openEnum = <const L extends ReadonlyArray<string>>(known: L) =>
  Schema.Union([Schema.Literals(known), Schema.String])

/** Statuses Stripe documents today. */
export const knownSessionStatuses = ["requires_input", "processing", "verified", "canceled"] as const
/** A documented session status. */
export type KnownSessionStatus = (typeof knownSessionStatuses)[number]
/** A session status as observed: a documented one, or an unknown one Stripe added later. */
export const SessionStatus = openEnum(knownSessionStatuses)
export type SessionStatus = typeof SessionStatus.Type

/** `true` for the four statuses whose meaning we know. */
export const isKnownSessionStatus = (status: string): status is KnownSessionStatus =>
  (knownSessionStatuses as ReadonlyArray<string>).includes(status)

export const knownSessionTypes = ["document", "id_number", "verification_flow"] as const
export const SessionType = openEnum(knownSessionTypes)

export const knownRedactionStatuses = ["processing", "redacted", "validated"] as const
export type KnownRedactionStatus = (typeof knownRedactionStatuses)[number]
export const RedactionStatus = openEnum(knownRedactionStatuses)

/** The documented `last_error.code` values (§1.3 of the fact sheet). */
export const knownErrorCodes = [
  "abandoned",
  "consent_declined",
  "country_not_supported",
  "device_not_supported",
  "document_expired",
  "document_type_not_supported",
  "document_unverified_other",
  "email_unverified_other",
  "email_verification_declined",
  "id_number_insufficient_document_data",
  "id_number_mismatch",
  "id_number_unverified_other",
  "phone_unverified_other",
  "phone_verification_declined",
  "selfie_document_missing_photo",
  "selfie_face_mismatch",
  "selfie_manipulated",
  "selfie_unverified_other",
  "under_supported_age",
] as const
export const ErrorCode = openEnum(knownErrorCodes)

export const LastError = Schema.Struct({
  code: Schema.NullOr(ErrorCode),
  reason: Schema.NullOr(Schema.String),
})
export type LastError = typeof LastError.Type

export const DocumentOptions = Schema.Struct({
  allowed_types: Schema.optionalKey(Schema.Array(openEnum(["driving_license", "id_card", "passport"]))),
  require_id_number: Schema.optionalKey(Schema.Boolean),
  require_live_capture: Schema.optionalKey(Schema.Boolean),
  require_matching_selfie: Schema.optionalKey(Schema.Boolean),
})

/**
 * `options.id_number` is an empty object in Stripe's schema. `Schema.Struct({})` would let any
 * non-null value through with its keys, so: require an object, keep none of its keys.
 */
const EmptyOptions = Schema.Record(Schema.String, Schema.Unknown).pipe(
  Schema.decodeTo(
    Schema.Struct({}),
    SchemaTransformation.transform({ decode: () => ({}), encode: (empty) => ({ ...empty }) }),
  ),
)

const RequireVerification = Schema.Struct({ require_verification: Schema.optionalKey(Schema.Boolean) })
const MatchingLevel = openEnum(["none", "similar"])

export const SessionOptions = Schema.Struct({
  document: Schema.optionalKey(DocumentOptions),
  email: Schema.optionalKey(RequireVerification),
  id_number: Schema.optionalKey(EmptyOptions),
  matching: Schema.optionalKey(
    Schema.Struct({ dob: Schema.optionalKey(MatchingLevel), name: Schema.optionalKey(MatchingLevel) }),
  ),
  phone: Schema.optionalKey(RequireVerification),
})
export type SessionOptions = typeof SessionOptions.Type

/** Personal data the user typed in. Never enters the event log. */
export const ProvidedDetails = Schema.Struct({
  email: Schema.optionalKey(Schema.String),
  phone: Schema.optionalKey(Schema.String),
})

export const Address = Schema.Struct({
  city: Schema.NullOr(Schema.String),
  country: Schema.NullOr(Schema.String),
  line1: Schema.NullOr(Schema.String),
  line2: Schema.NullOr(Schema.String),
  postal_code: Schema.NullOr(Schema.String),
  state: Schema.NullOr(Schema.String),
})

export const DateOfBirth = Schema.Struct({
  day: Schema.NullOr(Schema.Int),
  month: Schema.NullOr(Schema.Int),
  year: Schema.NullOr(Schema.Int),
})

/** Personal data Stripe verified. Only present when expanded; never enters the event log. */
export const VerifiedOutputs = Schema.Struct({
  address: Schema.NullOr(Address),
  dob: Schema.optionalKey(Schema.NullOr(DateOfBirth)),
  email: Schema.NullOr(Schema.String),
  first_name: Schema.NullOr(Schema.String),
  id_number: Schema.optionalKey(Schema.NullOr(Schema.String)),
  id_number_type: Schema.NullOr(openEnum(["br_cpf", "sg_nric", "us_ssn"])),
  last_name: Schema.NullOr(Schema.String),
  phone: Schema.NullOr(Schema.String),
  sex: Schema.optionalKey(Schema.NullOr(openEnum(["[redacted]", "female", "male", "unknown"]))),
  unparsed_place_of_birth: Schema.optionalKey(Schema.NullOr(Schema.String)),
  unparsed_sex: Schema.optionalKey(Schema.NullOr(Schema.String)),
})
export type VerifiedOutputs = typeof VerifiedOutputs.Type

export const RelatedPerson = Schema.Struct({ account: Schema.String, person: Schema.String })
export type RelatedPerson = typeof RelatedPerson.Type

export const Redaction = Schema.Struct({ status: RedactionStatus })

/**
 * An expanded `last_verification_report`. Its sub-reports hold personal data (names, dates,
 * document numbers); they are kept as opaque JSON and never enter the event log.
 */
export const VerificationReport = Schema.Struct({
  id: Schema.String,
  object: Schema.Literal("identity.verification_report"),
  created: Schema.Int,
  livemode: Schema.Boolean,
  client_reference_id: Schema.optionalKey(Schema.NullOr(Schema.String)),
  type: Schema.optionalKey(SessionType),
  verification_session: Schema.optionalKey(Schema.NullOr(Schema.String)),
  verification_flow: Schema.optionalKey(Schema.String),
  options: Schema.optionalKey(Schema.NullOr(Schema.Unknown)),
  document: Schema.optionalKey(Schema.Unknown),
  email: Schema.optionalKey(Schema.Unknown),
  id_number: Schema.optionalKey(Schema.Unknown),
  phone: Schema.optionalKey(Schema.Unknown),
  selfie: Schema.optionalKey(Schema.Unknown),
})

/**
 * Stripe's `identity.verification_session` object.
 *
 * `client_secret` and `url` are decoded because they are on the wire, but nothing in this
 * package copies them into an event. `provided_details` and `verified_outputs` are personal data
 * and likewise stay out of events.
 *
 * `related_customer_account` is required in the spec but optional here: events rendered at an
 * older API version (Stripe renders each event at the version it was created with) lack it.
 */
export const VerificationSession = Schema.Struct({
  id: Schema.String,
  object: Schema.Literal("identity.verification_session"),
  client_reference_id: Schema.NullOr(Schema.String),
  client_secret: Schema.NullOr(Schema.String),
  created: Schema.Int,
  last_error: Schema.NullOr(LastError),
  last_verification_report: Schema.NullOr(Schema.Union([Schema.String, VerificationReport])),
  livemode: Schema.Boolean,
  metadata: Schema.Record(Schema.String, Schema.String),
  options: Schema.NullOr(SessionOptions),
  provided_details: Schema.optionalKey(Schema.NullOr(ProvidedDetails)),
  redaction: Schema.NullOr(Redaction),
  related_customer: Schema.NullOr(Schema.String),
  related_customer_account: Schema.optionalKey(Schema.NullOr(Schema.String)),
  related_person: Schema.optionalKey(RelatedPerson),
  status: SessionStatus,
  type: SessionType,
  url: Schema.NullOr(Schema.String),
  verification_flow: Schema.optionalKey(Schema.String),
  verified_outputs: Schema.optionalKey(Schema.NullOr(VerifiedOutputs)),
})
/** A decoded VerificationSession. */
export type VerificationSession = typeof VerificationSession.Type
