/**
 * The heart of a run: a session as Stripe answered becomes an authoritative `Observe` (source
 * `reconciler`, Stripe's time), and the store's `handle` lets the domain decide, with the run's
 * id as actor, causation and correlation. A dry run asks `handle` the same question with
 * `dryRun`, and nothing is written.
 *
 * Whatever makes one session fail, the run goes on: the session is counted and quarantined
 * (`runState.quarantine`), later runs retry it, and the first that records it releases it. Only a
 * refused API key is not one session's failure: it ends the run.
 *
 * @since 0.1.0
 */
import type { Observe } from "@idtrail/domain"
import type { DatabaseError, HandleResult } from "@idtrail/store"
import { Effect } from "effect"
import type { StripeAuthRefused } from "./errors.ts"
import type { Run } from "./run.ts"
import type { ChangeEvent, Observation } from "./stripe-api.ts"

const isOneSessions = <E extends { readonly _tag: string }>(
  error: E,
): error is Exclude<E, StripeAuthRefused> => error._tag !== "StripeAuthRefused"

/** A session failed: counted, and (unless dry) quarantined. A quarantine that cannot be written ends the page. */
const failed = (run: Run, sessionId: string, error: { readonly _tag: string; readonly message: string }) =>
  Effect.suspend(() => {
    run.tally.failed(sessionId, error)
    if (run.dryRun) return Effect.void
    run.tally.quarantined(sessionId, run.runId, error)
    return run.store.runState.quarantine({
      account: run.account,
      sessionId,
      runId: run.runId,
      errorTag: error._tag,
      message: error.message,
    })
  })

/** A session recorded: released from quarantine if it was there. */
const succeeded = (run: Run, sessionId: string): Effect.Effect<void, DatabaseError> =>
  Effect.suspend(() => {
    if (run.dryRun || !run.tally.quarantine.has(sessionId)) return Effect.void
    run.tally.releasedFromQuarantine(sessionId)
    return run.store.runState.release(run.account, sessionId)
  })

/** Runs `work` on one session; any failure but a refused key is the session's, and the run goes on. */
const forSession = <E extends { readonly _tag: string; readonly message: string }>(
  run: Run,
  sessionId: string,
  work: Effect.Effect<void, E>,
) =>
  Effect.matchEffect(work, {
    onSuccess: () => succeeded(run, sessionId),
    onFailure: (error): Effect.Effect<void, DatabaseError | Extract<E, StripeAuthRefused>> =>
      isOneSessions(error)
        ? failed(run, sessionId, error)
        : Effect.fail(error as Extract<E, StripeAuthRefused>),
  })

/** The command context of everything a run records: the run is actor, causation and correlation. */
const byRun = (run: Run) =>
  ({
    actor: { kind: "reconciler", id: run.runId },
    causationId: run.runId,
    correlationId: run.runId,
  }) as const

/** Counts what `handle` did (or would do) for one session. */
const counted = (run: Run, sessionId: string, result: HandleResult) => {
  switch (result._tag) {
    case "EventsAppended":
      return run.tally.observed(sessionId, result.events, result.nextVersion === result.events.length)
    case "WouldAppend":
      return run.tally.observed(sessionId, result.events, result.version === 0)
    default:
      return run.tally.observed(sessionId, [], false)
  }
}

const record = (run: Run, { session, observedAt }: Observation) =>
  Effect.map(
    run.store.handle(
      session.id,
      { _tag: "Observe", session, source: "reconciler", observedAt } satisfies Observe,
      byRun(run),
      { dryRun: run.dryRun },
    ),
    (result) => counted(run, session.id, result),
  )

/**
 * Stripe's past snapshots of one session (`events_api`, in Stripe's order), each with its event's
 * id: a webhook of the same event, earlier or later, is then `AlreadyRecorded`. Their events are
 * kept for the session's count; the read of the present that follows counts the session once.
 */
const replay = (run: Run, events: ReadonlyArray<ChangeEvent>) =>
  Effect.forEach(
    events,
    (e) =>
      e.snapshot === null
        ? Effect.void
        : Effect.map(
            run.store.handle(
              e.sessionId,
              {
                _tag: "Observe",
                session: e.snapshot,
                source: "events_api",
                observedAt: e.created,
                stripeEventId: e.id,
                stripeEventType: e.type,
              } satisfies Observe,
              byRun(run),
              { dryRun: run.dryRun },
            ),
            (result) => run.tally.replayed(e.sessionId, result),
          ),
    { discard: true },
  )

/** Observes a session as listed by Stripe. */
export const observe = (run: Run, observation: Observation) =>
  forSession(run, observation.session.id, record(run, observation))

/** Reads one session from Stripe and observes it. */
export const retrieveAndObserve = (run: Run, sessionId: string) =>
  forSession(
    run,
    sessionId,
    Effect.flatMap(run.stripe.retrieve(sessionId), (observation) => record(run, observation)),
  )

/**
 * Reads one session's present from Stripe, then records its history from the Events API
 * (`events`, oldest first) and the read: the history first, so the read of the present cannot
 * make the past stale. A read that fails records nothing, history included: the quarantine
 * brings the session back whole.
 */
export const replayAndObserve = (run: Run, sessionId: string, events: ReadonlyArray<ChangeEvent>) =>
  forSession(
    run,
    sessionId,
    Effect.flatMap(run.stripe.retrieve(sessionId), (observation) =>
      Effect.andThen(replay(run, events), record(run, observation)),
    ),
  )
