/**
 * A session's steps: the statuses Stripe moved it into, and when. The state keeps a short timeline
 * of the steps its history records, so a step that arrives late (a webhook retried after a later
 * step, an Events API snapshot older than the last change) is recorded only when the history
 * lacks it, and a step that was filled in (a read or a webhook jumped over it) is replaced by the
 * real one rather than recorded twice. `stepsInStripeOrder` reads a history back as an auditor
 * compares it with Stripe's events.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import type { SessionEvent } from "./events.ts"
import { pathBetween, transitions } from "./lifecycle.ts"

/**
 * One step: Stripe moved the session into a status at `at`. `kind` is that status, or `created`
 * for the first `requires_input` (so a creation and a failed check in one second are two steps).
 * With `since`, the step was filled in: Stripe took it at some time in `[since, at]`, and `at` is
 * when it was seen.
 */
export const Step = Schema.Struct({
  kind: Schema.String,
  at: Schema.Int,
  since: Schema.optionalKey(Schema.Int),
})
export type Step = typeof Step.Type

/**
 * The last `timelineLimit` steps the history records, by Stripe time (ties: as recorded).
 * `cutAt`: steps at or before this Stripe time may have been dropped to keep it short; `null`:
 * none were.
 */
export const Timeline = Schema.Struct({
  steps: Schema.Array(Step),
  cutAt: Schema.NullOr(Schema.Int),
})
export type Timeline = typeof Timeline.Type

/** How many steps a state keeps. Older late steps are left to what the history holds already. */
export const timelineLimit = 32

export const emptyTimeline: Timeline = { steps: [], cutAt: null }

const createdType = "identity.verification_session.created"

/** The event type with which Stripe announces a move into `status` (`created` for the first). */
export const stepEventType = (status: string, first: boolean): string | undefined =>
  transitions.find((t) => t.to === status && (first ? t.from === null : t.from !== null))?.webhook

/**
 * The status a Stripe event type announces a step into, when it announces one
 * (`identity.verification_session.redacted` does not).
 */
export const statusAnnouncedBy = (eventType: string | null | undefined): string | undefined =>
  eventType === null || eventType === undefined
    ? undefined
    : transitions.find((t) => t.webhook === eventType)?.to

/** The kind of step Stripe's event of type `eventType` announces into `status`. */
export const stepKind = (status: string, eventType: string | null | undefined): string =>
  eventType === createdType ? "created" : status

/** The status a step of `kind` enters. */
export const statusOfKind = (kind: string): string => (kind === "created" ? "requires_input" : kind)

const enteredBy = {
  SessionSubmitted: "processing",
  SessionVerified: "verified",
  VerificationFailed: "requires_input",
  SessionCanceled: "canceled",
} as const

const withConfirms = (step: Step, event: { readonly confirms?: number | undefined }) =>
  event.confirms === undefined ? { step } : { step, confirms: event.confirms }

/** The step an event records, if it records one, and the `at` of the filled-in step it replaces. */
export const stepOf = (event: SessionEvent): { step: Step; confirms?: number } | undefined => {
  switch (event._tag) {
    case "SessionStarted": {
      const { status, created, lastError, lastVerificationReport } = event.facts
      const fresh = status === "requires_input" && lastError === null && lastVerificationReport === null
      const kind = fresh ? "created" : status
      // First knowledge is the step itself only when Stripe's event of that step brought it.
      const real =
        event.stripeEventType !== null &&
        stepKind(status, event.stripeEventType) === kind &&
        statusAnnouncedBy(event.stripeEventType) === status
      return withConfirms(
        { kind, at: event.at, ...(real ? {} : { since: Math.min(created, event.at) }) },
        event,
      )
    }
    case "SessionSubmitted":
    case "SessionVerified":
    case "VerificationFailed":
    case "SessionCanceled":
      return withConfirms(
        {
          kind: enteredBy[event._tag],
          at: event.at,
          ...(event.since === undefined ? {} : { since: event.since }),
        },
        event,
      )
    case "SessionResynced":
      return { step: { kind: event.remote.status, at: event.at } }
    default:
      return undefined
  }
}

const isFilledIn = (step: { readonly since?: number | undefined }): boolean => step.since !== undefined

/**
 * The usual case, on the hot path of every fold, without allocating more than the new step: a
 * transition after the others, confirming nothing, with room left. `undefined` otherwise.
 */
const appended = (timeline: Timeline, event: SessionEvent): Timeline | undefined => {
  switch (event._tag) {
    case "SessionSubmitted":
    case "SessionVerified":
    case "VerificationFailed":
    case "SessionCanceled": {
      const steps = timeline.steps
      const n = steps.length
      if (event.confirms !== undefined || n >= timelineLimit || (n > 0 && steps[n - 1]!.at > event.at))
        return undefined
      const kind = enteredBy[event._tag]
      const step: Step =
        event.since === undefined ? { kind, at: event.at } : { kind, at: event.at, since: event.since }
      const next = steps.slice()
      next.push(step)
      return { steps: next, cutAt: timeline.cutAt }
    }
    default:
      return undefined
  }
}

/**
 * The timeline once `event` is recorded: its step inserted by Stripe time (after the steps of the
 * same second already there), the filled-in step it confirms removed, the oldest dropped past
 * `timelineLimit`.
 */
export const recordStep = (timeline: Timeline, event: SessionEvent): Timeline => {
  const fast = appended(timeline, event)
  if (fast !== undefined) return fast
  const recorded = stepOf(event)
  if (recorded === undefined) return timeline
  const steps = [...timeline.steps]
  if (recorded.confirms !== undefined) {
    const i = steps.findIndex(
      (s) => isFilledIn(s) && s.kind === recorded.step.kind && s.at === recorded.confirms,
    )
    if (i >= 0) steps.splice(i, 1)
  }
  let at = steps.length
  while (at > 0 && steps[at - 1]!.at > recorded.step.at) at--
  steps.splice(at, 0, recorded.step)
  if (steps.length <= timelineLimit) return { steps, cutAt: timeline.cutAt }
  const dropped = steps.splice(0, steps.length - timelineLimit)
  const cutAt = Math.max(timeline.cutAt ?? Number.NEGATIVE_INFINITY, ...dropped.map((s) => s.at))
  return { steps, cutAt }
}

/**
 * Where a step of `kind` at `at`, older than what the state knows, belongs:
 * - `known`: the timeline holds it (recorded already, by whatever path);
 * - `unknown`: older than the timeline reaches (or no timeline): nothing can be said, nothing is
 *   recorded;
 * - `confirms`: it is the real step of one that was filled in (same kind, seen at `confirms`,
 *   taken in `[since, confirms]`): recorded, replacing it;
 * - `missing`: the history lacks it: recorded.
 */
export type LatePlace =
  | { readonly _tag: "known" }
  | { readonly _tag: "unknown" }
  | { readonly _tag: "confirms"; readonly at: number }
  | { readonly _tag: "missing" }

export const placeLateStep = (timeline: Timeline | undefined, kind: string, at: number): LatePlace => {
  if (timeline === undefined || (timeline.cutAt !== null && at <= timeline.cutAt)) return { _tag: "unknown" }
  if (timeline.steps.some((s) => !isFilledIn(s) && s.kind === kind && s.at === at)) return { _tag: "known" }
  const filled = timeline.steps.find((s) => isFilledIn(s) && s.kind === kind && s.since! <= at && at <= s.at)
  return filled === undefined ? { _tag: "missing" } : { _tag: "confirms", at: filled.at }
}

/** A recorded step, as `stepsInStripeOrder` hands it back. */
export interface RecordedStep<E extends SessionEvent = SessionEvent> {
  /** The status entered (`requires_input` for a creation). */
  readonly status: string
  /** `created`, or the status. */
  readonly kind: string
  readonly at: number
  /** Filled in and never confirmed: Stripe took it at some time in `[since, at]`. */
  readonly since?: number
  readonly event: E
}

/**
 * The steps a history records, in Stripe's order: by Stripe time; a filled-in step that a real one
 * confirmed is left out (the real one stands for it), and a filled-in step taken before a
 * confirmed one of its jump sits before it. This is how an auditor compares a history with
 * Stripe's events: late steps sit where they happened. Steps of one second keep the order they
 * were recorded in unless that order is illegal (a creation not first, an edge the lifecycle
 * lacks): then the first legal order is taken. Same-second steps learned out of order can still
 * be ambiguous (see the README).
 */
export const stepsInStripeOrder = <E extends SessionEvent>(events: Iterable<E>): Array<RecordedStep<E>> => {
  const steps: Array<RecordedStep<E> & { replacedBy?: number; sortAt: number }> = []
  for (const event of events) {
    const recorded = stepOf(event)
    if (recorded === undefined) continue
    if (recorded.confirms !== undefined) {
      const filled = steps.find(
        (s) =>
          s.replacedBy === undefined &&
          isFilledIn(s) &&
          s.kind === recorded.step.kind &&
          s.at === recorded.confirms,
      )
      if (filled !== undefined) filled.replacedBy = recorded.step.at
    }
    const { kind, at, since } = recorded.step
    steps.push({
      status: statusOfKind(kind),
      kind,
      at,
      ...(since === undefined ? {} : { since }),
      event,
      sortAt: at,
    })
  }
  // The steps of one jump were filled in together, in order: one before a step whose real time
  // is known was taken before that time.
  let bound = Number.POSITIVE_INFINITY
  for (let k = steps.length - 1; k >= 0; k--) {
    const s = steps[k]!
    const next = steps[k + 1]
    const sameJump = next !== undefined && isFilledIn(s) && next.since === s.since && next.at === s.at
    if (!sameJump) bound = Number.POSITIVE_INFINITY
    if (s.replacedBy !== undefined) bound = Math.min(bound, s.replacedBy)
    else if (bound < s.at) s.sortAt = bound
  }
  const kept = steps
    .flatMap(({ replacedBy, sortAt, ...s }, i) => (replacedBy === undefined ? [{ s, sortAt, i }] : []))
    .sort((a, b) => a.sortAt - b.sortAt || a.i - b.i)
  const ordered: Array<RecordedStep<E>> = []
  for (let i = 0; i < kept.length; ) {
    let j = i
    while (j < kept.length && kept[j]!.sortAt === kept[i]!.sortAt) j++
    ordered.push(
      ...inLegalOrder(
        kept.slice(i, j).map((k) => k.s),
        ordered.at(-1)?.status ?? null,
      ),
    )
    i = j
  }
  return ordered
}

/**
 * How far `steps`, entered from `from`, are from a legal path: the steps missing between them
 * (0: legal), a creation not first or an edge no path makes worth 100.
 */
const gaps = (from: string | null, steps: ReadonlyArray<RecordedStep>): number => {
  let missing = 0
  steps.forEach((s, k) => {
    const prev = k === 0 ? from : steps[k - 1]!.status
    if (s.kind === "created") missing += prev === null ? 0 : 100
    else if (prev === null || s.event._tag === "SessionResynced") return
    else if (prev === s.status) missing += 1
    else missing += (pathBetween(prev, s.status)?.length ?? 101) - 1
  })
  return missing
}

/**
 * One second's steps: as recorded when that is a legal path, else the order (of up to 6) with the
 * fewest steps missing between them, the first such in recording order.
 */
const inLegalOrder = <S extends RecordedStep>(
  group: ReadonlyArray<S>,
  from: string | null,
): ReadonlyArray<S> => {
  if (group.length < 2 || gaps(from, group) === 0 || group.length > 6) return group
  let best = group
  let fewest = gaps(from, group)
  for (const order of permutations(group)) {
    const missing = gaps(from, order)
    if (missing < fewest) [best, fewest] = [order, missing]
    if (fewest === 0) break
  }
  return best
}

function* permutations<S>(items: ReadonlyArray<S>): Generator<ReadonlyArray<S>> {
  if (items.length <= 1) {
    yield items
    return
  }
  for (let k = 0; k < items.length; k++) {
    const rest = [...items.slice(0, k), ...items.slice(k + 1)]
    for (const tail of permutations(rest)) yield [items[k]!, ...tail]
  }
}

/**
 * The step a session was in at Stripe time `at`, as far as the history knows now (late steps
 * included): the last of `stepsInStripeOrder` at or before `at`. For "state at a time" on
 * Stripe's clock, where folding in stream order would miss a step recorded late.
 */
export const stepAt = <E extends SessionEvent>(
  events: Iterable<E>,
  at: number,
): RecordedStep<E> | undefined =>
  stepsInStripeOrder(events)
    .filter((s) => s.at <= at)
    .at(-1)
