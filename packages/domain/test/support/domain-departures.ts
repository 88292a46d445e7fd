/**
 * Where the domain's VerificationSession schema deliberately departs from Stripe's JSON schema,
 * in one place, so the conformance and bad-input laws state their exceptions once.
 */

/**
 * Sub-schemas of an expanded `last_verification_report` that the domain keeps as opaque JSON
 * (personal data it never interprets): anything inside them is accepted and comes back untouched.
 */
export const opaqueInTheDomain: ReadonlyArray<string> = [
  "gelato_document_report",
  "gelato_email_report",
  "gelato_id_number_report",
  "gelato_phone_report",
  "gelato_selfie_report",
  "gelato_verification_report_options",
]

/** Fields Stripe's schema requires that the domain accepts missing (paths as `InvalidPayload` writes them). */
export const toleratedMissing: ReadonlySet<string> = new Set([
  // Events rendered at an API version older than the field lack it (session.ts).
  "related_customer_account",
  // Inside an expanded report, which the domain reads no further than its id.
  "last_verification_report.client_reference_id",
  "last_verification_report.type",
  "last_verification_report.verification_session",
])
