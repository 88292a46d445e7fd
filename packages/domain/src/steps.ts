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
import { transitions } from "./lifecycle.ts"

/**
 * One step: Stripe moved the session into `status` at `at`. With `since`, the step was filled in:
 * Stripe took it at some time in `[since, at]`, and `at` is when it was seen.
 */
export const Step = Schema.Struct({
  status: Schema.String,
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

/** The step an event records, if it records one, and the filled-in step it replaces. */
export const stepOf = (event: SessionEvent): { step: Step; confirms?: number } | undefined => {
  switch (event._tag) {
    case "SessionStarted": {
      const { status, created } = event.facts
      // First knowledge is the step itself only when Stripe's event of that step brought it.
      const real = event.stripeEventType !== null && statusAnnouncedBy(event.stripeEventType) === status
      return withConfirms(
        { status, at: event.at, ...(real ? {} : { since: Math.min(created, event.at) }) },
        event,
      )
    }
    case "SessionSubmitted":
    case "SessionVerified":
    case "VerificationFailed":
    case "SessionCanceled":
      return withConfirms(
        {
          status: enteredBy[event._tag],
          at: event.at,
          ...(event.since === undefined ? {} : { since: event.since }),
        },
        event,
      )
    case "SessionResynced":
      return { step: { status: event.remote.status, at: event.at } }
    default:
      return undefined
  }
}

const enteredBy = {
  SessionSubmitted: "processing",
  SessionVerified: "verified",
  VerificationFailed: "requires_input",
  SessionCanceled: "canceled",
} as const

const withConfirms = (step: Step, event: { readonly confirms?: number | undefined }) =>
  event.confirms === undefined ? { step } : { step, confirms: event.confirms }

const isFilledIn = (step: Step): boolean => step.since !== undefined

/** The filled-in step of `status` seen at `at` that a real step confirms, if the timeline holds one. */
const confirmedIndex = (timeline: Timeline, status: string, at: number): number =>
  timeline.steps.findIndex((s) => isFilledIn(s) && s.status === status && s.at === at)

/**
 * The timeline once `event` is recorded: its step inserted by Stripe time (after the steps of the
 * same second already there), the filled-in step it confirms removed, the oldest dropped past
 * `timelineLimit`.
 */
export const recordStep = (timeline: Timeline, event: SessionEvent): Timeline => {
  const recorded = stepOf(event)
  if (recorded === undefined) return timeline
  const steps = [...timeline.steps]
  if (recorded.confirms !== undefined) {
    const i = confirmedIndex(timeline, recorded.step.status, recorded.confirms)
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
 * Where a step into `status` at `at`, older than what the state knows, belongs:
 * - `known`: the timeline holds it (recorded already, by whatever path);
 * - `unknown`: older than the timeline reaches (or no timeline): nothing can be said, nothing is
 *   recorded;
 * - `confirms`: it is the real step of one that was filled in (same status, seen at `confirms`,
 *   taken in `[since, confirms]`): recorded, replacing it;
 * - `missing`: the history lacks it: recorded.
 */
export type LatePlace =
  | { readonly _tag: "known" }
  | { readonly _tag: "unknown" }
  | { readonly _tag: "confirms"; readonly at: number }
  | { readonly _tag: "missing" }

export const placeLateStep = (timeline: Timeline | undefined, status: string, at: number): LatePlace => {
  if (timeline === undefined || (timeline.cutAt !== null && at <= timeline.cutAt)) return { _tag: "unknown" }
  if (timeline.steps.some((s) => !isFilledIn(s) && s.status === status && s.at === at))
    return { _tag: "known" }
  const filled = timeline.steps.find(
    (s) => isFilledIn(s) && s.status === status && s.since! <= at && at <= s.at,
  )
  return filled === undefined ? { _tag: "missing" } : { _tag: "confirms", at: filled.at }
}

/** A recorded step, as `stepsInStripeOrder` hands it back. */
export interface RecordedStep<E extends SessionEvent = SessionEvent> {
  readonly status: string
  readonly at: number
  /** Filled in and never confirmed: Stripe took it at some time in `[since, at]`. */
  readonly since?: number
  readonly event: E
}

/**
 * The steps a history records, in Stripe's order: by Stripe time; a filled-in step that a real one
 * confirmed is left out (the real one stands for it). This is how an auditor compares a history
 * with Stripe's events: late steps sit where they happened. Steps of one second keep the order
 * they were recorded in, unless a late one makes that order illegal: then the first order (by
 * recording) that is a legal path is taken, a creation always first. Two late steps of one
 * second can still be ambiguous; the Events API replays them in Stripe's order, which settles it.
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
          s.since !== undefined &&
          s.status === recorded.step.status &&
          s.at === recorded.confirms,
      )
      if (filled !== undefined) filled.replacedBy = recorded.step.at
    }
    steps.push({ ...recorded.step, event, sortAt: recorded.step.at })
  }
  // The steps of one jump were filled in together, in order: one whose later step's real time is
  // known was taken before it.
  let bound = Number.POSITIVE_INFINITY
  for (let k = steps.length - 1; k >= 0; k--) {
    const s = steps[k]!
    const next = steps[k + 1]
    const sameJump = next !== undefined && s.since !== undefined && next.since === s.since && next.at === s.at
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

const isCreation = (event: SessionEvent): boolean =>
  event._tag === "SessionStarted" &&
  statusAnnouncedBy(event.stripeEventType) === "requires_input" &&
  !event.midLife

const isLegal = (from: string | null, steps: ReadonlyArray<RecordedStep>): boolean =>
  steps.every((s, k) => {
    const prev = k === 0 ? from : steps[k - 1]!.status
    if (isCreation(s.event)) return k === 0 || prev === null
    if (prev === null || s.event._tag === "SessionResynced" || s.event._tag === "SessionStarted") return true
    return transitions.some((t) => t.from === prev && t.to === s.status)
  })

/** One second's steps: as recorded when legal, else the first legal order (small groups only). */
const inLegalOrder = <S extends RecordedStep>(
  group: ReadonlyArray<S>,
  from: string | null,
): ReadonlyArray<S> => {
  if (group.length < 2 || isLegal(from, group)) return group
  if (group.length > 6) return group
  for (const order of permutations(group)) if (isLegal(from, order)) return order
  return group
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
