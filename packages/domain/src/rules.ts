/**
 * How an observation is decided, as an ordered list of named rules (design.md §3). The package
 * README's rule table lists the same names in the same order, and `decider.spec.test.ts` has one
 * specification per rule.
 *
 * @since 0.1.0
 */
import { defaultAccount } from "./account.ts"
import { isInStripeOrder } from "./commands.ts"
import { AccountMismatch, SessionMismatch } from "./errors.ts"
import type { FieldChange, SessionEvent } from "./events.ts"
import { isRedacted, jsonEqual, redactionRank, type SessionFacts, trackedFields as tracked } from "./facts.ts"
import { isTerminal, pathBetween, transitions } from "./lifecycle.ts"
import { type Observation, proceed, refuse, rule, stop, type Verdict } from "./observation.ts"
import { erasedValue, mapPersonalEvent } from "./personal.ts"
import { isKnownSessionStatus } from "./session.ts"
import { accountOf, newestKnownAt } from "./state.ts"
import { placeLateStep, statusAnnouncedBy, stepEventType, stepKind } from "./steps.ts"

/** How a step was learned: `since` for a filled-in one, `late` and `confirms` for a late one. */
type Knowledge = { readonly since?: number; readonly late?: boolean; readonly confirms?: number }

/** The transition event that moves a session into `to` (a step of a legal path). */
const transitionInto = (to: string, o: Observation, knowledge: Knowledge = {}): SessionEvent => {
  const { sessionId, at, remote } = o
  switch (to) {
    case "processing":
      return { _tag: "SessionSubmitted", sessionId, at, ...knowledge }
    case "verified":
      return {
        _tag: "SessionVerified",
        sessionId,
        at,
        ...knowledge,
        lastVerificationReport: remote.lastVerificationReport,
      }
    case "requires_input":
      return {
        _tag: "VerificationFailed",
        sessionId,
        at,
        ...knowledge,
        code: remote.lastError?.code ?? null,
        reason: remote.lastError?.reason ?? null,
        lastVerificationReport: remote.lastVerificationReport,
      }
    default:
      return { _tag: "SessionCanceled", sessionId, at, ...knowledge }
  }
}

/** Whether the observation is Stripe's own event of the step into its status (not a read, not a jump). */
const announcesItsStatus = (o: Observation): boolean =>
  !o.authoritative && statusAnnouncedBy(o.stripeEventType) === o.remote.status

const changedFields = (local: SessionFacts, remote: SessionFacts): Array<FieldChange> =>
  tracked.flatMap((field) =>
    jsonEqual(local[field], remote[field]) ? [] : [{ field, from: local[field], to: remote[field] }],
  )

/** `masked` for an event recording `fields`: the masked paths that belong to them, if any. */
const maskedFor = (o: Observation, fields: ReadonlyArray<string>): { masked?: ReadonlyArray<string> } => {
  const masked = o.masked.filter((path) => fields.includes(path.split(".")[0] ?? path))
  return masked.length === 0 ? {} : { masked }
}

const updated = (o: Observation, changes: ReadonlyArray<FieldChange>): SessionEvent => ({
  _tag: "SessionUpdated",
  sessionId: o.sessionId,
  at: o.at,
  changes,
  ...maskedFor(
    o,
    changes.map((c) => c.field),
  ),
})

/** A refresh is asked for once; while one is pending, the observation changes nothing. */
const needRefresh = (o: Observation, reason: "ambiguous_same_second" | "unknown_status"): Verdict =>
  o.before.needsRefresh
    ? stop()
    : stop({
        _tag: "RefreshNeeded",
        sessionId: o.sessionId,
        at: o.at,
        reason,
        observedStatus: o.remote.status,
      })

const statusMoved = (o: Observation): boolean => o.remote.status !== o.local.status

/** The shortest legal path from the local status to the observed one; none for unknown statuses. */
const legalPath = (o: Observation): ReadonlyArray<string> | undefined =>
  isKnownSessionStatus(o.local.status) && isKnownSessionStatus(o.remote.status)
    ? pathBetween(o.local.status, o.remote.status)
    : undefined

const resynced = (o: Observation): boolean => o.events.some((e) => e._tag === "SessionResynced")

/**
 * In the second of the last change or of the newest authoritative read: for a webhook, which came
 * last is unknown.
 */
const inLastKnownSecond = (o: Observation): boolean =>
  o.at === o.before.lastChangeAt || o.at === o.before.confirmedAt

const isAmbiguousPair = (a: string, b: string): boolean =>
  (a === "requires_input" && b === "processing") || (a === "processing" && b === "requires_input")

/** An observation of another session belongs to another stream: `SessionMismatch`. */
const otherSession = rule("otherSession", (o) =>
  o.before.sessionId !== null && o.before.sessionId !== o.sessionId
    ? refuse(
        new SessionMismatch({
          expected: o.before.sessionId,
          actual: o.sessionId,
          message: `an observation of ${o.sessionId} was sent to the stream of ${o.before.sessionId}`,
        }),
      )
    : proceed(),
)

/**
 * A session belongs to the account it was first seen through: an observation through another
 * account (another platform key, or another connected account) is refused, `AccountMismatch`.
 */
const otherAccount = rule("otherAccount", (o) => {
  const recorded = accountOf(o.before)
  return recorded !== null && recorded !== o.account
    ? refuse(
        new AccountMismatch({
          sessionId: o.sessionId,
          recorded,
          observed: o.account,
          message: `${o.sessionId} is recorded under account ${recorded}; an observation through account ${o.account} cannot change it`,
        }),
      )
    : proceed()
})

/** The `SessionStarted` of an observation's snapshot (first knowledge, or a late creation). */
const startedBy = (o: Observation, midLife: boolean) =>
  ({
    _tag: "SessionStarted",
    sessionId: o.sessionId,
    at: o.at,
    source: o.source,
    stripeEventType: o.stripeEventType,
    midLife,
    facts: o.remote,
    ...(o.masked.length === 0 ? {} : { masked: o.masked }),
    // "default" is the absence of an account: its events read as they did before accounts.
    ...(o.account === defaultAccount ? {} : { account: o.account }),
  }) as const

/** First knowledge starts the session at the observed status, however far along it is. */
const firstKnowledge = rule("firstKnowledge", (o) => {
  if (o.before.facts !== null) return proceed()
  const { sessionId, at, remote } = o
  const events: Array<SessionEvent> = [
    startedBy(
      o,
      !(
        remote.status === "requires_input" &&
        remote.lastError === null &&
        remote.lastVerificationReport === null
      ),
    ),
  ]
  if (o.outputs.length > 0 && !isRedacted(remote.redactionStatus))
    events.push({ _tag: "VerifiedOutputsCaptured", sessionId, at, fields: o.outputs })
  if (!o.authoritative && !isKnownSessionStatus(remote.status))
    events.push({
      _tag: "RefreshNeeded",
      sessionId,
      at,
      reason: "unknown_status",
      observedStatus: remote.status,
    })
  return stop(...events)
})

/**
 * A step that cannot follow the present in the same second: a creation, or a status no legal
 * path reaches from the present one (a terminal status was already recorded).
 */
const cannotFollow = (o: Observation): boolean =>
  o.stripeEventType === stepEventType(o.remote.status, true) ||
  (statusMoved(o) &&
    isKnownSessionStatus(o.local.status) &&
    isKnownSessionStatus(o.remote.status) &&
    pathBetween(o.local.status, o.remote.status) === undefined)

/**
 * Stripe's own event of a step, older than what the state knows (a webhook retried after a later
 * step, an Events API snapshot older than the last change; or in the same second, when it cannot
 * follow the present): recorded as that step with `late`, history only, when the timeline lacks
 * it; replacing the step filled in for it (`confirms`) when there is one. Already there (by any
 * path), or older than the timeline reaches: nothing. After a redaction began, a
 * late step's personal values are recorded erased: the redaction took them.
 */
const lateStep = rule("lateStep", (o) => {
  const newest = newestKnownAt(o.before)
  if (newest === null || !announcesItsStatus(o)) return proceed()
  const timeline = o.before.timeline ?? undefined
  const kind = stepKind(o.remote.status, o.stripeEventType)
  if (o.at > newest || (o.at === newest && !cannotFollow(o))) return proceed()
  const place = placeLateStep(timeline, kind, o.at)
  if (place._tag === "known" || place._tag === "unknown") return stop()
  const knowledge = { late: true, ...(place._tag === "confirms" ? { confirms: place.at } : {}) }
  const event: SessionEvent =
    o.stripeEventType !== stepEventType(o.remote.status, true)
      ? transitionInto(o.remote.status, o, knowledge)
      : { ...startedBy(o, false), ...knowledge }
  return stop(isRedacted(o.current.redactionStatus) ? mapPersonalEvent(event, () => erasedValue) : event)
})

/**
 * Older than the last change or the newest authoritative read handled (`confirmedAt`, which moves
 * even when a read changes nothing): a late or replayed delivery, or a slow read. Nothing,
 * whatever the source.
 */
const stale = rule("stale", (o) =>
  o.at < (newestKnownAt(o.before) ?? Number.NEGATIVE_INFINITY) ? stop() : proceed(),
)

/** A terminal session only hears about its past from webhooks. */
const terminalWebhook = rule("terminalWebhook", (o) =>
  !o.authoritative && statusMoved(o) && isKnownSessionStatus(o.local.status) && isTerminal(o.local.status)
    ? stop()
    : proceed(),
)

/** A webhook with a status we cannot place (unknown on either side) asks for a read. */
const unknownStatusWebhook = rule("unknownStatusWebhook", (o) =>
  !o.authoritative && statusMoved(o) && legalPath(o) === undefined
    ? needRefresh(o, "unknown_status")
    : proceed(),
)

/**
 * requires_input ⇄ processing in the second of the last change: which came last is unknown. Not
 * for the Events API's snapshots: they are replayed in Stripe's order, so the later one is last.
 */
const ambiguousSameSecond = rule("ambiguousSameSecond", (o) =>
  !o.authoritative &&
  !isInStripeOrder(o.source) &&
  inLastKnownSecond(o) &&
  isAmbiguousPair(o.local.status, o.remote.status)
    ? needRefresh(o, "ambiguous_same_second")
    : proceed(),
)

/**
 * Stripe's event of a step into the present status, newer than the timeline's steps into it: the
 * session left that status and came back (processing → requires_input → processing) unseen.
 */
const isNewCycle = (o: Observation): boolean => {
  const timeline = o.before.timeline
  return (
    timeline != null &&
    announcesItsStatus(o) &&
    stepKind(o.remote.status, o.stripeEventType) === o.remote.status &&
    !timeline.steps.some((s) => s.kind === o.remote.status && s.at >= o.at)
  )
}

/** The shortest way out of `status` and back into it, if there is one. */
const cycleThrough = (status: string): ReadonlyArray<string> | undefined =>
  transitions
    .filter((t) => t.from === status && t.to !== status)
    .flatMap((t) => {
      const back = pathBetween(t.to, status)
      return back === undefined ? [] : [[t.to, ...back]]
    })
    .sort((a, b) => a.length - b.length)[0]

/**
 * A status reachable by a legal path: one transition per step, missed steps filled in. A step
 * not seen happening (every missed one; the last too when a read or another event showed it)
 * says since when it may have been taken (`since`), so its real step, arriving late, replaces it.
 */
const statusPath = rule("statusPath", (o) => {
  const path = statusMoved(o) ? legalPath(o) : isNewCycle(o) ? cycleThrough(o.remote.status) : undefined
  if (path === undefined) return proceed()
  const since = { since: newestKnownAt(o.before) ?? o.remote.created }
  const seen = announcesItsStatus(o)
  return proceed(
    ...path.map((step, i) => transitionInto(step, o, seen && i === path.length - 1 ? {} : since)),
  )
})

/** An authoritative read that no legal path explains wins, and both sides are kept. */
const resync = rule("resync", (o) =>
  o.authoritative && statusMoved(o) && legalPath(o) === undefined
    ? proceed({
        _tag: "SessionResynced",
        sessionId: o.sessionId,
        at: o.at,
        source: o.source,
        local: o.local,
        remote: o.remote,
        ...(o.masked.length === 0 ? {} : { masked: o.masked }),
      })
    : proceed(),
)

/**
 * A snapshot that first shows a redaction also shows every change made before it: nothing can
 * change a redacted session but the erasure of its metadata. Those changes are recorded first, so
 * the redaction cannot hide them. An emptied metadata is left to `trackedFields`: it is the erasure.
 */
const changesBeforeRedaction = rule("changesBeforeRedaction", (o) => {
  if (resynced(o) || isRedacted(o.current.redactionStatus) || !isRedacted(o.remote.redactionStatus))
    return proceed()
  const changes = changedFields(o.current, o.remote).filter(
    (c) => !(c.field === "metadata" && Object.keys(o.remote.metadata).length === 0),
  )
  return changes.length === 0 ? proceed() : proceed(updated(o, changes))
})

/** Redaction only moves forward, even against an authoritative read: Stripe never un-redacts. */
const redactionAxis = rule("redactionAxis", (o) => {
  const { sessionId, at } = o
  const current = o.current.redactionStatus
  const observed = o.remote.redactionStatus
  if (resynced(o) || observed === null || redactionRank(observed) <= redactionRank(current)) return proceed()
  if (observed !== "redacted")
    return proceed({ _tag: "RedactionStarted", sessionId, at, redactionStatus: observed })
  return isRedacted(current)
    ? proceed({ _tag: "SessionRedacted", sessionId, at })
    : proceed(
        { _tag: "RedactionStarted", sessionId, at, redactionStatus: "processing" },
        { _tag: "SessionRedacted", sessionId, at },
      )
})

/**
 * Tracked fields that differ are an update with both sides. After a redaction the only metadata
 * change recorded is its erasure; a same-second webhook with nothing else to say is ambiguous.
 */
const trackedFields = rule("trackedFields", (o) => {
  if (resynced(o)) return proceed()
  const redacted = isRedacted(o.current.redactionStatus)
  const changes = changedFields(o.current, o.remote).filter(
    (c) => !(redacted && c.field === "metadata" && Object.keys(o.remote.metadata).length > 0),
  )
  if (changes.length === 0) return proceed()
  if (!o.authoritative && !isInStripeOrder(o.source) && inLastKnownSecond(o) && o.events.length === 0)
    return needRefresh(o, "ambiguous_same_second")
  return proceed(updated(o, changes))
})

/** Verified outputs, by name only, when the set differs from the last capture; never after a redaction. */
const verifiedOutputs = rule("verifiedOutputs", (o) =>
  o.outputs.length > 0 &&
  !isRedacted(o.current.redactionStatus) &&
  !jsonEqual(o.outputs, o.state.capturedOutputs)
    ? proceed({ _tag: "VerifiedOutputsCaptured", sessionId: o.sessionId, at: o.at, fields: o.outputs })
    : proceed(),
)

/** An authoritative read settles what a `RefreshNeeded` left open. */
const refreshCompleted = rule("refreshCompleted", (o) =>
  o.authoritative && o.before.needsRefresh
    ? proceed({ _tag: "RefreshCompleted", sessionId: o.sessionId, at: o.at, source: o.source })
    : proceed(),
)

/** The rules, in the order they are applied. */
export const observationRules = [
  otherSession,
  otherAccount,
  firstKnowledge,
  lateStep,
  stale,
  terminalWebhook,
  unknownStatusWebhook,
  ambiguousSameSecond,
  statusPath,
  resync,
  changesBeforeRedaction,
  redactionAxis,
  trackedFields,
  verifiedOutputs,
  refreshCompleted,
] as const

/** The name of an observation rule. */
export type ObservationRuleName = (typeof observationRules)[number]["name"]
