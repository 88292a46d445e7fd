/**
 * Personal data, classified as data: every field of Stripe's VerificationSession is clear,
 * personal, or never stored (secrets, and personal data the log never holds). The store encrypts
 * the values at the personal fact paths with the session's key; erasure destroys that key.
 * Field *names* (metadata keys included), statuses, times, codes and ids stay clear, so audit
 * queries keep working.
 *
 * @since 0.1.0
 */
import type { FieldChange, SessionEvent } from "./events.ts"
import type { SessionFacts } from "./facts.ts"
import type { VerificationSession } from "./session.ts"

/** How a field of Stripe's session is treated. */
export type FieldClass =
  /** Kept as it is: not about a person (statuses, times, codes, ids, options). */
  | { readonly class: "clear" }
  /** Kept encrypted under the session's key, at `fact` (a path of the facts; `*` = every value of a record). */
  | { readonly class: "personal"; readonly fact: string }
  /** Never stored at all: secrets, and personal data the log leaves out (`why` says which). */
  | { readonly class: "never-stored"; readonly why: "secret" | "personal" }

const clear = { class: "clear" } as const
const personal = (fact: string) => ({ class: "personal", fact }) as const
const secret = { class: "never-stored", why: "secret" } as const
const neverStoredPersonal = { class: "never-stored", why: "personal" } as const

/**
 * Every field of `identity.verification_session` (API 2026-07-29.dahlia), by its path; an object
 * whose fields differ is listed field by field (`last_error.code`, `last_error.reason`). Tested
 * against Stripe's JSON schema: a field Stripe adds fails the test until it is classified here.
 */
export const sessionFieldClasses = {
  id: clear,
  object: clear,
  created: clear,
  livemode: clear,
  status: clear,
  type: clear,
  client_secret: secret,
  url: secret,
  /** The merchant's reference for the user: often a customer id, an email or a name. */
  client_reference_id: personal("clientReferenceId"),
  /** Values are merchant free text (names, emails); keys are field names and stay clear. */
  metadata: personal("metadata.*"),
  "last_error.code": clear,
  /** Stripe's user-facing reason; it can echo what the user typed. */
  "last_error.reason": personal("lastError.reason"),
  /** Kept as the report's id only; an expanded report's contents are never stored. */
  last_verification_report: clear,
  options: clear,
  redaction: clear,
  related_customer: clear,
  related_customer_account: clear,
  related_person: clear,
  verification_flow: clear,
  provided_details: neverStoredPersonal,
  verified_outputs: neverStoredPersonal,
} as const satisfies Readonly<Record<string, FieldClass>>

/** The fact paths holding personal values, derived from {@link sessionFieldClasses}. */
export const personalFactPaths: ReadonlyArray<string> = Object.values(sessionFieldClasses).flatMap((c) =>
  c.class === "personal" ? [c.fact] : [],
)

/** What an erased value reads as, wherever it is shown. */
export const erasedValue = "[erased]"

/** A transformation of one personal string value (encrypt, decrypt, erase). */
export type PersonalValueMap = (value: string) => string

const split = (path: string): ReadonlyArray<string> => path.split(".")

/** `value` with `f` applied to the strings at `path` (`*`: every value of a record); `null` stays. */
const mapAt = (value: unknown, path: ReadonlyArray<string>, f: PersonalValueMap): unknown => {
  if (path.length === 0 && typeof value === "string") return f(value)
  if (typeof value !== "object" || value === null || Array.isArray(value)) return value
  // A record at the end of the path: its values (metadata) are the personal strings.
  if (path.length === 0) return mapAt(value, ["*"], f)
  const [head, ...rest] = path as [string, ...Array<string>]
  const record = value as Record<string, unknown>
  // Built with fromEntries, not by assignment: a key named `__proto__` (metadata keys are the
  // merchant's) stays a key instead of setting the copy's prototype.
  if (head === "*") return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, mapAt(v, rest, f)]))
  if (!Object.hasOwn(record, head)) return value
  return { ...record, [head]: mapAt(record[head], rest, f) }
}

const factPaths = personalFactPaths.map(split)

/** Facts with `f` applied to every personal value. */
export const mapPersonalFacts = (facts: SessionFacts, f: PersonalValueMap): SessionFacts => {
  let out: unknown = facts
  for (const path of factPaths) out = mapAt(out, path, f)
  return out as SessionFacts
}

const mapFactsOrNull = (facts: SessionFacts | null, f: PersonalValueMap): SessionFacts | null =>
  facts === null ? null : mapPersonalFacts(facts, f)

/** A `SessionUpdated` change with `f` applied to both sides, when its field holds personal values. */
const mapChange = (change: FieldChange, f: PersonalValueMap): FieldChange => {
  let from = change.from
  let to = change.to
  for (const [head, ...rest] of factPaths) {
    if (head !== change.field) continue
    from = mapAt(from, rest, f)
    to = mapAt(to, rest, f)
  }
  return from === change.from && to === change.to ? change : { field: change.field, from, to }
}

/**
 * An event with `f` applied to every personal value it holds. Each event type is listed, so a
 * new one does not compile until its personal values are named.
 */
export const mapPersonalEvent = (event: SessionEvent, f: PersonalValueMap): SessionEvent => {
  switch (event._tag) {
    case "SessionStarted":
      return { ...event, facts: mapPersonalFacts(event.facts, f) }
    case "SessionResynced":
      return { ...event, local: mapPersonalFacts(event.local, f), remote: mapPersonalFacts(event.remote, f) }
    case "SessionUpdated":
      return { ...event, changes: event.changes.map((c) => mapChange(c, f)) }
    case "VerificationFailed":
      return event.reason === null ? event : { ...event, reason: f(event.reason) }
    case "UpdateRequested":
      return event.metadata === undefined
        ? event
        : { ...event, metadata: mapAt(event.metadata, ["*"], f) as Record<string, string> }
    case "SessionSubmitted":
    case "SessionVerified":
    case "SessionCanceled":
    case "RedactionStarted":
    case "SessionRedacted":
    case "VerifiedOutputsCaptured":
    case "RefreshNeeded":
    case "RefreshCompleted":
    case "CancelRequested":
    case "RedactionRequested":
    case "SessionErased":
    case "VaultAccessed":
    case "VerifiedOutputsVaulted":
      return event
  }
}

/** A state (or anything with `facts`) with `f` applied to every personal value of its facts. */
export const mapPersonalState = <S extends { readonly facts: SessionFacts | null }>(
  state: S,
  f: PersonalValueMap,
): S => (state.facts === null ? state : { ...state, facts: mapFactsOrNull(state.facts, f) })

/**
 * A Stripe snapshot with every personal value erased and the personal data never stored left
 * out, both by {@link sessionFieldClasses}: what an erased session's observations are decided
 * on, so an old payload brings nothing back.
 */
export const erasePersonalSession = (session: VerificationSession): VerificationSession => {
  const erase: PersonalValueMap = () => erasedValue
  let out: Record<string, unknown> = { ...session }
  for (const [field, c] of Object.entries(sessionFieldClasses) as Array<[string, FieldClass]>) {
    if (c.class === "personal") out = mapAt(out, split(field), erase) as Record<string, unknown>
    else if (c.class === "never-stored" && c.why === "personal") delete out[field]
  }
  return out as VerificationSession
}

/** Whether a Stripe snapshot carries any personal value (by {@link sessionFieldClasses}). */
export const sessionHoldsPersonal = (session: VerificationSession): boolean => {
  let found = false
  const note: PersonalValueMap = (v) => {
    found = true
    return v
  }
  for (const [field, c] of Object.entries(sessionFieldClasses) as Array<[string, FieldClass]>) {
    if (c.class === "personal") mapAt(session, split(field), note)
    if (found) return true
  }
  return false
}
