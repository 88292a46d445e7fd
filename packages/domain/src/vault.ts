/**
 * The events of an erasure and of the opt-in vault (the store keeps verified outputs and provided
 * details encrypted outside the log). They record who did what to a session's personal data and
 * why, never a personal value: field *names* only (`verified_outputs.first_name`). None changes
 * the session's present state; each only counts in its version.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

const base = { sessionId: Schema.String, at: Schema.Int }

/** A vault field's name: its kind and its field (`verified_outputs.dob`, `provided_details.email`). */
const FieldNames = Schema.Array(Schema.String)

/**
 * An operator erased the session's personal data (its key is destroyed), with their reason. Who
 * erased is the event's metadata actor, as for every event.
 */
export const SessionErased = Schema.TaggedStruct("SessionErased", {
  ...base,
  reason: Schema.String,
})

/** Someone read the session's vault, and why: which fields were returned (names, never values). */
export const VaultAccessed = Schema.TaggedStruct("VaultAccessed", {
  ...base,
  reason: Schema.String,
  fields: FieldNames,
})

/** Values were kept in the vault: which fields, until when (unix seconds) they are kept. */
export const VerifiedOutputsVaulted = Schema.TaggedStruct("VerifiedOutputsVaulted", {
  ...base,
  fields: FieldNames,
  expiresAt: Schema.Int,
})

/** The kinds of values the vault keeps, one row each per session. */
export const vaultKinds = ["verified_outputs", "provided_details"] as const
export type VaultKind = (typeof vaultKinds)[number]
