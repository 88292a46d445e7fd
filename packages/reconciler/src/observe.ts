/**
 * The heart of a run: a session as Stripe answered becomes an authoritative `Observe` (source
 * `reconciler`, Stripe's time, the run's account), and the store's `handle` lets the domain decide, with the run's
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
import { Effect, Result } from "effect"
import type { StripeAuthRefused } from "./errors.ts"
import type { Run } from "./run.ts"
import type { ChangeEvent, Observation } from "./stripe-api.ts"
import { keepVerifiedOutput, keepVerifiedOutputs } from "./vault.ts"

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

/** A failure of one session's work: the session's, unless it is a refused key, which ends the run. */
const failedWith = <E extends { readonly _tag: string; readonly message: string }>(
  run: Run,
  sessionId: string,
  error: E,
): Effect.Effect<void, DatabaseError | Extract<E, StripeAuthRefused>> =>
  isOneSessions(error) ? failed(run, sessionId, error) : Effect.fail(error as Extract<E, StripeAuthRefused>)

/** Runs `work` on one session; any failure but a refused key is the session's, and the run goes on. */
const forSession = <E extends { readonly _tag: string; readonly message: string }>(
  run: Run,
  sessionId: string,
  work: Effect.Effect<void, E>,
) =>
  Effect.matchEffect(work, {
    onSuccess: () => succeeded(run, sessionId),
    onFailure: (error) => failedWith(run, sessionId, error),
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

/** What the store decides (and, unless dry, appends) for a read of the present; nothing counted yet. */
const decide = (run: Run, { session, observedAt }: Observation) =>
  run.store.handle(
    session.id,
    { _tag: "Observe", session, source: "reconciler", observedAt, account: run.account } satisfies Observe,
    byRun(run),
    { dryRun: run.dryRun },
  )

const record = (run: Run, observation: Observation) =>
  Effect.map(decide(run, observation), (result) => counted(run, observation.session.id, result))

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
                account: run.account,
              } satisfies Observe,
              byRun(run),
              { dryRun: run.dryRun },
            ),
            (result) => run.tally.replayed(e.sessionId, result),
          ),
    { discard: true },
  )

/**
 * Observes a page of listed sessions, `concurrency` of them at the store at once, so their
 * appends share the store's group commits. Only the store's work overlaps: what the run counts,
 * quarantines and releases is settled afterwards in the page's order, so the report (its lists,
 * its errors) is the serial one's whatever order the appends finished in. It returns once every
 * session of the page is done, so a cursor saved after it never passes an unfinished session.
 */
export const observePage = (run: Run, observations: ReadonlyArray<Observation>, concurrency: number) =>
  Effect.gen(function* () {
    const results = yield* Effect.forEach(
      observations,
      (observation) => Effect.result(decide(run, observation)),
      {
        concurrency,
      },
    )
    // The vault (when on): the recorded sessions' verified outputs, kept once each. Its failures
    // are known before anything is settled, so such a session is quarantined, never released first.
    const vaultFailures = new Map(
      (yield* keepVerifiedOutputs(
        run,
        observations.filter((_, i) => Result.isSuccess(results[i]!)),
        concurrency,
      )).map((f) => [f.sessionId, f.error] as const),
    )
    yield* Effect.forEach(
      results,
      (result, i) => {
        const sessionId = observations[i]!.session.id
        if (Result.isFailure(result)) return failedWith(run, sessionId, result.failure)
        counted(run, sessionId, result.success)
        const vaultError = vaultFailures.get(sessionId)
        return vaultError === undefined ? succeeded(run, sessionId) : failedWith(run, sessionId, vaultError)
      },
      { discard: true },
    )
  })

/** Reads one session from Stripe and observes it. */
export const retrieveAndObserve = (run: Run, sessionId: string) =>
  forSession(
    run,
    sessionId,
    Effect.flatMap(run.stripe.retrieve(sessionId), (observation) =>
      Effect.andThen(record(run, observation), keepVerifiedOutput(run, observation)),
    ),
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
      Effect.andThen(replay(run, events), record(run, observation)).pipe(
        Effect.andThen(keepVerifiedOutput(run, observation)),
      ),
    ),
  )
