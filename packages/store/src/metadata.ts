/**
 * What every stored event carries besides its data: where it came from and who caused it. This
 * is what auditors ask first ("who or what caused this change?").
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** Who caused a change: a service, a person, or a reconciler run. */
export const Actor = Schema.Struct({
  kind: Schema.Literals(["service", "user", "reconciler"]),
  /** The service's name, the user's id, or the reconciler run's id. */
  id: Schema.String.check(Schema.isMinLength(1)),
})
export type Actor = typeof Actor.Type

/**
 * Where what we learned came from: the domain's observation sources, or `local` for a local
 * intent (`RequestCancel`, `RequestRedact`, `RequestUpdate`).
 */
export const EventSource = Schema.Literals(["webhook", "events_api", "api", "reconciler", "local"])
export type EventSource = typeof EventSource.Type

/** The metadata stored with every event of an append. */
export const EventMetadata = Schema.Struct({
  source: EventSource,
  stripeEventId: Schema.NullOr(Schema.String),
  stripeEventType: Schema.NullOr(Schema.String),
  /** Stripe time (unix seconds) the observation or request describes. */
  observedAt: Schema.NullOr(Schema.Int),
  /** The id of what caused this append: a Stripe event, a command, a reconciler step. */
  causationId: Schema.NullOr(Schema.String),
  /** The id shared by everything one request or run caused. */
  correlationId: Schema.NullOr(Schema.String),
  actor: Actor,
  /**
   * The Stripe account of the session: its platform account's name or a connected account's
   * `acct_…`. Absent in events written before accounts: `"default"`.
   */
  account: Schema.optionalKey(Schema.String),
  /** The session's `livemode`. Absent in events written before accounts. */
  livemode: Schema.optionalKey(Schema.Boolean),
})
export type EventMetadata = typeof EventMetadata.Type

const sources: ReadonlySet<unknown> = new Set(EventSource.literals)
/** The actor kinds metadata may name (the schema's literals). */
export const actorKinds: ReadonlySet<unknown> = new Set(Actor.fields.kind.literals)

/** `metadata` with the session's account and mode, when both are known (local requests, vault and erasure records). */
export const withSessionAccount = (
  metadata: EventMetadata,
  account: string | null,
  livemode: unknown,
): EventMetadata =>
  account === null || typeof livemode !== "boolean" ? metadata : { ...metadata, account, livemode }
// The keys every metadata has, and with the two optional ones (account and livemode, written when the session's are known).
const allKeys = Object.keys(EventMetadata.fields).length
const requiredKeys = allKeys - 2
const nullOrString = (u: unknown): boolean => u === null || typeof u === "string"
const isRecord = (u: unknown): u is Record<string, unknown> => {
  if (typeof u !== "object" || u === null) return false
  const proto = Object.getPrototypeOf(u)
  return proto === Object.prototype || proto === null
}

/**
 * `true` only for metadata the schema takes exactly as it is: its seven required keys, or those and
 * `account` and `livemode`, and no other, each of the right type. Appends check this first, because the schema's decoder is several times slower
 * on the hottest path; anything else goes through `EventMetadata` itself, which decides (and says
 * what is wrong). A test holds this check to the schema.
 */
export const isExactMetadata = (u: unknown): u is EventMetadata => {
  if (!isRecord(u)) return false
  const m = u
  const actor = m.actor
  const keys = Object.keys(m).length
  return (
    (keys === requiredKeys ||
      (keys === allKeys && typeof m.account === "string" && typeof m.livemode === "boolean")) &&
    sources.has(m.source) &&
    nullOrString(m.stripeEventId) &&
    nullOrString(m.stripeEventType) &&
    (m.observedAt === null || Number.isSafeInteger(m.observedAt)) &&
    nullOrString(m.causationId) &&
    nullOrString(m.correlationId) &&
    isRecord(actor) &&
    Object.keys(actor).length === 2 &&
    actorKinds.has(actor.kind) &&
    typeof actor.id === "string" &&
    actor.id.length > 0
  )
}

/** What the caller of `handle` says about the command; the rest comes from the command itself. */
export interface CommandContext {
  readonly actor: Actor
  readonly causationId?: string | null
  readonly correlationId?: string | null
}
